package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/progress"
	"github.com/slipwayhq/slipway/ship"
)

func deployCommand() *cli.Command {
	return &cli.Command{
		Name:      "deploy",
		Usage:     "roll out the image to an environment and wait for a verdict",
		ArgsUsage: "ENV",
		Description: "Renders the Deployment (image by digest), Service and Ingress from slipway.yaml and\n" +
			"pod.yml, applies them server-side (field manager slipway) and waits for THIS rollout's\n" +
			"verdict: done, or failed with the reason (crash loops, image pull errors, unschedulable\n" +
			"pods, quota, the progress deadline) without waiting out the timeout. A failed rollout\n" +
			"is rolled back and waited for, unless --no-rollback. Deploying what already runs is a\n" +
			"no-op. The image is the environment registry's APP:VERSION for the version at HEAD.",
		Flags: append([]cli.Flag{
			noDepsFlag(),
			&cli.BoolFlag{Name: "dry-run", Usage: "print the rendered manifests; touch nothing"},
			&cli.BoolFlag{Name: "diff", Usage: "show what would change against what is live (server-side dry run)"},
			&cli.StringFlag{Name: "version", Usage: "deploy this `VERSION` instead of the one at HEAD"},
			&cli.StringFlag{Name: "digest", Usage: "deploy exactly this `sha256:...` from the environment's registry"},
			&cli.DurationFlag{Name: "timeout", Usage: "how long to wait for a verdict (default: deploy.timeout)"},
			&cli.BoolFlag{Name: "no-rollback", Usage: "leave a failed rollout as it is"},
			&cli.BoolFlag{Name: "force-conflicts", Usage: "take over fields another field manager owns"},
			&cli.StringFlag{Name: "reason", Usage: "why, recorded with the deploy"},
			&cli.BoolFlag{Name: "skip-gate", Usage: "deploy although the required environment does not run this digest (needs --reason)"},
		}, clusterFlags()...),
		Action: action(func(e *env) error {
			a, p, err := e.projectArgs(1, 1, "ENV")
			if err != nil {
				return err
			}
			var deps []ship.StepResult
			goal := ship.Step{Kind: ship.KindDeploy, Env: a[0]}
			_, envErr := p.Environment(a[0])
			plain := !e.c.Bool("dry-run") && !e.c.Bool("diff") && e.c.String("version") == "" && e.c.String("digest") == ""
			if envErr == nil && plain {
				if deps, err = e.withDeps(p, goal); err != nil {
					return err
				}
			}
			start := time.Now()
			res, err := ship.Deploy(e.ctx, p, a[0], ship.DeployOptions{
				Options: e.shipOptions(),
				Cluster: e.clusterOptions(),
				Version: e.c.String("version"), Digest: e.c.String("digest"),
				DryRun: e.c.Bool("dry-run"), Diff: e.c.Bool("diff"), Timeout: e.c.Duration("timeout"),
				NoRollback: e.c.Bool("no-rollback"), ForceConflicts: e.c.Bool("force-conflicts"), Reason: e.c.String("reason"),
				SkipGate: e.c.Bool("skip-gate"),
			})
			e.summary(deps, goal, res.UpToDate, err, start)
			if err != nil {
				return err
			}
			switch {
			case e.c.Bool("dry-run"):
				if e.json {
					return e.printJSON(res)
				}
				for _, w := range res.Warnings {
					e.ui.Report(progress.Event{Kind: progress.Warn, Step: "deploy", Msg: w})
				}
				_, err := e.ui.Out.Write(res.Manifests)
				return err
			case e.c.Bool("diff"):
				if res.Diff == "" {
					e.ui.Report(progress.Event{Kind: progress.Skip, Step: "diff", Msg: "no changes"})
				}
				return e.result(res, strings.TrimRight(res.Diff, "\n"))
			case res.Note != "":
				e.ui.Report(progress.Event{Kind: progress.Skip, Step: "deploy", Msg: res.Note})
			case res.UpToDate:
				e.ui.Report(progress.Event{Kind: progress.Skip, Step: "deploy", Msg: fmt.Sprintf("%s %s already runs in %s", p.App, res.Version, res.Env)})
			default:
				e.ui.Report(progress.Event{Kind: progress.Finish, Step: "deploy", Msg: fmt.Sprintf(
					"%s %s runs in %s (revision %d, %.1fs)", p.App, res.Version, res.Env, res.Revision, res.Seconds)})
			}
			return e.result(res, res.Image)
		}),
	}
}
