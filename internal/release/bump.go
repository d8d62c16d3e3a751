package release

import (
	"fmt"
	"regexp"
	"strings"
)

// Bump is how much a release raises the version. Larger bumps compare greater.
type Bump int

// Bumps, from none to major.
const (
	// BumpNone raises nothing: no releasable change.
	BumpNone Bump = iota
	// BumpPatch raises X.Y.Z to X.Y.Z+1.
	BumpPatch
	// BumpMinor raises X.Y.Z to X.Y+1.0.
	BumpMinor
	// BumpMajor raises X.Y.Z to X+1.0.0.
	BumpMajor
)

var bumpNames = [...]string{BumpNone: "none", BumpPatch: "patch", BumpMinor: "minor", BumpMajor: "major"}

// String returns "none", "patch", "minor" or "major".
func (b Bump) String() string {
	if b < BumpNone || b > BumpMajor {
		return fmt.Sprintf("Bump(%d)", int(b))
	}
	return bumpNames[b]
}

// ParseBump reads "none", "patch", "minor" or "major", in any case.
func ParseBump(s string) (Bump, error) {
	for b, name := range bumpNames {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return Bump(b), nil
		}
	}
	return BumpNone, fmt.Errorf("parsing bump %q: %w: want none, patch, minor or major", s, ErrInvalid)
}

// ParseBumpSpec reads a release's bump as slipway.yaml and --bump write it:
// "auto" (or "") is BumpNone, which Input.Bump reads as auto; "major",
// "minor" and "patch" in any case are those bumps.
func ParseBumpSpec(s string) (Bump, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return BumpNone, nil
	case "major", "minor", "patch":
		return ParseBump(s)
	}
	return BumpNone, fmt.Errorf("parsing bump %q: %w: want auto, major, minor or patch", s, ErrInvalid)
}

// conventionalHeader matches "type:", "type(scope):", "type!:" and
// "type(scope)!:", capturing the type and the "!". The space the
// specification asks for after the colon is not required.
var conventionalHeader = regexp.MustCompile(`^([A-Za-z]+)(?:\([^()\r\n]*\))?(!?):`)

// Conventional returns the bump a commit message asks for under Conventional
// Commits: a "!" after the type or a BREAKING CHANGE: (or BREAKING-CHANGE:)
// line is major, feat is minor, fix and perf are patch, anything else none.
// The type is matched in any case; the BREAKING CHANGE token must be upper case,
// as the specification says.
func Conventional(message string) Bump {
	lines := strings.Split(message, "\n")
	for _, line := range lines {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "BREAKING CHANGE:") || strings.HasPrefix(line, "BREAKING-CHANGE:") {
			return BumpMajor
		}
	}
	m := conventionalHeader.FindStringSubmatch(strings.TrimSpace(lines[0]))
	if m == nil {
		return BumpNone
	}
	if m[2] == "!" {
		return BumpMajor
	}
	switch strings.ToLower(m[1]) {
	case "feat":
		return BumpMinor
	case "fix", "perf":
		return BumpPatch
	}
	return BumpNone
}

// BumpFromMessages returns the largest bump the messages ask for, or fallback
// when none of them is releasable.
func BumpFromMessages(msgs []string, fallback Bump) Bump {
	best := BumpNone
	for _, m := range msgs {
		best = max(best, Conventional(m))
		if best == BumpMajor {
			break
		}
	}
	if best == BumpNone {
		return fallback
	}
	return best
}
