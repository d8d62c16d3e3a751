package image

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
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
// there is no such file.
func readIgnoreFile(dir string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, IgnoreFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", IgnoreFile, err)
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", IgnoreFile, err)
	}
	return lines, nil
}

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
