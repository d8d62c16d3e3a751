package cli

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/slipwayhq/slipway/internal/flow"
)

// runGoal runs a command's goal by work with the flow's step runner:
// first the steps it needs that are missing, when deps and not
// --no-deps. When goal ran after other steps it prints a table of each
// on stderr (results stay alone on stdout).
func (e *env) runGoal(r *flow.Runner, goal flow.Step, deps bool, work flow.Work) error {
	res, err := r.Goal(e.ctx, goal, deps && !e.c.Bool("no-deps"), e.shipOptions(), work)
	if len(res) > 1 && res[len(res)-1].Step == goal && !e.json {
		e.stepTable(res)
	}
	return err
}

// stepTable prints each step's result and time on stderr.
func (e *env) stepTable(results []flow.StepResult) {
	rows := make([][]string, 0, len(results))
	for _, r := range results {
		rows = append(rows, []string{r.Task, string(r.Outcome), fmt.Sprintf("%.1fs", r.Seconds)})
	}
	e.ui.ErrTable([]string{"STEP", "RESULT", "TIME"}, rows)
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
		Action: action(func(e *env) error {
			_, p, err := e.projectArgs(0, 0, "")
			if err != nil {
				return err
			}
			steps := flow.Tasks(p)
			if e.json {
				return e.printJSON(steps)
			}
			rows := make([][]string, 0, len(steps))
			for _, s := range steps {
				var needs []string
				for _, n := range flow.Needs(p, s) {
					needs = append(needs, n.Name())
				}
				rows = append(rows, []string{s.Name(), strings.TrimSuffix(s.Command(), " --no-deps"), dash(strings.Join(needs, ", "))})
			}
			e.ui.Table([]string{"TASK", "RUNS", "NEEDS"}, rows)
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
		Action: action(func(e *env) error {
			a, p, err := e.projectArgs(1, -1, "TASK...")
			if err != nil {
				return err
			}
			var goals []flow.Step
			for _, name := range a {
				s, err := flow.ParseTask(p, name)
				if err != nil {
					return err
				}
				goals = append(goals, s)
			}
			plan := goals
			if !e.c.Bool("no-deps") {
				plan = flow.Plan(p, goals)
			}
			if e.c.Bool("dry-run") {
				var lines []string
				for _, s := range plan {
					lines = append(lines, s.Name()+"\t"+s.Command())
				}
				return e.result(plan, strings.Join(lines, "\n"))
			}
			res, err := runner(p).RunSteps(e.ctx, plan, e.shipOptions())
			if !e.json && len(res) > 0 {
				e.stepTable(res)
			}
			if err != nil {
				return err
			}
			return e.result(res, "")
		}),
	}
}
