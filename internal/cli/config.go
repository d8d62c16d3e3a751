package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
)

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "work with slipway.yaml and ci.yaml",
		Subcommands: []*cli.Command{{
			Name:      "check",
			Usage:     "validate slipway.yaml and ci.yaml, reporting every problem at once",
			ArgsUsage: " ",
			Action: action(func(c *command) error {
				if _, err := c.args(0, 0, ""); err != nil {
					return err
				}
				checked, err := flow.CheckConfig(c.dir)
				if err != nil {
					return err
				}
				for _, f := range checked {
					c.ui.Report(progress.Event{Kind: progress.Finish, Step: "config", Msg: f + " is valid"})
				}
				return c.result(map[string]any{"valid": true, "files": checked}, "ok")
			}),
		}},
	}
}

func schemaCommand() *cli.Command {
	return &cli.Command{
		Name:      "schema",
		Usage:     "print the JSON Schema of slipway.yaml, ci.yaml, or both",
		ArgsUsage: "[slipway.yaml|ci.yaml]",
		Description: "Without an argument the schema accepts either file. Point your editor's YAML\n" +
			"language server at it, e.g. `slipway schema slipway.yaml > .slipway.schema.json`.",
		Action: action(func(c *command) error {
			a, err := c.args(0, 1, "[slipway.yaml|ci.yaml]")
			if err != nil {
				return err
			}
			which := ""
			if len(a) == 1 {
				which = a[0]
			}
			out, err := config.Schema(which)
			if err != nil {
				return usageError{err}
			}
			return c.ui.Document(out)
		}),
	}
}
