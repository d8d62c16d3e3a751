package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
)

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:      "rollback",
		Usage:     "return an environment to an earlier revision, and wait for it",
		ArgsUsage: "ENV",
		Description: "Rolls back to the revision before the current one, or --to a revision number,\n" +
			"version or digest that `slipway history ENV` lists, and waits for the same verdict\n" +
			"as deploy. It is the emergency path: gates do not apply. --reason is recorded.\n" +
			"In a GitOps environment it is a commit that restores the app's file as an earlier\n" +
			"commit held it (--to a commit, version or digest), waited for like a deploy.\n\n" +
			lockHelp("rollback"),
		Flags: append(append(clusterFlags(),
			&cli.StringFlag{Name: "to", Usage: "`REVISION`, version or digest to return to (default: the previous revision)"},
			&cli.StringFlag{Name: "reason", Usage: "why, recorded with the rollback"},
			&cli.DurationFlag{Name: "timeout", Usage: "how long to wait for a verdict (default: deploy.timeout)"},
		), lockFlags()...),
		Action: action(func(c *command) error {
			a, r, err := c.runnerArgs(1, 1, "ENV")
			if err != nil {
				return err
			}
			res, err := r.Rollback(c.ctx, a[0], flow.RollbackOptions{Options: c.options(), Cluster: c.clusterOptions(),
				To: c.flags.String("to"), Reason: c.flags.String("reason"), Timeout: c.flags.Duration("timeout"),
				WaitLock: waitLock(c), BreakLock: c.flags.Bool("break-lock")})
			if err != nil {
				return err
			}
			if res.UpToDate {
				c.ui.Report(progress.Event{Kind: progress.Skip, Step: "rollback", Msg: fmt.Sprintf("%s already runs revision %d (%s)", res.Env, res.Revision, res.Version)})
			} else {
				c.ui.Report(progress.Event{Kind: progress.Finish, Step: "rollback", Msg: rolledBack(res.Env, res.Version, res.Revision, res.Seconds)})
			}
			return c.result(res, res.Image)
		}),
	}
}

// rolledBack says what a rollback that changed something left.
// (revision 0: a GitOps environment's, which has none).
func rolledBack(env, version string, revision int64, seconds float64) string {
	if revision == 0 {
		return fmt.Sprintf("%s runs %s again (%.1fs)", env, version, seconds)
	}
	return fmt.Sprintf("%s runs %s again, as revision %d (%.1fs)", env, version, revision, seconds)
}
