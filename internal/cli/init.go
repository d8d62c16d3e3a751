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
		Description: "Writes the three files into the project directory. On a terminal it asks for the\n" +
			"app name and the dev registry; elsewhere it asks nothing and uses the flags or defaults.\n" +
			"Existing files are never overwritten without --force.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "app", Usage: "app `NAME` (default: from the directory name)"},
			&cli.StringFlag{Name: "registry", Usage: "dev registry `ADDRESS` (default 127.0.0.1:5000/team)"},
			&cli.IntFlag{Name: "port", Usage: "container `PORT`", Value: 8080},
			&cli.BoolFlag{Name: "force", Usage: "overwrite existing files"},
		},
		Action: action(func(e *env) error {
			if _, err := e.args(0, 0, ""); err != nil {
				return err
			}
			o := config.ScaffoldOptions{
				App: e.c.String("app"), Registry: e.c.String("registry"),
				Port: e.c.Int("port"), Force: e.c.Bool("force"),
			}
			if f, ok := e.c.App.Reader.(*os.File); ok && term.IsTerminal(int(f.Fd())) && !e.json {
				in := bufio.NewReader(f)
				if o.App == "" {
					o.App = ask(e, in, "App name", config.AppName(e.dir))
				}
				if o.Registry == "" {
					o.Registry = ask(e, in, "Dev registry", "127.0.0.1:5000/team")
				}
			}
			written, err := config.Scaffold(e.dir, o)
			if err != nil {
				return err
			}
			for _, f := range written {
				e.ui.Report(progress.Event{Kind: progress.Finish, Step: "init", Msg: "wrote " + f})
			}
			return e.result(map[string]any{"written": written},
				"Next: `slipway config check`, then `slipway release --dry-run`.")
		}),
	}
}

func ask(e *env, in *bufio.Reader, question, def string) string {
	e.ui.Prompt(fmt.Sprintf("%s [%s]: ", question, def))
	line, _ := in.ReadString('\n')
	if line = strings.TrimSpace(line); line != "" {
		return line
	}
	return def
}
