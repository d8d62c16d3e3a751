package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/slipwayhq/slipway/internal/projfs"
)

// Limits bound what reading one YAML file may cost, so that no input, however
// hostile, takes more than a moment or more than a few megabytes.
type Limits struct {
	// MaxBytes is the largest file read.
	MaxBytes int
	// MaxNodes bounds the values of the document counted with every alias
	// expanded, which is what a decoder walks (a "billion laughs" file is
	// small but expands to billions of values).
	MaxNodes int
}

// DefaultLimits bound slipway.yaml, ci.yaml and pod.yml. Real files are a
// few kilobytes with a few hundred values; the limits leave ample room.
var DefaultLimits = Limits{MaxBytes: 256 << 10, MaxNodes: 200_000}

// ParseYAML reads data as exactly one YAML 1.2 document within lim and
// returns its root node (nil for an empty file). Problems name file: a file
// over the size limit, a syntax error, a second document, or aliases that
// expand past the node limit. The node tree is not expanded: walkers follow
// aliases themselves, within the bound checked here.
func ParseYAML(file string, data []byte, lim Limits) (*yaml.Node, Problems) {
	if lim.MaxBytes > 0 && len(data) > lim.MaxBytes {
		return nil, Problems{{File: file, Msg: tooLarge(len(data), lim.MaxBytes)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Problems{syntaxProblem(file, err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, Problems{syntaxProblem(file, err)}
	default:
		return nil, Problems{{File: file, Line: extra.Line, Col: extra.Column,
			Msg: "a second YAML document; the file holds exactly one (remove the '---' line and what follows, or merge it into the first)"}}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if lim.MaxNodes > 0 {
		c := nodeCounter{memo: map[*yaml.Node]int{}, limit: lim.MaxNodes}
		if n := c.count(root); n > lim.MaxNodes {
			at := c.alias
			if at == nil {
				at = root
			}
			return nil, Problems{{File: file, Line: at.Line, Col: at.Column,
				Msg: fmt.Sprintf("the document expands to more than %d values (aliases such as *%s repeat what they point to); write the values out, or use fewer aliases", lim.MaxNodes, clip(at.Value, 40))}}
		}
	}
	return root, nil
}

// nodeCounter counts the values of a node tree with aliases expanded, in time
// linear in the unexpanded tree: each anchored node is counted once and its
// count reused for every alias of it.
type nodeCounter struct {
	memo  map[*yaml.Node]int
	limit int
	alias *yaml.Node // the first alias met once the count passed the limit
}

func (c *nodeCounter) count(n *yaml.Node) int {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return 1
		}
		total := c.count(n.Alias)
		if total > c.limit && c.alias == nil {
			c.alias = n
		}
		return total
	}
	if v, ok := c.memo[n]; ok {
		return v
	}
	c.memo[n] = c.limit + 1 // an alias inside its own anchor counts as too many
	total := 1
	for _, ch := range n.Content {
		total += c.count(ch)
		if total > c.limit {
			total = c.limit + 1 // saturate: the caller only needs "too many"
			break
		}
	}
	c.memo[n] = total
	return total
}

// ReadFile reads path, one of Slipway's own files in its directory,
// refusing a file over lim.MaxBytes without reading more than that, and a
// symlink or anything but a regular file without reading it at all (a
// link could lead to the process's environment, a FIFO never ends). Those
// refusals are Problems naming display; a missing file's error matches
// fs.ErrNotExist.
func ReadFile(path, display string, lim Limits) ([]byte, error) {
	limit := int64(1) << 62
	if lim.MaxBytes > 0 {
		limit = int64(lim.MaxBytes)
	}
	data, err := projfs.ReadFile(filepath.Dir(path), filepath.Base(path), limit)
	var pe *projfs.Error
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, projfs.ErrTooLarge) && errors.As(err, &pe):
		return nil, Problems{{File: display, Msg: tooLarge(int(pe.Size), lim.MaxBytes)}}
	case (errors.Is(err, projfs.ErrSymlink) || errors.Is(err, projfs.ErrNotRegular)) && errors.As(err, &pe):
		return nil, Problems{{File: display, Msg: pe.Reason()}}
	case errors.As(err, &pe):
		return nil, pe.Err // the caller names the file
	}
	return nil, err
}

func tooLarge(size, limit int) string {
	return fmt.Sprintf("the file is %s; Slipway reads files of at most %s", bytesText(size), bytesText(limit))
}

func bytesText(n int) string { return projfs.Bytes(int64(n)) }

// maxQuoted is the most of a value that a problem quotes.
const maxQuoted = 64

// clip shortens s to at most max bytes (on a rune boundary), marking the cut
// with an ellipsis and the full length, so that a problem about a huge value
// stays one readable line.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}

// clipArgs shortens the long string arguments that format quotes (%q):
// those are values from the file. Arguments formatted with %s are messages
// already composed from clipped parts.
func clipArgs(format string, args []any) []any {
	var out []any
	arg := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("+-# 0123456789.", format[j]) >= 0 {
			j++
		}
		if j == len(format) {
			break
		}
		if format[j] == '%' {
			i = j
			continue
		}
		if s, ok := argAt(args, arg).(string); ok && format[j] == 'q' && len(s) > maxQuoted {
			if out == nil {
				out = slices.Clone(args)
			}
			out[arg] = clip(s, maxQuoted)
		}
		arg++
		i = j
	}
	if out == nil {
		return args
	}
	return out
}

func argAt(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

// maxField is the most of a field path that a problem shows.
const maxField = 160

// clipField shortens a field path holding a huge key.
func clipField(path string) string { return clip(path, maxField) }
