package flow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/release"
)

// TestRunSteps runs the whole task graph of a deploy to showcase with
// fakes: build, push to the home registry, promotion to rc, deploy; then
// again, every step up to date.
func TestRunSteps(t *testing.T) {
	f := newFixture(t)
	r := f.runner()
	plan := Plan(f.p, []Step{{Kind: KindDeploy, Env: "showcase"}})
	if got, want := names(plan), "buildImage pushImageToDev promoteFromDevToRc deployToShowcase"; got != want {
		t.Fatalf("plan = %s, want %s", got, want)
	}
	for _, round := range []struct {
		want    Outcome
		reports string
	}{
		{Ran, "done"},
		{UpToDate, "is up to date"},
	} {
		res, err := r.RunSteps(context.Background(), plan, f.options())
		if err != nil {
			t.Fatalf("RunSteps = %v", err)
		}
		if len(res) != len(plan) {
			t.Fatalf("%d results for %d steps", len(res), len(plan))
		}
		for i, s := range res {
			if s.Step != plan[i] || s.Task != plan[i].Name() || s.Outcome != round.want || s.Detail == "" {
				t.Errorf("step %d = %+v, want %s %s with a detail", i, s, plan[i].Name(), round.want)
			}
			if msg := plan[i].Name() + " " + round.reports; !slices.Contains(f.events.Msgs(string(plan[i].Kind)), msg) {
				t.Errorf("no report %q", msg)
			}
		}
	}
	st := f.kube.status(t, "hello-showcase", "hello")
	if st.Health != deploy.Healthy || st.Version != head.Version {
		t.Errorf("showcase runs %+v, want %s healthy", st, head.Version)
	}
}

// TestRunStepsStops stops at the first failing step, and reports it failed.
func TestRunStepsStops(t *testing.T) {
	f := newFixture(t)
	steps := []Step{{Kind: KindDeploy, Env: "dev"}, {Kind: KindDeploy, Env: "showcase"}}
	res, err := f.runner().RunSteps(context.Background(), steps, f.options())
	if err == nil || !strings.Contains(said(err), "next: PushFirst dev") {
		t.Fatalf("RunSteps = %v, want dev's image missing", err)
	}
	if len(res) != 1 || res[0].Outcome != Failed || res[0].Task != "deployToDev" {
		t.Errorf("results = %+v, want deployToDev failed, and nothing after", res)
	}
	if msgs := f.events.Msgs("deploy"); len(msgs) != 0 {
		t.Errorf("a failed step reported %q", msgs)
	}
}

// TestRunStepUnknown fails a step of no known kind.
func TestRunStepUnknown(t *testing.T) {
	f := newFixture(t)
	res, err := f.runner().RunStep(context.Background(), Step{Kind: "launch", Env: "dev"}, f.options())
	if err == nil || !strings.Contains(err.Error(), "unknown step") || res.Outcome != Failed {
		t.Errorf("RunStep = %+v, %v; want an unknown step failed", res, err)
	}
}

// TestGoal runs a command's goal through the runner, with and without
// what it needs.
func TestGoal(t *testing.T) {
	goal := Step{Kind: KindDeploy, Env: "dev"}
	tests := []struct {
		name      string
		deps      bool
		built     bool // the image is built and pushed before
		broken    bool // the home registry's URL is no URL
		work      Work
		want      []Outcome
		wantWork  bool
		wantError string
	}{
		{name: "no deps", work: upToDate, want: []Outcome{UpToDate}, wantWork: true},
		{name: "deps run first", deps: true, work: ran, want: []Outcome{Ran, Ran, Ran}, wantWork: true},
		{name: "deps up to date", deps: true, built: true, work: ran, want: []Outcome{UpToDate, UpToDate, Ran}, wantWork: true},
		{name: "goal fails", deps: true, built: true, work: failing, want: []Outcome{UpToDate, UpToDate, Failed}, wantWork: true, wantError: "no"},
		{name: "a need fails", deps: true, broken: true, work: ran, want: []Outcome{Failed}, wantError: "setting up registry dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.runner()
			if tt.built {
				if _, err := r.RunSteps(context.Background(), Plan(f.p, []Step{{Kind: KindPush, Env: "dev"}}), Options{}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.broken {
				f.p.Registries[0].URL = "not a registry!"
			}
			var worked atomic.Bool
			res, err := r.Goal(context.Background(), goal, tt.deps, f.options(), func() (bool, string, error) {
				worked.Store(true)
				return tt.work()
			})
			if (err != nil) != (tt.wantError != "") || (err != nil && !strings.Contains(err.Error(), tt.wantError)) {
				t.Fatalf("Goal = %v, want an error with %q", err, tt.wantError)
			}
			var got []Outcome
			for _, s := range res {
				got = append(got, s.Outcome)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("outcomes = %v, want %v", got, tt.want)
			}
			if worked.Load() != tt.wantWork {
				t.Errorf("goal worked: %t, want %t", worked.Load(), tt.wantWork)
			}
			if tt.wantWork && res[len(res)-1].Step != goal {
				t.Errorf("last result is %+v, want the goal", res[len(res)-1])
			}
			for _, m := range f.events.Msgs("deploy") {
				if strings.HasPrefix(m, "deployToDev") {
					t.Errorf("the goal reported %q: its words are the command's", m)
				}
			}
		})
	}
}

func ran() (bool, string, error)      { return false, "made", nil }
func upToDate() (bool, string, error) { return true, "there", nil }
func failing() (bool, string, error)  { return false, "", errors.New("no") }

// TestFactoryDefaults fills a zero Factory with the production
// constructors.
func TestFactoryDefaults(t *testing.T) {
	r := NewRunner(&config.Project{}, Factory{})
	if r.make.Cluster == nil || r.make.Registry == nil || r.make.Version == nil || r.make.Now == nil {
		t.Errorf("NewRunner left a constructor nil: %+v", r.make)
	}
}

// TestClusterOncePerEnvironment connects once per environment and
// options, also when asked in parallel, and keeps a failure.
func TestClusterOncePerEnvironment(t *testing.T) {
	f := newFixture(t)
	f.refuse["prod"] = deploy.ErrNoContext
	r := f.runner()
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, e := range []string{"dev", "canary", "prod"} {
				_, _ = r.cluster(f.env(e), deploy.ClusterOptions{})
				_, _ = r.cluster(f.env(e), deploy.ClusterOptions{Context: "other"})
			}
		}()
	}
	for range 8 {
		<-done
	}
	for _, k := range []string{"dev@dev-ctx", "dev@other", "canary@prod-ctx", "canary@other", "prod@prod-ctx", "prod@other"} {
		if n := f.connects[k]; n != 1 {
			t.Errorf("connected to %s %d times, want 1", k, n)
		}
	}
	if _, err := r.cluster(f.env("prod"), deploy.ClusterOptions{}); !errors.Is(err, deploy.ErrNoContext) {
		t.Errorf("cluster(prod) = %v, want the first failure again", err)
	}
}

// TestVersion passes slipway.yaml's release settings to the version
// constructor.
func TestVersion(t *testing.T) {
	f := newFixture(t)
	f.p.Release.TagPrefix, f.p.Release.SnapshotSuffix = "rel-", "-DEV"
	var got string
	fac := f.factory()
	fac.Version = func(o release.VersionOptions) (release.Info, error) {
		got = o.Prefix + "|" + o.Suffix + "|" + o.Dir
		return head, nil
	}
	info, err := NewRunner(f.p, fac).Version()
	if err != nil || info != head {
		t.Fatalf("Version = %+v, %v", info, err)
	}
	if want := "rel-|-DEV|" + f.p.Dir; got != want {
		t.Errorf("version options %q, want %q", got, want)
	}
}
