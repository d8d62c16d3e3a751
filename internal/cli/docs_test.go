package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

var update = flag.Bool("update", false, "rewrite docs/commands")

// TestCommandDocs keeps docs/commands/*.md true to the CLI's own help: one
// page per command, generated from the same definitions `slipway help` uses.
func TestCommandDocs(t *testing.T) {
	app := newApp(Stdio{})
	dir := filepath.Join("..", "..", "docs", "commands")
	pages := map[string]string{}
	var index strings.Builder
	index.WriteString("# Commands\n\nGenerated from `slipway help` by `go test ./internal/cli -update`; do not edit by hand.\n\n")
	index.WriteString("Global flags, accepted before or after the command:\n\n")
	writeFlags(&index, app.Flags)
	index.WriteString("\n| command | what it does |\n| --- | --- |\n")
	for _, c := range app.Commands {
		for _, sub := range append([]*cli.Command{c}, c.Subcommands...) {
			name := c.Name
			if sub != c {
				name += " " + sub.Name
			} else if len(c.Subcommands) > 0 {
				continue
			}
			file := strings.ReplaceAll(name, " ", "-") + ".md"
			pages[file] = page(name, sub)
			fmt.Fprintf(&index, "| [`slipway %s`](%s) | %s |\n", name, file, sub.Usage)
		}
	}
	pages["README.md"] = index.String()
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, content := range pages {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for f, want := range pages {
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || string(got) != want {
			t.Errorf("docs/commands/%s is out of date; run go test ./internal/cli -update", f)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if _, ok := pages[e.Name()]; !ok {
			t.Errorf("docs/commands/%s documents no command; remove it", e.Name())
		}
	}
}

func page(name string, c *cli.Command) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# slipway %s\n\n%s.\n\n```\nslipway %s %s\n```\n", name, c.Usage, name, strings.TrimSpace(c.ArgsUsage))
	if c.Description != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(c.Description))
	}
	var own []cli.Flag
	for _, f := range c.Flags {
		if !isGlobal(f) {
			own = append(own, f)
		}
	}
	if len(own) > 0 {
		b.WriteString("\nFlags:\n\n")
		writeFlags(&b, own)
	}
	fmt.Fprintf(&b, "\nGlobal flags (%s) and exit codes: see [the command list](README.md) and `slipway help exit-codes`.\n", globalNames())
	return b.String()
}

// globalNames lists the global flags by their shortest names, e.g. "`-C`,
// `-o`, ...".
func globalNames() string {
	var names []string
	for _, f := range globalFlags() {
		short := f.Names()[0]
		for _, n := range f.Names() {
			if len(n) < len(short) {
				short = n
			}
		}
		if len(short) == 1 {
			names = append(names, "`-"+short+"`")
		} else {
			names = append(names, "`--"+short+"`")
		}
	}
	return strings.Join(names, ", ")
}

func isGlobal(f cli.Flag) bool {
	for _, g := range globalFlags() {
		if g.Names()[0] == f.Names()[0] {
			return true
		}
	}
	return false
}

func writeFlags(b *strings.Builder, flags []cli.Flag) {
	b.WriteString("| flag | meaning |\n| --- | --- |\n")
	for _, f := range flags {
		var names []string
		for _, n := range f.Names() {
			if len(n) == 1 {
				names = append(names, "`-"+n+"`")
			} else {
				names = append(names, "`--"+n+"`")
			}
		}
		usage := ""
		if u, ok := f.(cli.DocGenerationFlag); ok {
			usage = strings.ReplaceAll(u.GetUsage(), "`", "")
		}
		fmt.Fprintf(b, "| %s | %s |\n", strings.Join(names, ", "), usage)
	}
}
