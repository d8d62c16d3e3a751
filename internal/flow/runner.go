package flow

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/gitops/engine"
	"github.com/slipwayhq/slipway/internal/notify"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/release"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// Factory makes the clients a run needs: a connection to an
// environment's cluster, registry clients and the description of HEAD.
// A nil field is the production one; tests put fakes in its place
// (a client-go fake clientset wrapped by deploy.NewCluster, a registry
// client of an in-process registry, a fixed version).
type Factory struct {
	// Cluster connects to an environment's cluster (default deploy.Connect).
	Cluster func(env config.Environment, o deploy.ClusterOptions) (*deploy.Cluster, error)
	// Engine makes the adapter of a GitOps environment's engine on its
	// cluster, waiting at most timeout for a commit to be applied
	// (default: by gitops.engine, on the cluster's configuration).
	Engine func(env config.Environment, c *deploy.Cluster, timeout time.Duration) (engine.Engine, error)
	// Registry opens a registry (default registry.New).
	Registry func(o registry.Options) (*registry.Client, error)
	// Version describes HEAD of a repository (default release.Version).
	Version func(o release.VersionOptions) (release.Info, error)
	// Now is the time gates measure soak times at (default time.Now).
	Now func() time.Time
	// Words says a next step that an error carries, as the text following
	// the error's message (default none: reports leave next steps out).
	Words func(remedy.Remedy) string
	// Notify tells targets a deploy's verdict (default notify.Send with
	// its default bounds).
	Notify func(ctx context.Context, targets []notify.Target, ev notify.Event) []notify.Result
}

// Runner runs Slipway's steps for one project with the clients its
// Factory makes. Within one Runner, and so one command, each
// environment's cluster is connected to once per set of cluster options,
// however many steps, gates and canaries ask for it.
type Runner struct {
	Project *config.Project
	make    Factory

	mu       sync.Mutex
	clusters map[clusterKey]func() (*deploy.Cluster, error)
}

type clusterKey struct {
	env string
	o   deploy.ClusterOptions
}

// NewRunner returns a Runner for p whose clients f makes.
func NewRunner(p *config.Project, f Factory) *Runner {
	if f.Cluster == nil {
		f.Cluster = deploy.Connect
	}
	if f.Engine == nil {
		f.Engine = defaultEngine
	}
	if f.Registry == nil {
		f.Registry = registry.New
	}
	if f.Version == nil {
		f.Version = release.Version
	}
	if f.Now == nil {
		f.Now = time.Now
	}
	if f.Words == nil {
		f.Words = func(remedy.Remedy) string { return "" }
	}
	return &Runner{Project: p, make: f, clusters: map[clusterKey]func() (*deploy.Cluster, error){}}
}

// describe is err's message with its next steps, for reports that hold
// an error as text.
func (r *Runner) describe(err error) string { return remedy.Message(err, r.make.Words) }

// hint is the wording of a next step on its own, for a report's hint.
func (r *Runner) hint(next remedy.Remedy) string {
	return strings.TrimPrefix(r.make.Words(next), "; ")
}

// cluster is the connection to env's cluster with o, made on first use;
// a connection that failed fails the same way for the rest of the run.
func (r *Runner) cluster(env config.Environment, o deploy.ClusterOptions) (*deploy.Cluster, error) {
	k := clusterKey{env.Name, o}
	r.mu.Lock()
	connect, ok := r.clusters[k]
	if !ok {
		connect = sync.OnceValues(func() (*deploy.Cluster, error) { return r.make.Cluster(env, o) })
		r.clusters[k] = connect
	}
	r.mu.Unlock()
	return connect()
}

// registry opens the registry reg with the run's options; Jobs and
// Progress only where transfers need them.
func (r *Runner) registry(reg config.Registry, o Options, transfers bool) (*registry.Client, error) {
	ro := registry.Options{Name: reg.Name, Registry: reg, UserAgent: o.UserAgent}
	if transfers {
		ro.Jobs, ro.Progress = o.Jobs, o.Progress
	}
	return r.make.Registry(ro)
}

// Version describes HEAD of the project's repository with its release
// settings.
func (r *Runner) Version() (release.Info, error) {
	o, err := releaseSettings(r.Project)
	if err != nil {
		return release.Info{}, err
	}
	return r.make.Version(release.VersionOptions{
		Dir: o.Dir, Prefix: o.Prefix, Paths: o.Paths, Bump: o.Bump,
		DefaultBump: o.DefaultBump, Initial: o.Initial, Suffix: r.Project.Release.SnapshotSuffix,
	})
}

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

// Work is a step's work: whether it found everything already done, what
// it made (a digest, a reference, an image) and its error.
type Work func() (upToDate bool, detail string, err error)

// record runs a step's work, timing it, and says how it ended.
func record(s Step, work Work) (StepResult, error) {
	start := time.Now()
	upToDate, detail, err := work()
	r := StepResult{Step: s, Task: s.Name(), Outcome: Ran, Seconds: time.Since(start).Seconds(), Detail: detail}
	switch {
	case err != nil:
		r.Outcome = Failed
	case upToDate:
		r.Outcome = UpToDate
	}
	return r, err
}

// RunSteps runs steps in order with default options, stopping at the first
// failure. Each step does only what is missing; up-to-date steps say so.
func (r *Runner) RunSteps(ctx context.Context, steps []Step, o Options) ([]StepResult, error) {
	var out []StepResult
	for _, s := range steps {
		res, err := r.RunStep(ctx, s, o)
		out = append(out, res)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// RunStep runs one step with default options, and reports how it ended.
func (r *Runner) RunStep(ctx context.Context, s Step, o Options) (StepResult, error) {
	res, err := record(s, r.work(ctx, s, o))
	rep := progress.Or(o.Progress)
	switch res.Outcome {
	case UpToDate:
		rep.Report(progress.Event{Kind: progress.Skip, Step: string(s.Kind), Msg: s.Name() + " is up to date"})
	case Ran:
		rep.Report(progress.Event{Kind: progress.Finish, Step: string(s.Kind), Msg: s.Name() + " done"})
	}
	return res, err
}

// work is what step s does with default options.
func (r *Runner) work(ctx context.Context, s Step, o Options) Work {
	return func() (bool, string, error) {
		switch s.Kind {
		case KindBuild:
			res, err := r.Build(ctx, BuildOptions{Options: o})
			return res.UpToDate, res.Digest, err
		case KindPush:
			res, err := r.Push(ctx, s.Env, PushOptions{Options: o})
			return res.UpToDate, res.Reference, err
		case KindPromote:
			res, err := r.Promote(ctx, s.From, s.To, PromoteOptions{Options: o})
			return res.UpToDate, res.Target, err
		case KindDeploy:
			res, err := r.Deploy(ctx, s.Env, DeployOptions{Options: o})
			return res.UpToDate, res.Image, err
		}
		return false, "", fmt.Errorf("running %s: unknown step", s.Name())
	}
}

// Goal runs goal by work, a command's own options for it, after the steps
// goal needs (with default options, as RunSteps) when deps is true. It
// returns what each step did, goal last once it ran: a failed need stops
// the run before goal. Goal's own ending is the caller's to report.
func (r *Runner) Goal(ctx context.Context, goal Step, deps bool, o Options, work Work) ([]StepResult, error) {
	var out []StepResult
	if deps {
		plan := Plan(r.Project, []Step{goal})
		res, err := r.RunSteps(ctx, plan[:len(plan)-1], o)
		if err != nil {
			return res, err
		}
		out = res
	}
	res, err := record(goal, work)
	return append(out, res), err
}
