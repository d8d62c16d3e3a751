package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/ui"
)

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build the image without a Docker daemon, reproducibly",
		ArgsUsage: " ",
		Description: "Builds image: from slipway.yaml into an OCI layout under .slipway/, one image per\n" +
			"platform combined into an index, stamped with the version and commit from git. File\n" +
			"times come from the commit (or SOURCE_DATE_EPOCH), so the same inputs give the same\n" +
			"digest anywhere. Unchanged inputs make it an up-to-date no-op. Prints the digest.\n\n" +
			"A layer source that is missing, which a ci.yaml task before build should make (such\n" +
			"as ciBuild's binary), is made first by running that task, its output on stderr;\n" +
			"--no-deps (as generated CI runs build, after that task's own step) names it instead.",
		Flags: []cli.Flag{
			noDepsFlag(),
			&cli.BoolFlag{Name: "refresh-base", Usage: "resolve the base image's tag again instead of reusing the pinned digest"},
		},
		Action: action(func(c *command) error {
			_, r, err := c.runnerArgs(0, 0, "")
			if err != nil {
				return err
			}
			res, err := r.Build(c.ctx, flow.BuildOptions{Options: c.options(), RefreshBase: c.flags.Bool("refresh-base")})
			if err != nil {
				return err
			}
			what := fmt.Sprintf("%s %s for %s", res.App, res.Version, platforms(res.Record))
			if res.UpToDate {
				c.ui.Report(progress.Event{Kind: progress.Skip, Step: "build", Msg: what + " is up to date"})
			} else {
				c.ui.Report(progress.Event{Kind: progress.Finish, Step: "build", Msg: "built " + what})
			}
			return c.result(buildJSON{BuildRecord: res.Record, Layout: res.Layout, UpToDate: res.UpToDate}, res.Digest)
		}),
	}
}

type buildJSON struct {
	flow.BuildRecord
	Layout   string `json:"layout"`
	UpToDate bool   `json:"upToDate"`
}

func platforms(r flow.BuildRecord) string {
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
		Action: action(func(c *command) error {
			a, r, err := c.runnerArgs(1, 1, "ENV")
			if err != nil {
				return err
			}
			ran, err := r.PushGoal(c.ctx, a[0], flow.PushOptions{Options: c.options(),
				Force: c.flags.Bool("force"), AllowStale: c.flags.Bool("allow-stale")})
			c.stepTable(ran.Steps)
			if err != nil {
				return err
			}
			res := ran.Result
			if res.UpToDate {
				c.ui.Report(progress.Event{Kind: progress.Skip, Step: "push", Msg: "already pushed: " + strings.Join(res.Tags, ", ")})
			} else {
				c.ui.Report(progress.Event{Kind: progress.Finish, Step: "push", Msg: fmt.Sprintf(
					"pushed %s (%d blobs uploaded, %d mounted, %d already there; %s)",
					strings.Join(res.Tags, ", "), res.BlobsUploaded, res.BlobsMounted, res.BlobsSkipped, ui.Amount(res.Bytes, "B"))})
			}
			return c.result(res, res.Reference)
		}),
	}
}
