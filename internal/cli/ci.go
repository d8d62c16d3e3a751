package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
)

func ciCommand() *cli.Command {
	return &cli.Command{
		Name:      "ci",
		Usage:     "run a ci.yaml task as CI runs it",
		ArgsUsage: "TASK",
		Description: "Runs the command behind a generic task name from ci.yaml (sh -c, in the task's dir,\n" +
			"with ci.yaml's env and the task's env), exactly as the generated CI jobs do. Exits\n" +
			"with the task's exit code.",
		Action: action(func(c *command) error {
			a, p, err := c.projectArgs(1, 1, "TASK")
			if err != nil {
				return err
			}
			// The task is the team's own program: its output passes
			// through as it is, as it would in a terminal of their own.
			return flow.RunTask(c.ctx, p, a[0], flow.Stdio{In: c.flags.App.Reader, Out: c.ui.Out, Err: c.ui.Err})
		}),
	}
}
