package image

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/slipwayhq/slipway/internal/projfs"
)

// IgnoreFile is the file in the project root whose patterns are left out of
// every layer, like .gitignore.
const IgnoreFile = ".slipwayignore"

// matcher matches slash-separated relative paths against gitignore-like
// patterns: a pattern without a slash matches a name at any depth, one
// with a slash is anchored at the base directory, a trailing slash matches
// directories only, ** matches any number of directories, a leading !
// re-includes, and the last matching pattern wins.
type matcher struct {
	rules []rule
}

type rule struct {
	text    string
	segs    []string
	negate  bool
	dirOnly bool
}

// newMatcher parses patterns; source names where they came from in errors.
func newMatcher(source string, patterns []string) (*matcher, error) {
	m := &matcher{}
	for i, p := range patterns {
		r, ok, err := parseRule(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s pattern %d %q: %w", source, i+1, p, err)
		}
		if ok {
			m.rules = append(m.rules, r)
		}
	}
	return m, nil
}

// readIgnoreFile returns the lines of dir/.slipwayignore, or nothing when
// there is no such file. It is one of Slipway's own files: read bounded,
// as a regular file, never through a symlink.
func readIgnoreFile(dir string) ([]string, error) {
	data, err := projfs.ReadFile(dir, IgnoreFile, maxIgnoreFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Lines as bufio.ScanLines cuts them, since they enter the inputs hash.
	var lines []string
	for text := string(data); text != ""; {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		lines = append(lines, strings.TrimSuffix(line, "\r"))
	}
	return lines, nil
}

// maxIgnoreFile bounds .slipwayignore: patterns, a few kilobytes.
const maxIgnoreFile = 1 << 20

func parseRule(p string) (rule, bool, error) {
	line := strings.TrimRight(p, " \t\r")
	if line == "" || strings.HasPrefix(line, "#") {
		return rule{}, false, nil
	}
	r := rule{text: line}
	switch {
	case strings.HasPrefix(line, "!"):
		r.negate = true
		line = line[1:]
	case strings.HasPrefix(line, `\`):
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		r.dirOnly = true
		line = strings.TrimRight(line, "/")
	}
	anchored := strings.Contains(line, "/")
	line = strings.TrimPrefix(line, "/")
	if line == "" {
		return rule{}, false, nil
	}
	for _, s := range strings.Split(line, "/") {
		if s == "" {
			continue
		}
		if _, err := path.Match(s, "x"); err != nil {
			return rule{}, false, err
		}
		r.segs = append(r.segs, s)
	}
	if !anchored {
		r.segs = append([]string{"**"}, r.segs...)
	}
	return r, true, nil
}

// match reports whether rel (slash-separated, relative to the matcher's
// base) is excluded.
func (m *matcher) match(rel string, isDir bool) bool {
	if m == nil || len(m.rules) == 0 {
		return false
	}
	name := strings.Split(rel, "/")
	excluded := false
	for _, r := range m.rules {
		if r.dirOnly && !isDir {
			continue
		}
		if matchSegs(r.segs, name) {
			excluded = !r.negate
		}
	}
	return excluded
}

func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchSegs(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
