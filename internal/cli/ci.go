package cli

import (
	"errors"
	"os/exec"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/config"
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
		Action: action(func(e *env) error {
			a, p, err := e.projectArgs(1, 1, "TASK")
			if err != nil {
				return err
			}
			c, err := config.LoadCI(e.dir, p)
			if err != nil {
				return err
			}
			cmd, err := flow.TaskCommand(e.ctx, c, a[0])
			if err != nil {
				return err
			}
			// The task is the team's own program: its output passes
			// through as it is, as it would in a terminal of their own.
			cmd.Stdin, cmd.Stdout, cmd.Stderr = e.c.App.Reader, e.ui.Out, e.ui.Err
			err = cmd.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return &flow.TaskError{Task: a[0], Code: ee.ExitCode()}
			}
			return err
		}),
	}
}
