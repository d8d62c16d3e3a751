package pipeline

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// shellQuote quotes s as one POSIX shell word, leaving it bare when that is
// safe.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// groovyQuote writes s as a single-quoted Groovy string, which Groovy does
// not interpolate.
func groovyQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04x`, r)
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// groovyTriple writes s as a triple-single-quoted Groovy string, keeping its
// lines readable: only backslashes and the quotes that could end the string
// early are escaped.
func groovyTriple(s string) string {
	var b strings.Builder
	b.WriteString("'''")
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\'' && (i+1 == len(s) || s[i+1] == '\''):
			b.WriteString(`\'`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteString("'''")
	return b.String()
}

// YAML is built as yaml.v3 nodes, so the encoder does the quoting and keys
// keep the order they are added in.

func ystr(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if needsEscapes(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// needsEscapes reports whether s holds a character only a double-quoted
// YAML scalar writes unambiguously: yaml.v3 writes some strings holding
// line breaks or tabs as block scalars that read back differently (or not
// at all); YAML 1.1 parsers (GitLab's) break lines at NEL, LS and PS where
// YAML 1.2 ones do not; and a byte-order mark is easily lost.
func needsEscapes(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == '\u2028' || r == '\u2029' || r == '\ufeff' {
			return true
		}
	}
	return false
}

// yblock is a multi-line string in literal block style, when that style
// reads back as s: lines of printable text, the first not indented.
func yblock(s string) *yaml.Node {
	n := ystr(s)
	if !strings.Contains(s, "\n") || strings.HasPrefix(s, " ") || strings.HasPrefix(s, "\n") {
		return n
	}
	if !needsEscapes(strings.ReplaceAll(s, "\n", "")) {
		n.Style = yaml.LiteralStyle
	}
	return n
}

func ybool(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(b)}
}

func yint(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprint(i)}
}

func ynull() *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
}

// ylist is a block sequence of strings.
func ylist(ss ...string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range ss {
		n.Content = append(n.Content, ystr(s))
	}
	return n
}

// yflow is a flow sequence of strings: [a, b].
func yflow(ss ...string) *yaml.Node {
	n := ylist(ss...)
	n.Style = yaml.FlowStyle
	return n
}

func yseq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

// ymap starts a mapping; add pairs with set.
func ymap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

// set adds key: v to mapping m and returns m.
func set(m *yaml.Node, key string, v *yaml.Node) *yaml.Node {
	m.Content = append(m.Content, ystr(key), v)
	return m
}

// yenv is a mapping of environment variables.
func yenv(vars []envVar, value func(string) string) *yaml.Node {
	m := ymap()
	for _, v := range vars {
		set(m, v.name, ystr(value(v.value)))
	}
	return m
}

// encodeYAML writes the documents, the first headed by the comment lines.
func encodeYAML(header []string, docs ...*yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	e.SetIndent(2)
	for i, d := range docs {
		doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{d}}
		if i == 0 {
			doc.HeadComment = comment("#", header)
		}
		if err := e.Encode(doc); err != nil {
			return nil, fmt.Errorf("encoding YAML: %w", err)
		}
	}
	if err := e.Close(); err != nil {
		return nil, fmt.Errorf("encoding YAML: %w", err)
	}
	return b.Bytes(), nil
}

// comment prefixes every line with mark, leaving empty lines bare of
// trailing spaces. Whatever could end a comment early is replaced by '?':
// line breaks, and backslashes, since Groovy reads a \u000a escape as a
// line break even in a comment.
func comment(mark string, lines []string) string {
	out := make([]string, len(lines))
	for i, l := range lines {
		l = strings.Map(func(r rune) rune {
			if r == '\\' || r < 0x20 || r == 0x7f || r == 0x85 || r == '\u2028' || r == '\u2029' {
				return '?'
			}
			return r
		}, l)
		if l == "" {
			out[i] = mark
		} else {
			out[i] = mark + " " + l
		}
	}
	return strings.Join(out, "\n")
}
