package flow

import (
	"context"
	"fmt"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
)

// Outcome is how a step of a run ended.
type Outcome string

// Outcomes.
const (
	Ran      Outcome = "ran"
	UpToDate Outcome = "up to date"
	Failed   Outcome = "failed"
	Planned  Outcome = "planned"
)

// StepResult is one step of a run.
type StepResult struct {
	Step    Step    `json:"step"`
	Task    string  `json:"task"`
	Outcome Outcome `json:"outcome"`
	Seconds float64 `json:"seconds"`
	Detail  string  `json:"detail,omitempty"`
}

// RunSteps runs steps in order with default options, stopping at the first
// failure. Each step does only what is missing; up-to-date steps say so.
func RunSteps(ctx context.Context, p *config.Project, steps []Step, o Options) ([]StepResult, error) {
	var out []StepResult
	for _, s := range steps {
		r, err := RunStep(ctx, p, s, o)
		out = append(out, r)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// RunStep runs one step with default options.
func RunStep(ctx context.Context, p *config.Project, s Step, o Options) (StepResult, error) {
	start := time.Now()
	r := StepResult{Step: s, Task: s.Name(), Outcome: Ran}
	var (
		upToDate bool
		detail   string
		err      error
	)
	switch s.Kind {
	case KindBuild:
		res, e := Build(ctx, p, BuildOptions{Options: o})
		upToDate, detail, err = res.UpToDate, res.Digest, e
	case KindPush:
		res, e := Push(ctx, p, s.Env, PushOptions{Options: o})
		upToDate, detail, err = res.UpToDate, res.Reference, e
	case KindPromote:
		res, e := Promote(ctx, p, s.From, s.To, PromoteOptions{Options: o})
		upToDate, detail, err = res.UpToDate, res.Target, e
	case KindDeploy:
		res, e := Deploy(ctx, p, s.Env, DeployOptions{Options: o})
		upToDate, detail, err = res.UpToDate, res.Image, e
	default:
		err = fmt.Errorf("running %s: unknown step", s.Name())
	}
	r.Seconds, r.Detail = time.Since(start).Seconds(), detail
	switch {
	case err != nil:
		r.Outcome = Failed
	case upToDate:
		r.Outcome = UpToDate
		progress.Or(o.Progress).Report(progress.Event{Kind: progress.Skip, Step: string(s.Kind), Msg: s.Name() + " is up to date"})
	default:
		progress.Or(o.Progress).Report(progress.Event{Kind: progress.Finish, Step: string(s.Kind), Msg: s.Name() + " done"})
	}
	return r, err
}
