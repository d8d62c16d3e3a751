package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/short"
)

func clusterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "context", Usage: "kubeconfig `CONTEXT` (default: the environment's)"},
		&cli.StringFlag{Name: "kubeconfig", Usage: "kubeconfig `FILE` (default: the environment's, $KUBECONFIG, ~/.kube/config)"},
	}
}

func (c *command) clusterOptions() flow.ClusterOptions {
	return flow.ClusterOptions{Context: c.flags.String("context"), Kubeconfig: c.flags.String("kubeconfig")}
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show which version runs in which environment",
		ArgsUsage: "[ENV]",
		Description: "A table of every environment: version, digest, ready of desired, when and by whom\n" +
			"it was deployed, health, and drift (the registry's tag and the pods disagree, an image\n" +
			"changed behind Slipway's back, a canary ahead of its environment). When an environment\n" +
			"has a verify section, VERIFIED says whether what it runs passes it as a deploy would\n" +
			"check it: yes, no (the reason in NOTES), ? when the key or registry could not be read,\n" +
			"- for environments without one (JSON: verify.state). Environments are queried in\n" +
			"parallel; one whose cluster cannot be reached is shown as such. With ENV, pod by pod.\n" +
			"A GitOps environment's NOTES start with its repository's head and what the last commit\n" +
			"of the app's file holds (version, digest, who: from its trailers; JSON: gitops).\n" +
			"With --all, no project: every app Slipway deployed in the kubeconfig contexts given\n" +
			"(--context, repeatable; default the current one), read with list calls, one row per app\n" +
			"and environment; --html FILE also writes the fleet page (docs/fleet.md).",
		Flags: statusFlags(),
		Action: action(func(c *command) error {
			if c.flags.Bool("all") {
				return c.statusAll()
			}
			co, err := c.statusClusterOptions()
			if err != nil {
				return err
			}
			a, p, err := c.projectArgs(0, 1, "[ENV]")
			if err != nil {
				return err
			}
			st, err := runner(p).Status(c.ctx, a, flow.StatusOptions{Options: c.options(), Cluster: co, Pods: len(a) == 1})
			if err != nil {
				return err
			}
			if c.json {
				if len(a) == 1 {
					return c.printJSON(st[0])
				}
				return c.printJSON(st)
			}
			verifying := false
			for _, env := range p.Environments {
				verifying = verifying || env.Verify != nil
			}
			c.statusTable(st, verifying)
			if len(a) == 1 {
				c.podTable(st[0])
			}
			return nil
		}),
	}
}

// statusTable prints one row per environment; the VERIFIED column only
// when verifying, that is when an environment has a verify section.
func (c *command) statusTable(st []flow.EnvStatus, verifying bool) {
	rows := make([][]string, 0, len(st))
	for _, s := range st {
		notes := s.Drift
		if s.Verify != nil && s.Verify.Problem != "" {
			notes = append(notes, s.Verify.State+": "+s.Verify.Problem)
		}
		if s.Error != "" {
			notes = []string{s.Error}
		}
		if s.GitOps != nil {
			notes = append([]string{gitOpsText(*s.GitOps)}, notes...)
		}
		if note := checksNote(s); note != "" {
			notes = append(notes, note)
		}
		text := strings.Join(notes, "; ")
		row := []string{s.Env, dash(s.Version), shortDigest(s.Digest), readyText(s),
			ago(s.DeployedAt), dash(s.DeployedBy), string(s.Health)}
		if verifying {
			row = append(row, verifiedText(s.Verify))
		}
		rows = append(rows, append(row, text))
	}
	header := []string{"ENV", "VERSION", "DIGEST", "READY", "DEPLOYED", "BY", "HEALTH"}
	if verifying {
		header = append(header, "VERIFIED")
	}
	c.ui.Table(append(header, "NOTES"), rows)
}

// checksNote is the note of the last checks run in the environment: which
// passed, or which failed and why, and when; "" when none ran.
func checksNote(s flow.EnvStatus) string {
	rec := s.Checks
	if rec == nil || len(rec.Checks) == 0 {
		return ""
	}
	of := ""
	if rec.Digest != s.Digest {
		of = " for " + dash(rec.Version)
	}
	if rec.Passed {
		names := make([]string, len(rec.Checks))
		for i, r := range rec.Checks {
			names[i] = r.Check
		}
		return fmt.Sprintf("checks passed%s %s: %s", of, ago(rec.At), strings.Join(names, ", "))
	}
	last := rec.Checks[len(rec.Checks)-1]
	return fmt.Sprintf("checks failed%s %s: %s: %s", of, ago(rec.At), last.Check, last.Message)
}

// gitOpsText is the note of a GitOps environment: the repository's head
// and what its last commit of the app's file holds.
func gitOpsText(g flow.GitOpsStatus) string {
	where := fmt.Sprintf("git %s:%s", g.Branch, g.Path)
	switch {
	case g.Error != "":
		return where + ": " + g.Error
	case g.Head == "":
		return where + ": the branch does not exist yet"
	case g.Commit == "":
		return fmt.Sprintf("%s at %s: nothing committed for the app", where, g.Head[:min(12, len(g.Head))])
	}
	return fmt.Sprintf("%s at %s: %s %s (commit %s by %s)", where, g.Head[:min(12, len(g.Head))],
		dash(g.Version), shortDigest(g.Digest), g.Commit[:min(12, len(g.Commit))], dash(g.By))
}

// verifiedText is the VERIFIED column: yes, no (a deploy would be
// refused), ? (not checked), or - (no verify section, or nothing runs).
func verifiedText(v *flow.VerifyStatus) string {
	switch {
	case v == nil:
		return "-"
	case v.State == flow.Verified:
		return "yes"
	case v.State == flow.Unverified:
		return "no"
	}
	return "?"
}

func (c *command) podTable(s flow.EnvStatus) {
	if len(s.Pods) == 0 {
		return
	}
	c.ui.Println("")
	rows := make([][]string, 0, len(s.Pods))
	for _, p := range s.Pods {
		rows = append(rows, []string{p.Name, p.Phase, fmt.Sprint(p.Ready), dash(p.Node), fmt.Sprint(p.Restarts), ago(p.Started), p.Problem})
	}
	c.ui.Table([]string{"POD", "PHASE", "READY", "NODE", "RESTARTS", "STARTED", "PROBLEM"}, rows)
}

func readyText(s flow.EnvStatus) string {
	if s.Health == flow.Missing || s.Health == flow.Unreachable {
		return "-"
	}
	return fmt.Sprintf("%d/%d", s.Ready, s.Desired)
}

// shortDigest is a digest as the DIGEST columns show it: short.Digest
// without the algorithm, which is sha256 for every image.
func shortDigest(d string) string {
	return dash(strings.TrimPrefix(short.Digest(d), "sha256:"))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ago says how long ago t was, coarsely.
func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func historyCommand() *cli.Command {
	return &cli.Command{
		Name:        "history",
		Usage:       "list an environment's revisions: version, digest, when, who, why",
		ArgsUsage:   "ENV",
		Description: "The revisions Kubernetes keeps for the environment's Deployment, newest first, with\nthe version, digest, time, person and reason Slipway recorded. For a GitOps environment,\nthe commits of the environment repository that changed the app's file, with their trailers.",
		Flags:       clusterFlags(),
		Action: action(func(c *command) error {
			a, r, err := c.runnerArgs(1, 1, "ENV")
			if err != nil {
				return err
			}
			hist, err := r.History(c.ctx, a[0], flow.HistoryOptions{Cluster: c.clusterOptions()})
			if err != nil {
				return err
			}
			if c.json {
				return c.printJSON(hist)
			}
			rows := make([][]string, 0, len(hist))
			for _, r := range hist {
				mark := ""
				if r.Current {
					mark = "*"
				}
				rev := fmt.Sprint(r.Revision)
				if r.Commit != "" {
					rev = short.Commit(r.Commit)
				}
				rows = append(rows, []string{rev + mark, dash(r.Version), shortDigest(r.Digest),
					r.DeployedAt.UTC().Format(time.RFC3339), dash(r.DeployedBy), r.Reason})
			}
			c.ui.Table([]string{"REVISION", "VERSION", "DIGEST", "DEPLOYED", "BY", "REASON"}, rows)
			return nil
		}),
	}
}
