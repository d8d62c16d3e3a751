package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// intersperse moves flags written after a command's arguments in front of
// them, so `slipway push dev -o json` means what it says: urfave/cli stops
// reading flags at the first argument. Everything after "--" stays as it is.
func intersperse(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	flags, cmds := app.Flags, app.Commands
	i := 1
	take := func(dst []string) []string { // one flag, with its value if it needs one
		a := args[i]
		dst = append(dst, a)
		if !strings.Contains(a, "=") && takesValue(flags, a) && i+1 < len(args) {
			i++
			dst = append(dst, args[i])
		}
		i++
		return dst
	}
	for i < len(args) && isFlag(args[i]) {
		out = take(out)
	}
	for i < len(args) {
		c := findCommand(cmds, args[i])
		if c == nil {
			break
		}
		out = append(out, args[i])
		i++
		flags, cmds = c.Flags, c.Subcommands
		for i < len(args) && isFlag(args[i]) {
			out = take(out)
		}
		if len(cmds) == 0 {
			break
		}
	}
	var positional []string
	for i < len(args) {
		switch a := args[i]; {
		case a == "--":
			positional = append(positional, args[i:]...)
			i = len(args)
		case isFlag(a):
			out = take(out)
		default:
			positional = append(positional, a)
			i++
		}
	}
	return append(out, positional...)
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' && a != "--" }

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether the flag written as a (e.g. "-o") needs a
// value; unknown flags are left for urfave/cli to report.
func takesValue(flags []cli.Flag, a string) bool {
	name := strings.TrimLeft(a, "-")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				_, isBool := f.(*cli.BoolFlag)
				if g, ok := f.(*cli.GenericFlag); ok {
					// A value that reads as a boolean (--wait-lock) may
					// be given bare: it never takes the next argument.
					b, ok := g.Value.(interface{ IsBoolFlag() bool })
					isBool = ok && b.IsBoolFlag()
				}
				return !isBool
			}
		}
	}
	return false
}
