package flow

import (
	"context"
	"testing"
)

// TestGoalsDecideNeeds checks which commands run the missing steps their
// goal needs first: a push, promotion or deploy of HEAD does, unless
// NoDeps; a named version or digest, a dry run and a diff never do.
func TestGoalsDecideNeeds(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		run   func(r *Runner, o Options) ([]StepResult, error)
		steps string // the steps run, "" when the goal ran alone
	}{
		{"push", func(r *Runner, o Options) ([]StepResult, error) {
			ran, err := r.PushGoal(ctx, "dev", PushOptions{Options: o})
			return ran.Steps, err
		}, "buildImage pushImageToDev"},
		{"promote", func(r *Runner, o Options) ([]StepResult, error) {
			ran, err := r.PromoteGoal(ctx, "dev", "rc", PromoteOptions{Options: o})
			return ran.Steps, err
		}, "buildImage pushImageToDev promoteFromDevToRc"},
		{"deploy", func(r *Runner, o Options) ([]StepResult, error) {
			ran, err := r.DeployGoal(ctx, "showcase", DeployOptions{Options: o})
			return ran.Steps, err
		}, "buildImage pushImageToDev promoteFromDevToRc deployToShowcase"},
		{"deploy, no deps", func(r *Runner, o Options) ([]StepResult, error) {
			o.NoDeps = true
			ran, err := r.DeployGoal(ctx, "showcase", DeployOptions{Options: o})
			return ran.Steps, err
		}, ""},
		{"deploy a version", func(r *Runner, o Options) ([]StepResult, error) {
			ran, err := r.DeployGoal(ctx, "showcase", DeployOptions{Options: o, Version: "9.9.9"})
			return ran.Steps, err
		}, ""},
		{"dry run", func(r *Runner, o Options) ([]StepResult, error) {
			ran, err := r.DeployGoal(ctx, "showcase", DeployOptions{Options: o, DryRun: true})
			return ran.Steps, err
		}, ""},
		{"promote a digest", func(r *Runner, o Options) ([]StepResult, error) {
			ran, err := r.PromoteGoal(ctx, "dev", "rc", PromoteOptions{Options: o, Digest: "sha256:" + zeros})
			return ran.Steps, err
		}, ""},
		{"tasks, no deps", func(r *Runner, o Options) ([]StepResult, error) {
			o.NoDeps = true
			return r.RunTasks(ctx, []string{"deployToShowcase"}, o)
		}, "deployToShowcase"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			steps, err := tt.run(f.runner(), f.options())
			var got []Step
			for _, s := range steps {
				got = append(got, s.Step)
			}
			if names(got) != tt.steps {
				t.Errorf("steps = %q (err %v), want %q", names(got), err, tt.steps)
			}
			if tt.steps == "" && len(f.events.Msgs("build")) > 0 {
				t.Errorf("built: %q", f.events.Msgs("build"))
			}
			if tt.steps != "" && tt.name != "tasks, no deps" && err != nil {
				t.Errorf("err = %v", err)
			}
		})
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"
