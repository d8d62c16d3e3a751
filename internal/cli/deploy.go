package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/short"
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
			"no-op. The image is the environment registry's APP:VERSION for the version at HEAD.\n\n" +
			"Then the environment's checks (deploy.checks, environments.ENV.checks) run on the new\n" +
			"pods: HTTP requests through the API server's pod proxy, ci.yaml tasks, Jobs in the\n" +
			"environment's namespace, and Prometheus queries held over a window. A failing check\n" +
			"fails the rollout (CheckFailed, with the tail of its output), which is rolled back\n" +
			"(exit 5). See docs/verification.md.\n\n" +
			"A GitOps environment (environments.ENV.gitops) gets a commit instead: the same manifests\n" +
			"as APP.yaml under its path in the environment repository, with Slipway-* trailers, pushed\n" +
			"fast-forward; the engine (Flux, Argo CD) is nudged and the verdict is waited for on that\n" +
			"exact commit: a failure is reverted (exit 5), a newer commit supersedes it (exit 6), or\n" +
			"the engine does not pick it up (exit 7). --no-wait ends at the push (\"committed, verdict\n" +
			"pending\"). See docs/gitops.md.\n\n" +
			lockHelp("deploy"),
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
			&cli.BoolFlag{Name: "no-wait", Usage: "GitOps environments: end once the commit is pushed, with the verdict pending (for CI that cannot reach the cluster)"},
		}, append(lockFlags(), clusterFlags()...)...),
		Action: action(func(c *command) error {
			a, r, err := c.runnerArgs(1, 1, "ENV")
			if err != nil {
				return err
			}
			ran, err := r.DeployGoal(c.ctx, a[0], flow.DeployOptions{
				Options: c.options(), Cluster: c.clusterOptions(),
				DryRun: c.flags.Bool("dry-run"), Diff: c.flags.Bool("diff"),
				Version: c.flags.String("version"), Digest: c.flags.String("digest"), Timeout: c.flags.Duration("timeout"),
				NoRollback: c.flags.Bool("no-rollback"), ForceConflicts: c.flags.Bool("force-conflicts"), Reason: c.flags.String("reason"),
				SkipGate: c.flags.Bool("skip-gate"), WaitLock: waitLock(c), BreakLock: c.flags.Bool("break-lock"),
				NoWait: c.flags.Bool("no-wait"),
			})
			c.stepTable(ran.Steps)
			if err != nil {
				return err
			}
			return c.deployed(r.Project.App, ran.Result)
		}),
	}
}

// deployed prints what a deploy did: the manifests of a dry run, the diff,
// or the rollout's end.
func (c *command) deployed(app string, res flow.DeployResult) error {
	switch {
	case c.flags.Bool("dry-run"):
		if c.json {
			return c.printJSON(res)
		}
		for _, w := range res.Warnings {
			c.ui.Report(progress.Event{Kind: progress.Warn, Step: "deploy", Msg: w})
		}
		return c.ui.Document(res.Manifests)
	case c.flags.Bool("diff"):
		if res.Diff == "" {
			c.ui.Report(progress.Event{Kind: progress.Skip, Step: "diff", Msg: "no changes"})
		}
		return c.result(res, strings.TrimRight(res.Diff, "\n"))
	case res.GitOps != nil && res.GitOps.Outcome == flow.GitOpsSucceeded:
		g := res.GitOps
		c.ui.Report(progress.Event{Kind: progress.Finish, Step: "deploy", Msg: fmt.Sprintf(
			"%s %s runs in %s: %s applied commit %s (%.1fs)", app, res.Version, res.Env, g.Engine, short.Commit(g.Commit), res.Seconds)})
		return c.result(res, g.Outcome+" "+g.Commit)
	case res.GitOps != nil:
		return c.committed(app, *res.GitOps)
	case res.Note != "":
		c.ui.Report(progress.Event{Kind: progress.Skip, Step: "deploy", Msg: res.Note})
	case res.UpToDate:
		c.ui.Report(progress.Event{Kind: progress.Skip, Step: "deploy", Msg: fmt.Sprintf("%s %s already runs in %s", app, res.Version, res.Env)})
	default:
		c.ui.Report(progress.Event{Kind: progress.Finish, Step: "deploy", Msg: fmt.Sprintf(
			"%s %s runs in %s (revision %d, %.1fs)", app, res.Version, res.Env, res.Revision, res.Seconds)})
	}
	return c.result(res, res.Image)
}

// committed prints what a deploy to a GitOps environment committed.
func (c *command) committed(app string, g flow.GitOpsResult) error {
	commit := short.Commit(g.Commit)
	kind, msg := progress.Finish, fmt.Sprintf("%s %s committed to %s as %s (%s:%s/%s); verdict pending", app, g.Version, g.Env, commit, g.Branch, g.Path, g.File)
	if !g.Changed {
		kind, msg = progress.Skip, fmt.Sprintf("%s %s is already committed to %s at %s (%s:%s/%s): nothing to commit; verdict pending", app, g.Version, g.Env, commit, g.Branch, g.Path, g.File)
	}
	c.ui.Report(progress.Event{Kind: kind, Step: "deploy", Msg: msg})
	return c.result(g, g.Outcome+" "+g.Commit)
}

// lockHelp describes the deploy lock and interrupts for the help of
// command (deploy or rollback).
func lockHelp(command string) string {
	return "One deploy or rollback per environment at a time: " + command + " holds the environment's lock\n" +
		"(a Lease, slipway-lock-APP-ENV, in its namespace; a canary shares its main environment's,\n" +
		"since they share a Service) and renews it while it runs. Another run's lock fails at once\n" +
		"(exit 3) naming its holder and since when; --wait-lock waits for it. A lock left by a\n" +
		"killed run expires 30s after its last renewal and is then taken over. --break-lock\n" +
		"--reason takes it at once and records whose it was with the reason.\n\n" +
		interruptHelp[command]
}

// interruptHelp says what an interrupt of deploy or rollback leaves.
var interruptHelp = map[string]string{
	"deploy": "The first Ctrl-C or SIGTERM stops waiting and releases the lock (exit 130): a rollout\n" +
		"under way is not rolled back, it continues in the cluster, and the message says so;\n" +
		"`slipway status ENV` follows it. A second Ctrl-C exits at once.",
	"rollback": "The first Ctrl-C or SIGTERM stops waiting and releases the lock (exit 130): the\n" +
		"rollback continues in the cluster, and the message says so; `slipway status ENV`\n" +
		"follows it. A second Ctrl-C exits at once.",
}

// lockFlags are the deploy lock's flags of deploy and rollback.
func lockFlags() []cli.Flag {
	return []cli.Flag{
		&cli.GenericFlag{Name: "wait-lock", Value: &optionalDuration{bare: flow.WaitForever},
			Usage: "wait for another deploy or rollback of the environment to finish: as long as it takes, or up to --wait-lock=`DURATION`"},
		&cli.BoolFlag{Name: "break-lock", Usage: "take the environment's lock from whoever holds it (needs --reason; recorded)"},
	}
}

// waitLock is the value of --wait-lock: 0 when not given.
func waitLock(c *command) time.Duration {
	if v, ok := c.flags.Generic("wait-lock").(*optionalDuration); ok {
		return v.d
	}
	return 0
}

// optionalDuration is a flag value given bare (--wait-lock: bare) or with
// a duration (--wait-lock=5m). It reads as a boolean flag, so a bare one
// never takes the next argument for its value.
type optionalDuration struct {
	bare, d time.Duration
}

// Set takes "true" (the flag given bare), "false" or a duration.
func (v *optionalDuration) Set(s string) error {
	switch s {
	case "true":
		v.d = v.bare
		return nil
	case "false":
		v.d = 0
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is not a duration (e.g. 90s, 10m)", s)
	}
	v.d = d
	return nil
}

func (v *optionalDuration) String() string {
	if v == nil || v.d == 0 {
		return ""
	}
	if v.d == v.bare {
		return "true"
	}
	return v.d.String()
}

// IsBoolFlag lets the flag be given without a value.
func (v *optionalDuration) IsBoolFlag() bool { return true }
