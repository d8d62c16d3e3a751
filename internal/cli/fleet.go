package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
)

// statusFlags are status's: the cluster flags with --context taken more
// than once for --all, and the fleet's filters and page.
func statusFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringSliceFlag{Name: "context", Usage: "kubeconfig `CONTEXT` (default: the environment's); with --all, repeat it to read several (default: the current one)"},
		&cli.StringFlag{Name: "kubeconfig", Usage: "kubeconfig `FILE` (default: the environment's, $KUBECONFIG, ~/.kube/config)"},
		&cli.BoolFlag{Name: "all", Usage: "every app Slipway deployed in the contexts, without a project (docs/fleet.md)"},
	}
	flags = append(flags, fleetFlags("with --all, ")...)
	return append(flags, &cli.StringFlag{Name: "html", Usage: "with --all, also write the fleet page to `FILE` (relative to -C, or absolute)"})
}

// fleetFlags choose what of the fleet to show, and bound its reading;
// each usage starts with prefix.
func fleetFlags(prefix string) []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "app", Usage: prefix + "only `APP` (repeatable)"},
		&cli.StringSliceFlag{Name: "env", Usage: prefix + "only environment `ENV` (repeatable)"},
		&cli.StringSliceFlag{Name: "label", Usage: prefix + "only what runs pods labelled `KEY=VALUE` (or KEY), such as a team set in pod.yml (repeatable)"},
		&cli.BoolFlag{Name: "failed", Usage: prefix + "only what is degraded or whose last deploy was rolled back"},
		&cli.BoolFlag{Name: "drift", Usage: prefix + "only what runs otherwise than Slipway deployed it (with --registries, or whose version tag points elsewhere)"},
		&cli.BoolFlag{Name: "registries", Usage: prefix + "also ask each image's registry: its signature, its promotion record, where its version tag points"},
		&cli.BoolFlag{Name: "unsigned", Usage: prefix + "only what runs an image without a valid signature (asks the registries)"},
		&cli.StringFlag{Name: "key", Usage: prefix + "verify signatures with the cosign public key `KEY` (a file, or env://NAME; asks the registries)"},
		&cli.StringSliceFlag{Name: "git-host", Usage: prefix + "send SLIPWAY_GIT_TOKEN (or SLIPWAY_GIT_USERNAME and _PASSWORD) to git `HOST` when reading GitOps environments' repositories, which cluster objects name (repeatable)"},
		&cli.DurationFlag{Name: "cluster-timeout", Value: 10 * time.Second, Usage: prefix + "how long each cluster has to answer"},
	}
}

// fleetOptions are the fleet's contexts, filters and bound from the
// flags.
func (c *command) fleetOptions() flow.FleetOptions {
	return flow.FleetOptions{
		Contexts: c.flags.StringSlice("context"), Kubeconfig: c.flags.String("kubeconfig"),
		Timeout: c.flags.Duration("cluster-timeout"),
		Filter: flow.FleetFilter{Apps: c.flags.StringSlice("app"), Envs: c.flags.StringSlice("env"), Labels: c.flags.StringSlice("label"),
			Failed: c.flags.Bool("failed"), Drift: c.flags.Bool("drift"), Unsigned: c.flags.Bool("unsigned")},
		Registries: c.flags.Bool("registries") || c.flags.String("key") != "", Key: c.flags.String("key"), UserAgent: UserAgent(),
		GitHosts: c.flags.StringSlice("git-host"),
	}
}

func serveCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "addr", Value: "127.0.0.1:7070", Usage: "listen on `HOST:PORT` (loopback by default; on loopback only requests for a loopback host are answered)"},
		&cli.StringSliceFlag{Name: "host", Usage: "off loopback, also answer requests for host `NAME` (repeatable); its IP addresses, localhost and this machine's name are answered always, other names never (DNS rebinding)"},
		&cli.DurationFlag{Name: "refresh", Value: 30 * time.Second, Usage: "how often the page reloads and the clusters are read again (at least 1s)"},
		&cli.StringSliceFlag{Name: "context", Usage: "kubeconfig `CONTEXT` to read (repeatable; default: the current one)"},
		&cli.StringFlag{Name: "kubeconfig", Usage: "kubeconfig `FILE` (default: $KUBECONFIG, ~/.kube/config)"},
	}
	return &cli.Command{
		Name:  "serve",
		Usage: "serve the fleet page live, read-only (docs/fleet.md)",
		Description: "The page of status --all --html, served until Ctrl-C: it reloads itself every --refresh\n" +
			"and the clusters are read again at most that often, however many readers there are. Only\n" +
			"GET and HEAD of / and /fleet.json (the JSON of status --all -o json). No project needed.",
		Flags: append(flags, fleetFlags("")...),
		Action: action(func(c *command) error {
			if _, err := c.args(0, 0, ""); err != nil {
				return err
			}
			if c.flags.Duration("refresh") < time.Second {
				return usagef("--refresh %s: at least 1s", c.flags.Duration("refresh"))
			}
			return flow.ServeFleet(c.ctx, flow.ServeOptions{FleetOptions: c.fleetOptions(), Addr: c.flags.String("addr"), Hosts: c.flags.StringSlice("host"),
				Refresh: c.flags.Duration("refresh"), Listening: func(url string) {
					c.ui.Report(progress.Event{Kind: progress.Finish, Step: "serve", Msg: "serving the fleet page on " + url + " (read-only; Ctrl-C stops)"})
				}})
		}),
	}
}

// statusClusterOptions are the cluster options of a project's status:
// one context at most.
func (c *command) statusClusterOptions() (flow.ClusterOptions, error) {
	for _, n := range []string{"app", "env", "label", "failed", "drift", "html", "cluster-timeout", "registries", "unsigned", "key", "git-host"} {
		if c.flags.IsSet(n) {
			return flow.ClusterOptions{}, usagef("--%s needs --all", n)
		}
	}
	ctxs := c.flags.StringSlice("context")
	if len(ctxs) > 1 {
		return flow.ClusterOptions{}, usagef("--context: one context for a project's status; several need --all")
	}
	o := flow.ClusterOptions{Kubeconfig: c.flags.String("kubeconfig")}
	if len(ctxs) == 1 {
		o.Context = ctxs[0]
	}
	return o, nil
}

// statusAll is status --all: the fleet across contexts, as a table or
// JSON, and the page with --html.
func (c *command) statusAll() error {
	if _, err := c.args(0, 0, ""); err != nil {
		return usagef("status --all takes no ENV; choose environments with --env")
	}
	f, err := flow.ReadFleet(c.ctx, c.fleetOptions())
	if err != nil {
		return err
	}
	if file := c.flags.String("html"); file != "" {
		path, err := flow.WriteFleetPage(c.dir, file, f)
		if err != nil {
			return fmt.Errorf("writing the fleet page: %w", err)
		}
		c.ui.Report(progress.Event{Kind: progress.Finish, Step: "status", Msg: "wrote the fleet page " + path})
	}
	if c.json {
		return c.printJSON(f)
	}
	c.fleetTable(f)
	return nil
}

// fleetTable prints one row per app and environment, then one per
// cluster that did not answer.
func (c *command) fleetTable(f flow.Fleet) {
	rows := make([][]string, 0, len(f.Rows)+len(f.Clusters))
	for _, r := range f.Rows {
		rows = append(rows, []string{r.App, r.Env, r.Context, dash(r.Version), shortDigest(r.Digest), string(r.State),
			ago(r.DeployedAt), dash(r.DeployedBy), dash(r.Reason), strings.Join(flow.FleetNotes(r, f.GeneratedAt), "; ")})
	}
	for _, cl := range f.Clusters {
		if !cl.Reachable {
			rows = append(rows, []string{"-", "-", cl.Context, "-", "-", string(flow.Unreachable), "-", "-", "-", cl.Error})
		}
	}
	c.ui.Table([]string{"APP", "ENV", "CONTEXT", "VERSION", "DIGEST", "STATE", "DEPLOYED", "BY", "WHY", "NOTES"}, rows)
}
