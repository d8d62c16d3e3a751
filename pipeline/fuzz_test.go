package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/slipwayhq/slipway/templates"
	"gopkg.in/yaml.v3"
)

// FuzzGenerate puts value in one field of a small project (field picks one
// of hostileFields), checks it as config check does and, when it passes,
// generates the target (picked by target) and checks what holds for any
// value: generation does not panic and is deterministic, YAML parses, GitHub
// finds only the expressions Slipway writes and reads the environment
// literally, Drone and GitLab expand nothing of the value, and Groovy
// reads every value as a string literal, with no code outside the
// template's own. The committed corpus is in testdata/fuzz/FuzzGenerate.
func FuzzGenerate(f *testing.F) {
	for i, v := range hostileTemplates {
		f.Add(uint8(i), uint8(i), v)
	}
	f.Fuzz(func(t *testing.T, target, field uint8, value string) {
		if len(value) > 256 || !utf8.ValidString(value) {
			return // names this long say nothing new; YAML is UTF-8
		}
		tg := Targets[int(target)%len(Targets)]
		fl := hostileFields[int(field)%len(hostileFields)]
		c := defaultCase()
		fl.set(c, value)
		in, err := loadHostile(c, "/nonexistent/pwned")
		if err != nil {
			return // refused by config check; TestHostileValuesNeverRun checks where
		}
		files, err := Generate(tg, in)
		if err != nil {
			return // refused by Generate
		}
		again, err := Generate(tg, in)
		if err != nil || !bytes.Equal(joinFiles(files), joinFiles(again)) {
			t.Fatalf("%s: two runs on the same input differ (%v)", tg, err)
		}
		r := &hostileRun{label: fmt.Sprintf("%s=%q", fl.name, value), field: fl, c: c, in: in, files: map[Target][]File{tg: files}}
		for _, file := range files {
			checkFile(t, r, tg, file)
		}
	})
}

// checkFile checks what must hold of a generated file whatever the input.
func checkFile(t *testing.T, r *hostileRun, tg Target, file File) {
	t.Helper()
	text := string(file.Content)
	if !utf8.ValidString(text) {
		t.Fatalf("%s: %s is not UTF-8", r.label, file.Path)
	}
	switch tg {
	case Jenkinsfile, JenkinsJobDSL:
		strs, err := groovyLiterals(text)
		if err != nil {
			t.Fatalf("%s: %s: %v\n%s", r.label, file.Path, err, text)
		}
		if tg == Jenkinsfile && r.field.name == "env values" && !slices.Contains(strs, r.c.envValue) {
			t.Fatalf("%s: the Jenkinsfile does not hold the env value as a string literal", r.label)
		}
		return
	}
	dec := yaml.NewDecoder(strings.NewReader(text))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("%s: %s is not YAML: %v", r.label, file.Path, err)
			}
			break
		}
	}
	switch tg {
	case GitHub:
		// githubShells checks every expression, and the names.
		for _, s := range githubShells(t, r) {
			checkEnv(t, r, "github", s)
		}
	case Drone:
		if strings.Contains(strings.ReplaceAll(text, "$$", ""), "$") {
			t.Fatalf("%s: .drone.yml holds a '$' Drone would substitute:\n%s", r.label, text)
		}
		for _, s := range droneShells(t, r) {
			checkEnv(t, r, "drone", s)
		}
	case GitLab:
		for _, s := range gitlabShells(t, r) {
			checkEnv(t, r, "gitlab", s)
		}
	}
}

// checkEnv checks that a job that runs slipway gets ci.yaml's env values as
// written, after the CI system's own expansion.
func checkEnv(t *testing.T, r *hostileRun, system string, s shellRun) {
	t.Helper()
	if !runsSlipway.MatchString(s.script) && !strings.Contains(s.script, " --no-deps") {
		return
	}
	if envName.MatchString(r.c.envName) && s.env[r.c.envName] != r.c.envValue {
		t.Fatalf("%s: %s %s gets %s=%q, want %q", r.label, system, s.where, r.c.envName, s.env[r.c.envName], r.c.envValue)
	}
}

// groovyLiterals reads Groovy source as Groovy does (\uXXXX escapes first,
// even in comments), and returns its single-quoted string literals. Outside
// them and // comments only the templates' own code may appear: words,
// digits, spaces and { } ( ) [ ] , : =; a '$', a double quote, a backslash
// or any other character there would be code or a GString from a value.
func groovyLiterals(src string) ([]string, error) {
	src, err := withoutHelpers(src)
	if err != nil {
		return nil, err
	}
	src, err = groovyUnicode(src)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case strings.HasPrefix(src[i:], "//"):
			end := strings.IndexAny(src[i:], "\n\r")
			if end < 0 {
				return out, nil
			}
			i += end
		case c == '\'':
			if strings.HasPrefix(src[i:], "'''") {
				return nil, fmt.Errorf("a triple-quoted string at %d", i)
			}
			s, n, err := groovySingle(src[i:])
			if err != nil {
				return nil, fmt.Errorf("at %d: %w", i, err)
			}
			out = append(out, s)
			i += n
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(" \t\n_{}()[],:=", c) >= 0:
			i++
		default:
			r, _ := utf8.DecodeRuneInString(src[i:])
			return nil, fmt.Errorf("%q outside a string or comment at %d: %q", r, i, src[max(0, i-40):min(len(src), i+40)])
		}
	}
	return out, nil
}

// helpersStart and helpersEnd mark the Job DSL template's own helper
// code, which no value reaches.
const (
	helpersStart = "// Slipway's helpers: the same code in every generated script.\n"
	helpersEnd   = "// End of Slipway's helpers.\n"
)

// withoutHelpers cuts the Job DSL helpers out of src, after checking they
// are the template's own text, byte for byte.
func withoutHelpers(src string) (string, error) {
	start := strings.LastIndex(src, helpersStart)
	if start < 0 {
		return src, nil
	}
	b, err := fs.ReadFile(templates.FS, "pipeline/jobdsl.groovy.tmpl")
	if err != nil {
		return "", err
	}
	tmpl := string(b)
	ts := strings.Index(tmpl, helpersStart)
	te := strings.Index(tmpl, helpersEnd)
	if ts < 0 || te < ts {
		return "", errors.New("the Job DSL template has no helpers block")
	}
	block := tmpl[ts : te+len(helpersEnd)]
	if !strings.HasPrefix(src[start:], block) {
		return "", fmt.Errorf("the helpers at %d are not the template's own", start)
	}
	return src[:start] + src[start+len(block):], nil
}

// groovyUnicode replaces the \uXXXX escapes Groovy reads before lexing: a
// backslash preceded by an even number of backslashes, one or more u and
// four hex digits.
func groovyUnicode(src string) (string, error) {
	var b strings.Builder
	slashes := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\\' && slashes%2 == 0 && i+1 < len(src) && src[i+1] == 'u' {
			j := i + 1
			for j < len(src) && src[j] == 'u' {
				j++
			}
			if j+4 > len(src) {
				return "", fmt.Errorf("a short \\u escape at %d", i)
			}
			r, err := strconv.ParseUint(src[j:j+4], 16, 16)
			if err != nil {
				return "", fmt.Errorf("a bad \\u escape at %d", i)
			}
			b.WriteRune(rune(r))
			i = j + 3
			slashes = 0
			continue
		}
		if c == '\\' {
			slashes++
		} else {
			slashes = 0
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// groovySingle reads the single-quoted string at the start of s, returning
// its value and length.
func groovySingle(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			return b.String(), i + 1, nil
		case '\n', '\r':
			return "", 0, errors.New("a line break in a single-quoted string")
		case '\\':
			if i+1 == len(s) {
				return "", 0, errors.New("a string ends in a backslash")
			}
			i++
			switch e := s[i]; e {
			case '\\', '\'', '"', '$':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			default:
				return "", 0, fmt.Errorf("an unknown escape \\%c", e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errors.New("an unterminated string")
}

// FuzzQuote checks that each quoting function gives back s to the language
// that reads it: a shell word, a Groovy string, a GitHub value with ${{
// escaped, a GitLab or Drone value with '$' doubled.
func FuzzQuote(f *testing.F) {
	for _, v := range hostileTemplates {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 512 || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return // long values say nothing new; YAML is UTF-8; config check refuses NUL
		}
		if got, err := shellUnquote(shellQuote(s)); err != nil || got != s {
			t.Fatalf("shellQuote(%q) = %s reads back as %q (%v)", s, shellQuote(s), got, err)
		}
		q := groovyQuote(s)
		src, err := groovyUnicode(q)
		if err != nil {
			t.Fatalf("groovyQuote(%q) = %s: %v", s, q, err)
		}
		if got, n, err := groovySingle(src); err != nil || n != len(src) || got != s {
			t.Fatalf("groovyQuote(%q) = %s reads back as %q (%v)", s, q, got, err)
		}
		if err := checkGitHubScalar("env.X", ghEscape(s), nil); err != nil {
			t.Fatalf("ghEscape(%q) = %q: %v", s, ghEscape(s), err)
		}
		if got := ghEval(t, ghEscape(s)); got != s {
			t.Fatalf("ghEscape(%q) = %q evaluates to %q", s, ghEscape(s), got)
		}
		if got := gitlabExpand(gitlabEscape(s), nil); got != s {
			t.Fatalf("gitlabEscape(%q) = %q expands to %q", s, gitlabEscape(s), got)
		}
		if got := gitlabExpand(droneEscape(s), nil); got != s {
			t.Fatalf("droneEscape(%q) = %q substitutes to %q", s, droneEscape(s), got)
		}
	})
}

// shellUnquote reads w as one POSIX shell word without expansions: bare
// characters that mean nothing to the shell, single-quoted text and
// backslash-escaped characters. Anything else is an error.
func shellUnquote(w string) (string, error) {
	if w == "" {
		return "", errors.New("an empty word is no argument at all")
	}
	var b strings.Builder
	for i := 0; i < len(w); i++ {
		switch c := w[i]; {
		case c == '\'':
			j := strings.IndexByte(w[i+1:], '\'')
			if j < 0 {
				return "", errors.New("an unterminated quote")
			}
			b.WriteString(w[i+1 : i+1+j])
			i += j + 1
		case c == '\\':
			if i+1 == len(w) {
				return "", errors.New("a trailing backslash")
			}
			i++
			b.WriteByte(w[i])
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("@%+=:,./_-", c) >= 0:
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("%q outside quotes", c)
		}
	}
	return b.String(), nil
}
