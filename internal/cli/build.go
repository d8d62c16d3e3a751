package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/ui"
)

// runner runs the flow's steps for p, with production clients.
func runner(p *config.Project) *flow.Runner { return flow.NewRunner(p, flow.Factory{Words: words}) }

func (e *env) shipOptions() flow.Options {
	return flow.Options{UserAgent: UserAgent(), Jobs: e.c.Int("jobs"), Progress: e.ui}
}

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build the image without a Docker daemon, reproducibly",
		ArgsUsage: " ",
		Description: "Builds image: from slipway.yaml into an OCI layout under .slipway/, one image per\n" +
			"platform combined into an index, stamped with the version and commit from git. File\n" +
			"times come from the commit (or SOURCE_DATE_EPOCH), so the same inputs give the same\n" +
			"digest anywhere. Unchanged inputs make it an up-to-date no-op. Prints the digest.",
		Flags: []cli.Flag{
			noDepsFlag(),
			&cli.BoolFlag{Name: "refresh-base", Usage: "resolve the base image's tag again instead of reusing the pinned digest"},
		},
		Action: action(func(e *env) error {
			if _, err := e.args(0, 0, ""); err != nil {
				return err
			}
			p, err := e.project()
			if err != nil {
				return err
			}
			r := runner(p)
			var res image.Result
			err = e.runGoal(r, flow.Step{Kind: flow.KindBuild}, false, func() (bool, string, error) {
				res, err = r.Build(e.ctx, flow.BuildOptions{Options: e.shipOptions(), RefreshBase: e.c.Bool("refresh-base")})
				return res.UpToDate, res.Digest, err
			})
			if err != nil {
				return err
			}
			what := fmt.Sprintf("%s %s for %s", res.App, res.Version, platforms(res.Record))
			if res.UpToDate {
				e.ui.Report(progress.Event{Kind: progress.Skip, Step: "build", Msg: what + " is up to date"})
			} else {
				e.ui.Report(progress.Event{Kind: progress.Finish, Step: "build", Msg: "built " + what})
			}
			return e.result(buildJSON{Record: res.Record, Layout: res.Layout, UpToDate: res.UpToDate}, res.Digest)
		}),
	}
}

type buildJSON struct {
	image.Record
	Layout   string `json:"layout"`
	UpToDate bool   `json:"upToDate"`
}

func platforms(r image.Record) string {
	var ps []string
	for _, p := range r.Platforms {
		ps = append(ps, p.Platform)
	}
	return strings.Join(ps, ", ")
}

func pushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "push the built image to an environment's registry",
		ArgsUsage: "ENV",
		Description: "Pushes the last build (every platform) as REGISTRY/APP:VERSION and\n" +
			"REGISTRY/APP:git-SHORTSHA and prints REGISTRY/APP@DIGEST. ENV is an environment\n" +
			"(its registry) or a registry name. Only blobs the registry lacks are uploaded, in\n" +
			"parallel; base layers already in the registry are mounted. Tags are written last,\n" +
			"so a failed push leaves no tag. A version tag never moves to another digest\n" +
			"without --force.\n\n" +
			"Credentials: SLIPWAY_REGISTRY_<NAME>_USERNAME and _PASSWORD, else the Docker\n" +
			"config and its credential helpers (docker login).",
		Flags: []cli.Flag{
			noDepsFlag(),
			&cli.IntFlag{Name: "jobs", Aliases: []string{"j"}, Usage: "parallel blob uploads (default 4)"},
			&cli.BoolFlag{Name: "force", Usage: "move a version tag that points at another digest"},
			&cli.BoolFlag{Name: "allow-stale", Usage: "push a build of another commit than HEAD"},
		},
		Action: action(func(e *env) error {
			a, p, err := e.projectArgs(1, 1, "ENV")
			if err != nil {
				return err
			}
			r := runner(p)
			var res image.PushResult
			err = e.runGoal(r, flow.Step{Kind: flow.KindPush, Env: a[0]}, true, func() (bool, string, error) {
				res, err = r.Push(e.ctx, a[0], flow.PushOptions{Options: e.shipOptions(),
					Force: e.c.Bool("force"), AllowStale: e.c.Bool("allow-stale")})
				return res.UpToDate, res.Reference, err
			})
			if err != nil {
				return err
			}
			if res.UpToDate {
				e.ui.Report(progress.Event{Kind: progress.Skip, Step: "push", Msg: "already pushed: " + strings.Join(res.Tags, ", ")})
			} else {
				e.ui.Report(progress.Event{Kind: progress.Finish, Step: "push", Msg: fmt.Sprintf(
					"pushed %s (%d blobs uploaded, %d mounted, %d already there; %s)",
					strings.Join(res.Tags, ", "), res.BlobsUploaded, res.BlobsMounted, res.BlobsSkipped, ui.Amount(res.Bytes, "B"))})
			}
			return e.result(res, res.Reference)
		}),
	}
}
