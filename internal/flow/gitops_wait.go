package flow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/gitops"
	"github.com/slipwayhq/slipway/internal/gitops/engine"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/short"
)

// Outcomes of a deploy to a GitOps environment that waited for its
// verdict (GitOpsResult.Outcome).
const (
	GitOpsSucceeded   = "succeeded"
	GitOpsFailed      = "failed"
	GitOpsSuperseded  = "superseded"
	GitOpsNotPickedUp = "not picked up"
)

// Errors of a GitOps deploy's verdict, matchable with errors.Is; a failed
// one matches deploy.ErrFailed.
var (
	// ErrSuperseded means a newer commit landed on the environment before
	// the engine applied ours: the environment is the newer commit's.
	ErrSuperseded = errors.New("superseded by a newer commit")
	// ErrNotPickedUp means the engine did not attempt the commit in time;
	// the commit stays, and the engine applies it when it gets to it.
	ErrNotPickedUp = errors.New("the engine did not pick the commit up")
)

// gitOpsLook is how often the engine and the Deployment are looked at
// while the engine applies a commit and the pods roll out.
const gitOpsLook = engine.DefaultPoll

// gitOpsWait is the wait for the verdict on a GitOps deploy: the engine's
// object that applies the environment, the cluster, and the deploy lock,
// held from before the commit until the verdict.
type gitOpsWait struct {
	r       *Runner
	env     config.Environment
	in      deploy.RenderInput
	o       DeployOptions
	cluster *deploy.Cluster
	target  engine.Target
	checker deploy.Checker // the environment's after-rollout checks, nil for none
	lock    *deploy.Lock
	name    string // the Deployment
	// before and beforeVersion are the digest and version the Deployment
	// ran before the commit, "" when there was none.
	before, beforeVersion string
	// existed says a Deployment ran before the commit (with before "",
	// one whose digest Slipway cannot tell).
	existed  bool
	deadline time.Time
}

// startGitOpsWait connects to env's cluster, finds the engine's object
// that applies the environment, takes the deploy lock and notes what
// runs: all before anything is committed, so that a wait that cannot
// happen commits nothing.
func (r *Runner) startGitOpsWait(ctx context.Context, env config.Environment, in deploy.RenderInput, o DeployOptions) (*gitOpsWait, error) {
	c, err := r.cluster(env, o.Cluster)
	if err != nil {
		return nil, err
	}
	eng, err := r.make.Engine(env, c, cmp.Or(o.Timeout, r.Project.Deploy.Timeout.Duration))
	if err != nil {
		return nil, err
	}
	g := env.GitOps
	target, err := eng.Target(ctx, g.Repo, g.Branch, g.Path)
	if err != nil {
		return nil, fmt.Errorf("deploying to %s: %w", env.Name, err)
	}
	w := &gitOpsWait{r: r, env: env, in: in, o: o, cluster: c, target: target, name: deploy.Name(r.Project, env)}
	w.deadline = r.make.Now().Add(w.timeout())
	if w.checker, err = r.checker(env, c, o); err != nil {
		return nil, err
	}
	w.lock, err = c.Lock(ctx, deploy.LockOptions{
		Namespace: env.Namespace, Name: deploy.LockName(r.Project, env), CreateNamespace: true,
		Holder: deploy.NewHolder(Actor(), "deploy", env.Name, in.Version),
		Wait:   o.WaitLock, Break: o.BreakLock, Reason: o.Reason, Progress: o.Progress,
	})
	if err != nil {
		return nil, err
	}
	w.before, w.beforeVersion, w.existed = w.running(ctx)
	return w, nil
}

// timeout bounds each wait: for the engine to apply a commit, then for
// its pods.
func (w *gitOpsWait) timeout() time.Duration {
	return cmp.Or(w.o.Timeout, w.r.Project.Deploy.Timeout.Duration)
}

// end releases the lock; a failure to is reported, not returned.
func (w *gitOpsWait) end(ctx context.Context) {
	if err := w.lock.Release(context.WithoutCancel(ctx)); err != nil {
		progress.Or(w.o.Progress).Report(progress.Event{Kind: progress.Warn, Step: "deploy", Msg: "releasing the deploy lock: " + err.Error()})
	}
}

// running is the digest and version the Deployment runs, "" when there is
// none or it cannot be read.
func (w *gitOpsWait) running(ctx context.Context) (digest, version string, exists bool) {
	d, err := w.cluster.Client.AppsV1().Deployments(w.env.Namespace).Get(ctx, w.name, metav1.GetOptions{})
	if err != nil {
		return "", "", !apierrors.IsNotFound(err)
	}
	digest, version = d.Annotations[deploy.AnnotationDigest], d.Annotations[deploy.AnnotationVersion]
	if !gitops.ValidDigest(digest) {
		return "", "", true // not Slipway's: only the engine is waited for after a revert
	}
	if !gitops.ValidVersion(version) {
		version = ""
	}
	return digest, version, true
}

// judge nudges the engine and waits for its verdict on res.Commit, then
// for the pods that run res.Digest; a failure is reverted (unless
// NoRollback) and the revert waited for. dr is completed with the
// verdict.
func (w *gitOpsWait) judge(ctx context.Context, res *GitOpsResult, dr *deploy.Result) error {
	start := time.Now()
	defer func() { dr.Seconds = time.Since(start).Seconds() }()
	res.Engine = w.target.String()
	v, err := w.verdict(ctx, res.Commit, res.Digest, res, true)
	if err != nil || v == nil {
		return err
	}
	dr.Verdict, dr.Revision = v, v.Revision
	if v.Phase == deploy.PhaseSucceeded && w.checker != nil {
		if err := w.cluster.RunChecks(ctx, w.checker, w.in, w.name, v, w.o.Progress); err != nil {
			return w.cut(err, res.Commit)
		}
	}
	if v.Phase == deploy.PhaseSucceeded {
		res.Outcome = GitOpsSucceeded
		return nil
	}
	res.Outcome = GitOpsFailed
	var revertErr error
	if !w.o.NoRollback {
		revertErr = w.revert(ctx, res, dr)
	}
	return &GitOpsFailedError{Result: *dr, GitOps: *res, RevertErr: revertErr}
}

// verdict waits for the engine to apply commit and, with pods, the pods
// to run digest. A nil Verdict with a nil error cannot happen; an outcome that
// is no verdict (superseded, not picked up) is an error, with res
// telling it.
func (w *gitOpsWait) verdict(ctx context.Context, commit, digest string, res *GitOpsResult, pods bool) (*deploy.Verdict, error) {
	rep := progress.Or(w.o.Progress)
	if err := w.target.Nudge(ctx); err != nil {
		rep.Report(progress.Event{Kind: progress.Warn, Step: "deploy", Msg: fmt.Sprintf("could not nudge %s (%s): waiting for its own interval", w.target, w.r.describe(err))})
	}
	rep.Report(progress.Event{Kind: progress.Start, Step: "deploy", Msg: fmt.Sprintf("waiting for %s to apply %s", w.target, short.Commit(commit))})
	carrier, eo, err := w.follow(ctx, commit)
	if err != nil {
		return nil, w.cut(err, commit)
	}
	res.EngineOutcome = &eo
	switch eo.State {
	case engine.Failed:
		return &deploy.Verdict{Phase: deploy.PhaseFailed, Reason: eo.Reason, Message: fmt.Sprintf("%s could not apply %s: %s", w.target, short.Commit(carrier), eo.Message)}, nil
	case engine.Superseded:
		res.Outcome, res.SupersededBy = GitOpsSuperseded, w.r.entryOf(ctx, w.env, eo.Commit)
		return nil, fmt.Errorf("deploying %s to %s: %w: %s%s; the environment is that commit's now", w.in.Version, w.env.Name, ErrSuperseded, eo.Message, byWhom(res.SupersededBy))
	case engine.NotPickedUp:
		res.Outcome = GitOpsNotPickedUp
		return nil, remedy.With(fmt.Errorf("deploying %s to %s: %w: %s (%s); the commit %s stays in the repository and is applied when the engine gets to it",
			w.in.Version, w.env.Name, ErrNotPickedUp, eo.Message, eo.Reason, short.Commit(commit)), remedy.Remedy{Kind: remedy.GitOpsPending, Env: w.env.Name})
	}
	rep.Report(progress.Event{Kind: progress.Info, Step: "deploy", Msg: fmt.Sprintf("%s applied %s", w.target, short.Commit(carrier))})
	if !pods {
		return &deploy.Verdict{Phase: deploy.PhaseSucceeded, Reason: "Applied", Message: w.target.String() + " applied " + short.Commit(carrier)}, nil
	}
	wctx, cancel := context.WithDeadline(ctx, w.deadline)
	defer cancel()
	return w.pods(wctx, carrier, digest)
}

// maxCarriers bounds the newer commits follow waits for in place of one.
const maxCarriers = 8

// follow waits for the engine's outcome on commit. A newer commit the
// engine moved on to supersedes commit only when it changed the app's
// file: one that holds the file as commit wrote it (another app's deploy
// to the same path that landed on top, say) carries commit, and is
// waited for in its place, at most maxCarriers times. It returns the
// commit the outcome is about.
func (w *gitOpsWait) follow(ctx context.Context, commit string) (string, engine.Outcome, error) {
	file := gitops.AppFile(w.r.Project.App)
	for i := 0; ; i++ {
		eo, err := w.target.Wait(ctx, commit, w.descends)
		if err != nil || eo.State != engine.Superseded || i == maxCarriers || !w.carries(ctx, eo.Commit, commit, file) {
			return commit, eo, err
		}
		progress.Or(w.o.Progress).Report(progress.Event{Kind: progress.Warn, Step: "deploy", Msg: fmt.Sprintf(
			"%s moved on to %s, a newer commit that holds %s as %s wrote it: waiting for it to apply that one", w.target, short.Commit(eo.Commit), file, short.Commit(commit))})
		commit = eo.Commit
	}
}

// carries says whether newer holds file as commit does; false when the
// repository cannot tell.
func (w *gitOpsWait) carries(ctx context.Context, newer, commit, file string) bool {
	g := w.env.GitOps
	repo, err := gitops.Open(ctx, gitops.Options{URL: g.Repo, Branch: g.Branch, Path: g.Path})
	if err != nil {
		return false
	}
	same, err := repo.SameFile(ctx, newer, commit, file)
	return err == nil && same
}

// cut is err, which ended a wait on commit, with what it leaves: the
// commit is pushed, and the engine carries on without Slipway.
func (w *gitOpsWait) cut(err error, commit string) error {
	return fmt.Errorf("deploying %s to %s: %w; the commit %s is pushed and the engine applies it without waiting for Slipway: `slipway status %s` follows it",
		w.in.Version, w.env.Name, err, short.Commit(commit), w.env.Name)
}

// byWhom says who made the commit e, when known: for a commit of
// Slipway's, whose author is Slipway's committer, the one its Slipway-By
// trailer names.
func byWhom(e *gitops.Entry) string {
	if e == nil {
		return ""
	}
	who := cmp.Or(e.Trailers.By, e.Author)
	return fmt.Sprintf(" (%s by %s: %q)", short.Commit(e.Commit), who, e.Subject)
}

// descends asks the environment repository whether commit descends from
// ancestor.
func (w *gitOpsWait) descends(ctx context.Context, commit, ancestor string) (bool, error) {
	g := w.env.GitOps
	repo, err := gitops.Open(ctx, gitops.Options{URL: g.Repo, Branch: g.Branch, Path: g.Path})
	if err != nil {
		return false, err
	}
	return repo.Descends(ctx, commit, ancestor)
}

// entryOf is the history entry of commit in env's repository, nil when it
// cannot be read or is not among the last commits of the path.
func (r *Runner) entryOf(ctx context.Context, env config.Environment, commit string) *gitops.Entry {
	g := env.GitOps
	repo, err := gitops.Open(ctx, gitops.Options{URL: g.Repo, Branch: g.Branch, Path: g.Path})
	if err != nil {
		return nil
	}
	hist, err := repo.History(ctx, 20)
	if err != nil {
		return nil
	}
	for i := range hist {
		if hist[i].Commit == commit {
			return &hist[i]
		}
	}
	return nil
}

// pods waits until the Deployment carries digest, then judges its
// rollout with deploy.Wait; all the while the engine is looked at, and a
// failure of it to apply commit is the verdict.
func (w *gitOpsWait) pods(ctx context.Context, commit, digest string) (*deploy.Verdict, error) {
	gen, v, err := w.applied(ctx, commit, digest)
	if err != nil || v != nil {
		return v, err
	}
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := make(chan *deploy.Verdict, 1)
	go func() {
		if v := w.watchEngine(jctx, commit); v != nil {
			failed <- v
			cancel()
		}
	}()
	verdict, err := deploy.Wait(jctx, w.cluster.Client, deploy.WaitOptions{Namespace: w.env.Namespace, Name: w.name, Generation: gen,
		Timeout: time.Until(w.deadline), Stability: 0, Progress: w.o.Progress})
	select {
	case v := <-failed:
		return v, nil
	default:
	}
	if err != nil {
		return nil, w.cut(fmt.Errorf("waiting for %s: %w", w.name, err), commit)
	}
	return &verdict, nil
}

// applied waits until the Deployment carries digest (with digest "",
// until it is gone: a succeeded verdict) and returns its generation, or the engine's failure to apply commit as the verdict, or
// at the deadline a failed verdict saying what never came.
func (w *gitOpsWait) applied(ctx context.Context, commit, digest string) (int64, *deploy.Verdict, error) {
	tick := time.NewTicker(gitOpsLook)
	defer tick.Stop()
	for {
		d, err := w.cluster.Client.AppsV1().Deployments(w.env.Namespace).Get(ctx, w.name, metav1.GetOptions{})
		switch {
		case digest == "" && apierrors.IsNotFound(err):
			return 0, &deploy.Verdict{Phase: deploy.PhaseSucceeded, Reason: "Removed", Message: "the engine removed Deployment " + w.name}, nil
		case digest != "" && err == nil && d.Annotations[deploy.AnnotationDigest] == digest:
			return d.Generation, nil, nil
		case err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil:
			return 0, nil, fmt.Errorf("deploying %s to %s: reading Deployment %s: %w", w.in.Version, w.env.Name, w.name, err)
		}
		if eo, err := w.target.Look(ctx, commit); err == nil && eo.State == engine.Failed {
			return 0, engineFailure(w.target, commit, eo), nil
		}
		select {
		case <-ctx.Done():
			if time.Now().Before(w.deadline) {
				return 0, nil, w.cut(ctx.Err(), commit)
			}
			return 0, &deploy.Verdict{Phase: deploy.PhaseFailed, Reason: deploy.ReasonTimeout, Message: fmt.Sprintf(
				"%s applied %s, but Deployment %s/%s never carried %s", w.target, short.Commit(commit), w.env.Namespace, w.name, short.Digest(digest))}, nil
		case <-tick.C:
		}
	}
}

// watchEngine looks at the engine until ctx ends and returns its failure
// to apply commit as a verdict, nil when it did not fail.
func (w *gitOpsWait) watchEngine(ctx context.Context, commit string) *deploy.Verdict {
	tick := time.NewTicker(4 * gitOpsLook)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if eo, err := w.target.Look(ctx, commit); err == nil && eo.State == engine.Failed {
			return engineFailure(w.target, commit, eo)
		}
	}
}

// engineFailure is the failed verdict of an engine that could not apply
// commit.
func engineFailure(t engine.Target, commit string, eo engine.Outcome) *deploy.Verdict {
	return &deploy.Verdict{Phase: deploy.PhaseFailed, Reason: eo.Reason, Message: fmt.Sprintf("%s could not apply %s: %s", t, short.Commit(commit), eo.Message)}
}

// defaultEngine is the adapter of env's engine on c, waiting at most
// timeout for the engine to apply a commit.
func defaultEngine(env config.Environment, c *deploy.Cluster, timeout time.Duration) (engine.Engine, error) {
	if c.Config == nil {
		return nil, fmt.Errorf("deploying to %s: no cluster configuration to reach the engine with", env.Name)
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return nil, fmt.Errorf("creating the engine's client for %s: %w", env.Name, err)
	}
	switch env.GitOps.Engine {
	case "flux":
		return &engine.Flux{Client: dyn, Object: env.GitOps.Object, Timeout: timeout}, nil
	case "argocd":
		return &engine.ArgoCD{Client: dyn, Object: env.GitOps.Object, Timeout: timeout}, nil
	}
	return nil, fmt.Errorf("deploying to %s: %w: gitops.engine %q gives no verdict to wait for", env.Name, ErrNoVerdict, env.GitOps.Engine)
}
