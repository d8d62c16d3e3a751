package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
)

// releaseProject checks that no arguments were given and returns the
// runner of slipway.yaml, or of its defaults when the project has none
// yet.
func (c *command) releaseProject() (*flow.Runner, error) {
	if _, err := c.args(0, 0, ""); err != nil {
		return nil, err
	}
	p, err := flow.ReleaseProject(c.dir)
	if err != nil {
		return nil, err
	}
	return runner(p), nil
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print the project's version from its git tags",
		ArgsUsage: " ",
		Description: "On a commit with a release tag, that version. With commits after the last release,\n" +
			"the next version with the snapshot suffix, e.g. 1.4.3-SNAPSHOT. -o json adds the tag,\n" +
			"commit, dirty flag and commits since the tag. (Slipway's own version: slipway --version.)",
		Action: action(func(c *command) error {
			r, err := c.releaseProject()
			if err != nil {
				return err
			}
			info, err := r.Version()
			if err != nil {
				return err
			}
			return c.result(info, info.Version)
		}),
	}
}

func releaseCommand() *cli.Command {
	return &cli.Command{
		Name:      "release",
		Usage:     "tag the repository with the next semantic version",
		ArgsUsage: " ",
		Description: "Creates an annotated tag for the next version. --bump auto reads conventional commits\n" +
			"since the last release: feat -> minor, fix -> patch, ! or BREAKING CHANGE -> major,\n" +
			"anything else -> release.defaultBump. --pre rc makes or continues 1.5.0-rc.1, -rc.2;\n" +
			"a later release without --pre finalises 1.5.0. On a commit already released it does\n" +
			"nothing. --push pushes only the new tag; if that fails the local tag is removed.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bump", Usage: "auto, major, minor or patch (default: release.bump)"},
			&cli.StringFlag{Name: "pre", Usage: "make a pre-release with this `ID`, e.g. rc"},
			&cli.StringFlag{Name: "version", Aliases: []string{"set-version"}, Usage: "release exactly `X.Y.Z` (no prefix)"},
			&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "tag message (default: Release VERSION)"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print what would be tagged; change nothing"},
			&cli.BoolFlag{Name: "push", Usage: "push the new tag (only the tag) to release.remote"},
			&cli.StringFlag{Name: "remote", Usage: "git remote to push to (default: release.remote, origin)"},
			&cli.BoolFlag{Name: "allow-dirty", Usage: "release even with uncommitted changes"},
		},
		Action: action(func(c *command) error {
			r, err := c.releaseProject()
			if err != nil {
				return err
			}
			bump := c.flags.String("bump")
			switch bump {
			case "", "auto", "major", "minor", "patch":
			default:
				return usagef("--bump %s: valid values are auto, major, minor, patch", bump)
			}
			res, err := r.Release(c.ctx, flow.ReleaseOptions{Options: c.options(), Bump: bump, Remote: c.flags.String("remote"),
				Pre: c.flags.String("pre"), Version: c.flags.String("version"), Message: c.flags.String("message"),
				DryRun: c.flags.Bool("dry-run"), Push: c.flags.Bool("push"), AllowDirty: c.flags.Bool("allow-dirty")})
			if err != nil {
				return err
			}
			return c.result(res, releaseText(c, res))
		}),
	}
}

func releaseText(c *command, r flow.ReleaseResult) string {
	switch {
	case r.UpToDate:
		c.ui.Report(progress.Event{Kind: progress.Skip, Step: "release", Msg: fmt.Sprintf("HEAD is already released as %s", r.Tag)})
	case r.DryRun:
		c.ui.Report(progress.Event{Kind: progress.Info, Step: "release", Msg: "dry run: nothing was changed"})
		c.ui.Report(progress.Event{Kind: progress.Finish, Step: "release", Msg: fmt.Sprintf("would tag %.7s as %s (%s)", r.Commit, r.Tag, fromText(r))})
	default:
		msg := fmt.Sprintf("tagged %.7s as %s (%s)", r.Commit, r.Tag, fromText(r))
		c.ui.Report(progress.Event{Kind: progress.Finish, Step: "release", Msg: msg})
	}
	return r.Version
}

func fromText(r flow.ReleaseResult) string {
	if r.Previous == "" {
		return "first release"
	}
	if r.Bump == "" || r.Bump == "none" {
		return "after " + r.Previous
	}
	return r.Bump + " after " + r.Previous
}
