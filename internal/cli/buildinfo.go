package cli

import (
	"fmt"
	"regexp"
	"runtime/debug"
)

// Set at link time by goreleaser:
// -X github.com/slipwayhq/slipway/internal/cli.version=... (and commit, date).
var (
	version = ""
	commit  = ""
	date    = ""
)

// buildVersion describes this binary: the linked-in version, else what the
// Go toolchain recorded (module version, VCS revision and time).
func buildVersion() string {
	v, c, d := version, commit, date
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && c == "":
				c = s.Value
			case s.Key == "vcs.time" && d == "":
				d = s.Value
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	out := v
	if c != "" {
		out += fmt.Sprintf(" (%.12s", c)
		if d != "" {
			out += ", " + d
		}
		out += ")"
	}
	return out
}

// UserAgent is what Slipway calls itself in HTTP requests.
func UserAgent() string {
	v := version
	if v == "" {
		v = "dev"
	}
	return "slipway/" + v
}

// moduleRelease matches a module version go install records for a tagged
// release (v1.4.0, v1.5.0-rc.1), not a pseudo-version (a commit's
// v0.0.0-20260101120000-abcdefabcdef, or v1.4.1-0.20260101120000-abcdef...)
// nor one with +dirty or +incompatible.
var moduleRelease = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
var pseudo = regexp.MustCompile(`[0-9]{14}-[0-9a-f]{12}$`)

// releaseVersion is the release this binary is: the linked-in version, else
// the module version go install recorded (go install
// github.com/slipwayhq/slipway/cmd/slipway@v1.4.0); "" for a build from a
// checkout or of a commit.
func releaseVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		if v := info.Main.Version; isModuleRelease(v) {
			return v
		}
	}
	return ""
}

// isModuleRelease reports whether the module version v names a tagged
// release.
func isModuleRelease(v string) bool { return moduleRelease.MatchString(v) && !pseudo.MatchString(v) }
