package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
)

func initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "scaffold slipway.yaml, pod.yml and ci.yaml for a project",
		ArgsUsage: " ",
		Description: "Writes the three files into the project directory, with a ciBuild task and image\n" +
			"layers for what it finds there: a Go module (go build of its main package, . or\n" +
			"cmd/NAME, into dist/), Gradle or Maven (the app's jar, copied to dist/, on a Java\n" +
			"runtime with the JVM preset), or a static site (index.html at the root or in public/,\n" +
			"dist/ or site/, served by a small file server written to serve/main.go). For anything\n" +
			"else it says what to fill in, and where. It adds the build's output and .slipway/ to\n" +
			".gitignore. On a terminal it asks for the app name and the dev registry; elsewhere it\n" +
			"asks nothing and uses the flags or defaults. Existing files are never overwritten\n" +
			"without --force.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "app", Usage: "app `NAME` (default: from the directory name)"},
			&cli.StringFlag{Name: "registry", Usage: "dev registry `ADDRESS` (default 127.0.0.1:5000/team)"},
			&cli.IntFlag{Name: "port", Usage: "container `PORT`", Value: 8080},
			&cli.BoolFlag{Name: "force", Usage: "overwrite existing files"},
		},
		Action: action(func(c *command) error {
			if _, err := c.args(0, 0, ""); err != nil {
				return err
			}
			o := config.ScaffoldOptions{
				App: c.flags.String("app"), Registry: c.flags.String("registry"),
				Port: c.flags.Int("port"), Force: c.flags.Bool("force"),
			}
			if f, ok := c.flags.App.Reader.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !c.json {
				in := bufio.NewReader(f)
				if o.App == "" {
					o.App = ask(c, in, "App name", config.AppName(c.dir))
				}
				if o.Registry == "" {
					o.Registry = ask(c, in, "Dev registry", "127.0.0.1:5000/team")
				}
			}
			res, err := config.Scaffold(c.dir, o)
			if err != nil {
				return err
			}
			for _, f := range res.Written {
				c.ui.Report(progress.Event{Kind: progress.Finish, Step: "init", Msg: "wrote " + f})
			}
			return c.result(res, initNext(res))
		}),
	}
}

// initNext says what init found and what to do next.
func initNext(s config.Scaffolded) string {
	var b strings.Builder
	switch s.Kind {
	case config.KindGo:
		fmt.Fprintf(&b, "Found a Go module: ciBuild (ci.yaml) builds its main package %s into dist/, which the image takes.\n", s.Main)
		if len(s.Mains) > 1 {
			fmt.Fprintf(&b, "Other main packages: %s; ciBuild builds one: change which in ci.yaml.\n", strings.Join(otherMains(s), ", "))
		}
	case config.KindGradle, config.KindMaven:
		fmt.Fprintf(&b, "Found a %s build: ciBuild (ci.yaml) copies its jar to dist/ for the image, on a Java runtime with the JVM preset.\n", map[config.Kind]string{config.KindGradle: "Gradle", config.KindMaven: "Maven"}[s.Kind])
	case config.KindStatic:
		where := "in " + s.Site + "/"
		if s.Site == "." {
			where = "at the root"
		}
		fmt.Fprintf(&b, "Found a static site %s: the image serves it with serve/main.go, which ciBuild (ci.yaml) builds (it needs Go).\n", where)
	default:
		b.WriteString("Found no Go module, Gradle or Maven build, or static site (index.html at the root or in public/, dist/ or site/).\n")
	}
	if len(s.FillIn) > 0 {
		b.WriteString("Fill in (see the FILL IN comments):\n")
		for _, f := range s.FillIn {
			fmt.Fprintf(&b, "  %s in %s: %s\n", f.Field, f.File, f.What)
		}
	}
	b.WriteString("Next: `slipway config check`; commit the new files; then `slipway run deployToDev` to ship it to dev " +
		"(its registry and cluster are in slipway.yaml): the build runs ci.yaml's ciBuild first when what it makes is missing.")
	return b.String()
}

// otherMains lists the main packages ciBuild does not build.
func otherMains(s config.Scaffolded) []string {
	var out []string
	for _, m := range s.Mains {
		if m != "." {
			m = "./" + m
		}
		if m != s.Main {
			out = append(out, m)
		}
	}
	return out
}

func ask(c *command, in *bufio.Reader, question, def string) string {
	c.ui.Prompt(fmt.Sprintf("%s [%s]: ", question, def))
	line, _ := in.ReadString('\n')
	if line = strings.TrimSpace(line); line != "" {
		return line
	}
	return def
}
