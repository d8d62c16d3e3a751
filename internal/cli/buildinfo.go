package cli

import (
	"fmt"
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
