package cli

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
)

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "work with slipway.yaml and ci.yaml",
		Subcommands: []*cli.Command{{
			Name:      "check",
			Usage:     "validate slipway.yaml and ci.yaml, reporting every problem at once",
			ArgsUsage: " ",
			Action: action(func(e *env) error {
				if _, err := e.args(0, 0, ""); err != nil {
					return err
				}
				checked, err := checkConfig(e.dir)
				if err != nil {
					return err
				}
				for _, f := range checked {
					e.ui.Report(progress.Event{Kind: progress.Finish, Step: "config", Msg: f + " is valid"})
				}
				return e.result(map[string]any{"valid": true, "files": checked}, "ok")
			}),
		}},
	}
}

// checkConfig validates slipway.yaml and, when present, ci.yaml, returning
// the files checked or every problem in both.
func checkConfig(dir string) ([]string, error) {
	checked := []string{config.ProjectFile}
	p, err := config.LoadProject(dir)
	var probs config.Problems
	if err != nil && !errors.As(err, &probs) {
		return nil, err
	}
	if _, statErr := os.Stat(filepath.Join(dir, config.CIFile)); statErr == nil {
		checked = append(checked, config.CIFile)
		if _, ciErr := config.LoadCI(dir, p); ciErr != nil {
			var more config.Problems
			if !errors.As(ciErr, &more) {
				return nil, ciErr
			}
			probs = append(probs, more...)
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return checked, nil
}

func schemaCommand() *cli.Command {
	return &cli.Command{
		Name:      "schema",
		Usage:     "print the JSON Schema of slipway.yaml, ci.yaml, or both",
		ArgsUsage: "[slipway.yaml|ci.yaml]",
		Description: "Without an argument the schema accepts either file. Point your editor's YAML\n" +
			"language server at it, e.g. `slipway schema slipway.yaml > .slipway.schema.json`.",
		Action: action(func(e *env) error {
			a, err := e.args(0, 1, "[slipway.yaml|ci.yaml]")
			if err != nil {
				return err
			}
			which := ""
			if len(a) == 1 {
				which = a[0]
			}
			out, err := config.Schema(which)
			if err != nil {
				return usageError{err}
			}
			return e.ui.Document(out)
		}),
	}
}
