package flow

import (
	"context"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/promote"
)

// GoalResult is what a command ran: its goal's result and, when the goal ran
// after steps it needed, every step's.
type GoalResult[T any] struct {
	// Result is the goal's result.
	Result T
	// Steps are the steps the command ran, in order, the goal's last, when
	// steps the goal needed ran before it; nil when the goal ran alone, or
	// when a step before it failed (the error says which).
	Steps []StepResult
}

// goal runs s by work as a command's goal: after the missing steps s needs
// when deps and not o.NoDeps. made says whether work's result found
// everything done, and what it made.
func goal[T any](ctx context.Context, r *Runner, s Step, deps bool, o Options, work func() (T, error), made func(T) (bool, string)) (GoalResult[T], error) {
	var ran GoalResult[T]
	steps, err := r.Goal(ctx, s, deps && !o.NoDeps, o, func() (bool, string, error) {
		res, err := work()
		ran.Result = res
		upToDate, detail := made(res)
		return upToDate, detail, err
	})
	if len(steps) > 1 && steps[len(steps)-1].Step == s {
		ran.Steps = steps
	}
	return ran, err
}

// PushGoal pushes as the push command does: Push, after building HEAD
// when its build is missing or stale.
func (r *Runner) PushGoal(ctx context.Context, target string, o PushOptions) (GoalResult[image.PushResult], error) {
	return goal(ctx, r, Step{Kind: KindPush, Env: target}, true, o.Options,
		func() (image.PushResult, error) { return r.Push(ctx, target, o) },
		func(res image.PushResult) (bool, string) { return res.UpToDate, res.Reference })
}

// PromoteGoal promotes as the promote command does: Promote, after putting
// HEAD's image into the source registry (building and pushing it, or
// promoting it there) when it is missing. A version or digest named in o
// is promoted from where it is: nothing is built for it.
func (r *Runner) PromoteGoal(ctx context.Context, from, to string, o PromoteOptions) (GoalResult[promote.Result], error) {
	src, fromErr := r.Project.ResolveRegistry(from)
	dst, toErr := r.Project.ResolveRegistry(to)
	deps := fromErr == nil && toErr == nil && o.Version == "" && o.Digest == ""
	return goal(ctx, r, Step{Kind: KindPromote, From: src.Name, To: dst.Name}, deps, o.Options,
		func() (promote.Result, error) { return r.Promote(ctx, from, to, o) },
		func(res promote.Result) (bool, string) { return res.UpToDate, res.Target })
}

// DeployGoal deploys as the deploy command does: Deploy (or with o.DryRun
// DryRun, with o.Diff Diff), a deploy after putting HEAD's image into the
// environment's registry when it is missing. A dry run, a diff, and a
// deploy of a version or digest named in o need nothing first.
func (r *Runner) DeployGoal(ctx context.Context, envName string, o DeployOptions) (GoalResult[DeployResult], error) {
	run := r.Deploy
	switch {
	case o.DryRun:
		run = r.DryRun
	case o.Diff:
		run = r.Diff
	}
	env, envErr := r.Project.Environment(envName)
	deps := envErr == nil && !o.DryRun && !o.Diff && o.Version == "" && o.Digest == ""
	if deps {
		// Refused before building or pushing anything first.
		if err := checkWait(env, o); err != nil {
			return GoalResult[DeployResult]{}, err
		}
	}
	return goal(ctx, r, Step{Kind: KindDeploy, Env: envName}, deps, o.Options,
		func() (DeployResult, error) { return run(ctx, envName, o) },
		func(res DeployResult) (bool, string) { return res.UpToDate, res.Image })
}

// PlanTasks returns the steps the task names stand for, in dependency
// order, with the missing steps they need unless noDeps: what RunTasks
// runs.
func PlanTasks(p *config.Project, names []string, noDeps bool) ([]Step, error) {
	var goals []Step
	for _, name := range names {
		s, err := ParseTask(p, name)
		if err != nil {
			return nil, err
		}
		goals = append(goals, s)
	}
	if noDeps {
		return goals, nil
	}
	return Plan(p, goals), nil
}

// RunTasks runs the plan of the task names (see PlanTasks, with
// o.NoDeps) with default options, each step once, stopping at the first
// failure.
func (r *Runner) RunTasks(ctx context.Context, names []string, o Options) ([]StepResult, error) {
	plan, err := PlanTasks(r.Project, names, o.NoDeps)
	if err != nil {
		return nil, err
	}
	return r.RunSteps(ctx, plan, o)
}
