package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every configuration problem report.
var ErrInvalid = errors.New("invalid configuration")

// Problem is one thing wrong in a configuration file.
type Problem struct {
	File  string `json:"file"`
	Line  int    `json:"line,omitempty"`
	Col   int    `json:"column,omitempty"`
	Field string `json:"field,omitempty"`
	Msg   string `json:"message"`

	// soft problems (such as a duplicate key) leave the value readable, so
	// they do not hide problems found in it.
	soft bool
}

// Error formats the problem as FILE:LINE:COL: FIELD: MESSAGE.
func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one run, sorted by file and position.
type Problems []Problem

// maxProblems is the most problems collected from one file; a file with more
// gets a last one saying so, so that a hostile file cannot make the report
// itself cost gigabytes.
const maxProblems = 1000

// full reports whether no more problems are collected.
func (ps Problems) full() bool { return len(ps) > maxProblems }

// push adds p, or once maxProblems are collected, a problem saying so.
func (ps *Problems) push(p Problem) {
	switch {
	case len(*ps) < maxProblems:
		*ps = append(*ps, p)
	case len(*ps) == maxProblems:
		*ps = append(*ps, Problem{File: p.File, Msg: fmt.Sprintf("more than %d problems; fix these and run again", maxProblems)})
	}
}

// maxListed is the most problems Error lists; the rest are counted.
const maxListed = 100

// Error lists the problems one per line, at most maxListed of them.
func (ps Problems) Error() string {
	lines := make([]string, 0, min(len(ps), maxListed)+1)
	for i, p := range ps {
		if i == maxListed {
			lines = append(lines, fmt.Sprintf("... and %d more problems", len(ps)-maxListed))
			break
		}
		lines = append(lines, p.Error())
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(ps, ErrInvalid) true.
func (ps Problems) Is(target error) bool { return target == ErrInvalid }

func (ps Problems) sorted() Problems {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return ps
}

// orNil returns nil for no problems, so callers can return it as an error.
func (ps Problems) orNil() error {
	if len(ps) == 0 {
		return nil
	}
	return ps.sorted()
}

// maxChoices is the most valid values a message lists.
const maxChoices = 30

// choices formats valid values for a message.
func choices(valid []string) string {
	if len(valid) == 0 {
		return "(none defined)"
	}
	if len(valid) > maxChoices {
		return strings.Join(valid[:maxChoices], ", ") + fmt.Sprintf(", ... (%d in all)", len(valid))
	}
	return strings.Join(valid, ", ")
}

// Suggest returns the valid value closest to got, when one is close enough
// to be what was meant: the same but for case, or one edit per three
// letters (at most two).
func Suggest(got string, valid []string) string { return suggest(got, valid) }

// maxSuggestFrom is the most valid values suggest compares a mistake with.
const maxSuggestFrom = 200

func suggest(got string, valid []string) string {
	if len(got) > maxQuoted || len(valid) > maxSuggestFrom {
		return "" // nobody mistypes a name that long, and distance is quadratic
	}
	// Close enough: one edit per three letters, at least one, at most two.
	best, bestDist := "", min(max(len(got)/3, 1), 2)+1
	lg := strings.ToLower(got)
	for _, v := range valid {
		if len(v) > maxQuoted {
			continue
		}
		lv := strings.ToLower(v)
		if lv == lg {
			return v
		}
		if d := distance(lg, lv); d < bestDist {
			best, bestDist = v, d
		}
	}
	return best
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// notValid is the message for a value outside a fixed set.
func notValid(got string, valid []string) string {
	return oneOf(fmt.Sprintf("%q is not valid", clip(got, maxQuoted)), got, valid)
}

// unknown is the message for a name that refers to nothing, e.g. an
// environment naming a registry that is not defined.
func unknown(what, got string, valid []string) string {
	return oneOf(fmt.Sprintf("unknown %s %q", what, clip(got, maxQuoted)), got, valid)
}

func oneOf(msg, got string, valid []string) string {
	if s := suggest(got, valid); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	return msg + "; valid: " + choices(valid)
}

// fatal reports whether the file could not be read as YAML at all, so
// nothing more can be said about it.
func (ps Problems) fatal() bool {
	for _, p := range ps {
		if p.Field == "" {
			return true
		}
	}
	return false
}

// merge adds the problems in err (from validation) to the structural ones in
// ps, leaving out any about a field that already has a structural problem, or
// lies under one, so each mistake is reported once.
func (ps Problems) merge(err error) error {
	var more Problems
	if !errors.As(err, &more) {
		return ps.orNil()
	}
	hard := make(map[string]bool, len(ps))
	for _, p := range ps {
		if !p.soft {
			hard[p.Field] = true
		}
	}
	out := ps
	for _, m := range more {
		if !covered(hard, m.Field) {
			out = append(out, m)
		}
	}
	return out.orNil()
}

// covered reports whether field, or a field it lies under, is in hard.
func covered(hard map[string]bool, field string) bool {
	for {
		if hard[field] {
			return true
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			return false
		}
		field = field[:i]
	}
}
