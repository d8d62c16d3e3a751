package cli

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/release"
)

// releaseProject checks that no arguments were given and returns
// slipway.yaml, or its defaults when the project has no slipway.yaml yet:
// versioning works in any git repository.
func (e *env) releaseProject() (*config.Project, error) {
	if _, err := e.args(0, 0, ""); err != nil {
		return nil, err
	}
	p, err := e.project()
	if errors.Is(err, config.ErrNotFound) {
		p, err = config.ParseProject(config.ProjectFile, []byte("apiVersion: slipway/v1\napp: app\n"))
		if p != nil {
			p.Dir = e.dir
		}
	}
	return p, err
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print the project's version from its git tags",
		ArgsUsage: " ",
		Description: "On a commit with a release tag, that version. With commits after the last release,\n" +
			"the next version with the snapshot suffix, e.g. 1.4.3-SNAPSHOT. -o json adds the tag,\n" +
			"commit, dirty flag and commits since the tag. (Slipway's own version: slipway --version.)",
		Action: action(func(e *env) error {
			p, err := e.releaseProject()
			if err != nil {
				return err
			}
			info, err := runner(p).Version()
			if err != nil {
				return err
			}
			return e.result(info, info.Version)
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
		Action: action(func(e *env) error {
			p, err := e.releaseProject()
			if err != nil {
				return err
			}
			o, err := flow.ReleaseOptions(p)
			if err != nil {
				return err
			}
			o.Progress = e.ui
			if b := e.c.String("bump"); b != "" {
				switch b {
				case "auto", "major", "minor", "patch":
					o.Bump = b
				default:
					return usagef("--bump %s: valid values are auto, major, minor, patch", b)
				}
			}
			if r := e.c.String("remote"); r != "" {
				o.Remote = r
			}
			o.Pre, o.Version, o.Message = e.c.String("pre"), e.c.String("version"), e.c.String("message")
			o.DryRun, o.Push, o.AllowDirty = e.c.Bool("dry-run"), e.c.Bool("push"), e.c.Bool("allow-dirty")
			res, err := release.Release(e.ctx, o)
			if err != nil {
				return err
			}
			return e.result(res, releaseText(e, res))
		}),
	}
}

func releaseText(e *env, r release.Result) string {
	switch {
	case r.UpToDate:
		e.ui.Report(progress.Event{Kind: progress.Skip, Step: "release", Msg: fmt.Sprintf("HEAD is already released as %s", r.Tag)})
	case r.DryRun:
		e.ui.Report(progress.Event{Kind: progress.Info, Step: "release", Msg: "dry run: nothing was changed"})
		e.ui.Report(progress.Event{Kind: progress.Finish, Step: "release", Msg: fmt.Sprintf("would tag %.7s as %s (%s)", r.Commit, r.Tag, fromText(r))})
	default:
		msg := fmt.Sprintf("tagged %.7s as %s (%s)", r.Commit, r.Tag, fromText(r))
		e.ui.Report(progress.Event{Kind: progress.Finish, Step: "release", Msg: msg})
	}
	return r.Version
}

func fromText(r release.Result) string {
	if r.Previous == "" {
		return "first release"
	}
	if r.Bump == "" || r.Bump == "none" {
		return "after " + r.Previous
	}
	return r.Bump + " after " + r.Previous
}
