package cli

import (
	"errors"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/progress"
)

func pipelineCommand() *cli.Command {
	return &cli.Command{
		Name:        "pipeline",
		Usage:       "generate CI configuration from ci.yaml",
		Subcommands: []*cli.Command{pipelineGenerateCommand(), pipelineCheckCommand(), pipelineBootstrapCommand()},
	}
}

func pipelineGenerateCommand() *cli.Command {
	return &cli.Command{
		Name:      "generate",
		Usage:     "write the CI configuration of one CI system",
		ArgsUsage: " ",
		Description: "Targets: " + targetNames() + ". Every CI step runs `slipway ...` or\n" +
			"`slipway ci TASK`, so CI does what a developer does; approve: true becomes the\n" +
			"target's own manual gate. The output is the same, byte for byte, for the same input.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Aliases: []string{"t"}, Required: true, Usage: "`TARGET`: " + targetNames()},
			&cli.StringFlag{Name: "out", Usage: "write under `DIR` instead of the repository's root"},
			&cli.StringFlag{Name: "folder", Usage: "Jenkins `FOLDER` for the jobs (default: the app name)"},
			&cli.StringFlag{Name: "branch", Usage: "`BRANCH` CI runs on when ci.yaml names none (default main)"},
			slipwayChecksumsFlag(), slipwayVersionFlag(),
		},
		Action: action(func(c *command) error {
			if _, err := c.args(0, 0, ""); err != nil {
				return err
			}
			t, err := flow.ParseTarget(c.flags.String("target"))
			if err != nil {
				return usageError{err}
			}
			p, o, err := c.pipelineOptions()
			if err != nil {
				return err
			}
			written, err := flow.GeneratePipeline(p, t, c.flags.String("out"), o)
			if err != nil {
				return err
			}
			for _, f := range written {
				c.ui.Report(progress.Event{Kind: progress.Finish, Step: "pipeline", Msg: "wrote " + f})
			}
			return c.result(map[string]any{"target": t, "files": written}, strings.Join(written, "\n"))
		}),
	}
}

func pipelineCheckCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "fail with a diff when committed generated files have drifted from ci.yaml",
		ArgsUsage: " ",
		Flags:     []cli.Flag{slipwayChecksumsFlag(), slipwayVersionFlag()},
		Action: action(func(c *command) error {
			p, o, err := c.pipelineOptions()
			if err != nil {
				return err
			}
			checked, err := flow.CheckPipeline(p, o)
			var drift *flow.DriftError
			if errors.As(err, &drift) {
				c.ui.Print(drift.Diff)
			}
			if err != nil {
				return err
			}
			for _, f := range checked {
				c.ui.Report(progress.Event{Kind: progress.Finish, Step: "pipeline", Msg: f + " matches ci.yaml"})
			}
			return nil
		}),
	}
}

func pipelineBootstrapCommand() *cli.Command {
	return &cli.Command{
		Name:      "bootstrap",
		Usage:     "print one Job DSL seed script for many projects",
		ArgsUsage: " ",
		Description: "The seed creates a folder and a bootstrap job per project; each bootstrap job then\n" +
			"builds out its project's own pipeline from its ci.yaml. Projects come from\n" +
			"--projects projects.yaml (projects: [{name, repo, branch, dir, credentials}]) or\n" +
			"from the checkouts under --checkouts DIR. The seed holds the projects as data, so\n" +
			"it compiles for any number of them. Names that would collide, values outside each\n" +
			"field's grammar and repo URLs holding a password or token are refused: give a\n" +
			"Jenkins credential ID in credentials instead.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "projects", Usage: "projects.yaml `FILE`"},
			&cli.StringFlag{Name: "checkouts", Usage: "`DIR` whose subdirectories are project checkouts"},
		},
		Action: action(func(c *command) error {
			file, dir := c.flags.String("projects"), c.flags.String("checkouts")
			if (file == "") == (dir == "") {
				return usagef("give either --projects FILE or --checkouts DIR")
			}
			out, err := flow.Bootstrap(file, dir)
			if err != nil {
				return err
			}
			return c.ui.Document(out)
		}),
	}
}

func targetNames() string {
	var names []string
	for _, t := range flow.Targets() {
		names = append(names, string(t))
	}
	return strings.Join(names, ", ")
}

func slipwayChecksumsFlag() cli.Flag {
	return &cli.StringFlag{Name: "slipway-checksums", Usage: "make every job install the Slipway release whose goreleaser checksums.txt is `FILE`, checked against the checksums pinned in the generated file"}
}

func slipwayVersionFlag() cli.Flag {
	return &cli.StringFlag{Name: "slipway-version", Usage: "the Slipway `VERSION` jobs use: the tag of agent.slipwayImage, and the release --slipway-checksums names (default: this Slipway's)"}
}

// pipelineOptions loads slipway.yaml and returns it with the options of
// pipeline generate and check: --folder, --branch (generate's only) and
// the Slipway release jobs use.
func (c *command) pipelineOptions() (*config.Project, flow.PipelineOptions, error) {
	p, err := c.project()
	if err != nil {
		return nil, flow.PipelineOptions{}, err
	}
	install, err := c.slipwayInstall()
	if err != nil {
		return nil, flow.PipelineOptions{}, err
	}
	return p, flow.PipelineOptions{Folder: c.flags.String("folder"), Branch: c.flags.String("branch"), Slipway: install}, nil
}

// slipwayInstall reads --slipway-checksums and --slipway-version. Without
// checksums it returns only the version (the flag's, else this Slipway's
// release version, linked in or recorded by go install), which tags
// agent.slipwayImage and GitHub jobs go install, or nil when there is none.
func (c *command) slipwayInstall() (*flow.Install, error) {
	file, v := c.flags.String("slipway-checksums"), c.flags.String("slipway-version")
	if file == "" {
		if v == "" {
			// A build that is no release (a dev build) pins nothing.
			install, _ := flow.SlipwayVersion(releaseVersion())
			return install, nil
		}
		install, err := flow.SlipwayVersion(v)
		if err != nil {
			return nil, usageError{err}
		}
		return install, nil
	}
	data, err := flow.ReadChecksums(file)
	if err != nil {
		return nil, usagef("reading --slipway-checksums: %v", err)
	}
	if v == "" {
		v = releaseVersion()
	}
	if v == "" {
		return nil, usagef("this Slipway has no release version; give --slipway-version VERSION")
	}
	install, err := flow.SlipwayChecksums(v, data)
	if err != nil {
		return nil, usageError{err}
	}
	return install, nil
}
