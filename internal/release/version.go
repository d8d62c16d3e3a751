package release

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// ParseTag reads a release tag: name must be prefix followed by a strict
// semantic version X.Y.Z[-pre][+meta]. With prefix "v", "v1.2.3" and
// "v2.0.0-rc.1" are release tags; "1.2.3", "v1.2" and "latest" are not.
func ParseTag(name, prefix string) (*semver.Version, bool) {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" {
		return nil, false
	}
	v, err := semver.StrictNewVersion(rest)
	if err != nil {
		return nil, false
	}
	return v, true
}

// TagName returns the tag that marks version v: prefix followed by v.
func TagName(prefix string, v *semver.Version) string {
	return prefix + v.String()
}

// Apply returns the final version v raised by b: 1.4.2 with BumpMinor is
// 1.5.0. Any pre-release or build metadata of v is dropped, and BumpNone
// returns v's X.Y.Z.
func (b Bump) Apply(v *semver.Version) (*semver.Version, error) {
	major, minor, patch := v.Major(), v.Minor(), v.Patch()
	var over bool
	switch b {
	case BumpNone:
	case BumpPatch:
		over = patch == math.MaxUint64
		patch++
	case BumpMinor:
		over = minor == math.MaxUint64
		minor, patch = minor+1, 0
	case BumpMajor:
		over = major == math.MaxUint64
		major, minor, patch = major+1, 0, 0
	default:
		return nil, fmt.Errorf("bumping %s: %w: unknown bump %d", v, ErrInvalid, int(b))
	}
	if over {
		return nil, fmt.Errorf("bumping %s by %s: %w: number too large", v, b, ErrInvalid)
	}
	return semver.New(major, minor, patch, "", ""), nil
}

// core returns v's X.Y.Z without pre-release or metadata.
func core(v *semver.Version) *semver.Version {
	return semver.New(v.Major(), v.Minor(), v.Patch(), "", "")
}

// isFinal reports whether v has no pre-release part.
func isFinal(v *semver.Version) bool { return v.Prerelease() == "" }

// preID matches a pre-release id such as "rc", "beta" or "alpha.x": dot
// separated identifiers, the first starting with a letter.
var preID = regexp.MustCompile(`^[A-Za-z][0-9A-Za-z-]*(\.[0-9A-Za-z-]+)*$`)

// checkPreID returns an error unless id can name a pre-release line.
func checkPreID(what, id string) error {
	if !preID.MatchString(id) {
		return fmt.Errorf("checking %s %q: %w: want letters, digits and hyphens starting with a letter, e.g. rc", what, id, ErrInvalid)
	}
	return nil
}

// preCounter returns N when v's pre-release is id.N.
func preCounter(v *semver.Version, id string) (uint64, bool) {
	rest, ok := strings.CutPrefix(v.Prerelease(), id+".")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil
}

// inPreLine reports whether v is a pre-release of line id: id itself or id.N.
func inPreLine(v *semver.Version, id string) bool {
	p := v.Prerelease()
	return p == id || strings.HasPrefix(p, id+".")
}
