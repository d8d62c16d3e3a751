package cli

import (
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
)

// noDepsFlag is accepted by every step: run just this step, never the
// earlier steps it needs. Generated CI jobs pass it, since CI runs each
// step as a stage of its own.
func noDepsFlag() cli.Flag {
	return &cli.BoolFlag{Name: "no-deps", Usage: "run just this step, never the missing steps before it"}
}

var taskName = regexp.MustCompile(`^(buildImage|pushImageTo|promoteFrom|deployTo)`)

// isTask reports whether a word is a Gradle-style task name rather than a
// command, so `slipway deployToDev` means `slipway run deployToDev`.
func isTask(word string) bool { return taskName.MatchString(word) }

func tasksCommand() *cli.Command {
	return &cli.Command{
		Name:      "tasks",
		Usage:     "list the Gradle-style task names of this project",
		ArgsUsage: " ",
		Action: action(func(c *command) error {
			_, p, err := c.projectArgs(0, 0, "")
			if err != nil {
				return err
			}
			steps := flow.Tasks(p)
			if c.json {
				return c.printJSON(steps)
			}
			rows := make([][]string, 0, len(steps))
			for _, s := range steps {
				var needs []string
				for _, n := range flow.Needs(p, s) {
					needs = append(needs, n.Name())
				}
				rows = append(rows, []string{s.Name(), strings.TrimSuffix(s.Command(), " --no-deps"), dash(strings.Join(needs, ", "))})
			}
			c.ui.Table([]string{"TASK", "RUNS", "NEEDS"}, rows)
			return nil
		}),
	}
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run Gradle-style tasks and what they need, in order",
		ArgsUsage: "TASK...",
		Description: "`slipway buildImage pushImageToDev deployToDev promoteFromDevToRc deployToShowcase`\n" +
			"works too: task names are run in dependency order, each step once, up-to-date steps\n" +
			"skipped with the reason. --dry-run prints the plan.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan; do nothing"},
			noDepsFlag(),
		},
		Action: action(func(c *command) error {
			a, r, err := c.runnerArgs(1, -1, "TASK...")
			if err != nil {
				return err
			}
			if c.flags.Bool("dry-run") {
				plan, err := flow.PlanTasks(r.Project, a, c.flags.Bool("no-deps"))
				if err != nil {
					return err
				}
				var lines []string
				for _, s := range plan {
					lines = append(lines, s.Name()+"\t"+s.Command())
				}
				return c.result(plan, strings.Join(lines, "\n"))
			}
			res, err := r.RunTasks(c.ctx, a, c.options())
			c.stepTable(res)
			if err != nil {
				return err
			}
			return c.result(res, "")
		}),
	}
}
