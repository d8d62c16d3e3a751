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
			written, err := config.Scaffold(c.dir, o)
			if err != nil {
				return err
			}
			for _, f := range written {
				c.ui.Report(progress.Event{Kind: progress.Finish, Step: "init", Msg: "wrote " + f})
			}
			return c.result(map[string]any{"written": written},
				"Next: `slipway config check`, then `slipway release --dry-run`.")
		}),
	}
}

func ask(c *command, in *bufio.Reader, question, def string) string {
	c.ui.Prompt(fmt.Sprintf("%s [%s]: ", question, def))
	line, _ := in.ReadString('\n')
	if line = strings.TrimSpace(line); line != "" {
		return line
	}
	return def
}
