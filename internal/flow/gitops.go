package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/gitops"
	"github.com/slipwayhq/slipway/internal/gitops/engine"
	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/short"
)

// ErrNoVerdict means a deploy to a GitOps environment was asked to wait
// for a verdict that its engine does not give (gitops.engine none).
var ErrNoVerdict = errors.New("the verdict of this GitOps environment cannot be waited for")

// waitable are the engines whose verdict a deploy waits for.
var waitable = map[string]bool{"flux": true, "argocd": true}

// Outcomes of a deploy to a GitOps environment.
const (
	// Committed: the manifests were committed and pushed; the engine's
	// verdict is pending.
	Committed = "committed, verdict pending"
	// AlreadyCommitted: the environment's path already held them; nothing
	// was committed.
	AlreadyCommitted = "already committed, verdict pending"
)

// GitOpsResult is what a deploy to a GitOps environment committed.
type GitOpsResult struct {
	Env string `json:"environment"`
	// Commit is the branch's head after the push: the deploy's commit, or
	// the one that already held the manifests.
	Commit  string `json:"commit"`
	Repo    string `json:"repo"`
	Branch  string `json:"branch"`
	Path    string `json:"path"`
	File    string `json:"file"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	Outcome string `json:"outcome"`
	// Changed is false when nothing was committed.
	Changed bool `json:"changed"`
	// Rebased says another push landed first and the commit was made
	// again on top of it.
	Rebased bool `json:"rebased,omitempty"`
	// Engine is the engine's object waited on, and EngineOutcome what it
	// did with the commit; none with --no-wait.
	Engine        string          `json:"engine,omitempty"`
	EngineOutcome *engine.Outcome `json:"engineOutcome,omitempty"`
	// SupersededBy is the newer commit that superseded this one, when it
	// could be read.
	SupersededBy *gitops.Entry `json:"supersededBy,omitempty"`
	// Revert is the commit that reverted a failed deploy.
	Revert string `json:"revert,omitempty"`
}

// commitGitOps is Deploy for a GitOps environment: it renders what a
// direct deploy applies, commits it as the app's file under the
// environment's path, and pushes it fast-forward. Unless o.NoWait, it
// then waits for the engine's verdict on that commit and the pods' (see
// gitOpsWait), under the environment's deploy lock, taken before the
// commit.
func (r *Runner) commitGitOps(ctx context.Context, env config.Environment, o DeployOptions) (DeployResult, error) {
	_, in, err := r.prepare(ctx, env.Name, o)
	if err != nil {
		return DeployResult{}, err
	}
	digest := deploy.DigestOf(in.Image)
	if o.Reason, err = r.passGate(ctx, env, digest, o); err != nil {
		return DeployResult{Result: planned(env, in), Commit: in.Commit}, err
	}
	file, err := gitOpsManifests(in, o.Progress)
	if err != nil {
		return DeployResult{}, err
	}
	var w *gitOpsWait
	if !o.NoWait {
		if w, err = r.startGitOpsWait(ctx, env, in, o); err != nil {
			return DeployResult{}, err
		}
		defer w.end(ctx)
	}
	res, err := r.commitApp(ctx, env, in, digest, file, o)
	if err != nil {
		return DeployResult{}, err
	}
	dr := planned(env, in)
	dr.UpToDate = !res.Changed
	if w == nil {
		return DeployResult{Result: dr, GitOps: res, Commit: in.Commit}, nil
	}
	dr.Deployment = w.name
	err = w.judge(ctx, res, &dr)
	return DeployResult{Result: dr, GitOps: res, Commit: in.Commit}, err
}

// commitApp commits file as the app's file under env's path and pushes
// it: the result says which commit holds it.
func (r *Runner) commitApp(ctx context.Context, env config.Environment, in deploy.RenderInput, digest string, file []byte, o DeployOptions) (*GitOpsResult, error) {
	g := env.GitOps
	res := &GitOpsResult{Env: env.Name, Repo: gitremote.RedactURL(g.Repo), Branch: g.Branch, Path: g.Path,
		File: gitops.AppFile(r.Project.App), Version: in.Version, Digest: digest}
	pushed, err := r.commitAndPush(ctx, g, gitops.Change{
		Files:   map[string][]byte{res.File: file},
		Message: fmt.Sprintf("deploy %s %s to %s", r.Project.App, in.Version, env.Name),
		Trailers: gitops.Trailers{App: r.Project.App, Env: env.Name, Version: in.Version, Digest: digest,
			SourceCommit: in.Commit, By: Actor(), Reason: o.Reason},
	}, o.Options)
	if err != nil {
		return nil, remedyOfPush(err, env.Name)
	}
	res.Commit, res.Changed, res.Rebased = pushed.Commit, pushed.Pushed, pushed.Rebased
	res.Outcome = Committed
	if !pushed.Pushed {
		res.Outcome = AlreadyCommitted
	}
	return res, nil
}

// gitOpsManifests renders in as a direct deploy would apply it, and
// refuses what a direct deploy refuses. A pull secret is refused too: it
// would put the registry's password in the repository.
func gitOpsManifests(in deploy.RenderInput, rep progress.Reporter) ([]byte, error) {
	if in.PullSecret != nil {
		return nil, fmt.Errorf("deploying to %s: %w: registries.%s.pullSecret would commit the registry's password to the environment repository; "+
			"create the pull secret in the cluster yourself (or with your secrets tooling) and set pullSecret: false",
			in.Env.Name, config.ErrInvalid, in.Env.Registry)
	}
	m, err := deploy.Render(in)
	if err != nil {
		return nil, err
	}
	if len(m.Refusals) > 0 {
		return nil, fmt.Errorf("deploying %s to %s: %w: %s", in.Version, in.Env.Name, deploy.ErrWouldNotStart, strings.Join(m.Refusals, "; "))
	}
	for _, w := range m.Warnings {
		progress.Or(rep).Report(progress.Event{Kind: progress.Warn, Step: "deploy", Msg: w})
	}
	return m.YAML()
}

// commitAndPush commits ch on the head of g's branch and pushes it. A
// change the head already holds pushes nothing.
func (r *Runner) commitAndPush(ctx context.Context, g *config.GitOps, ch gitops.Change, o Options) (gitops.Pushed, error) {
	repo, err := gitops.Open(ctx, gitops.Options{URL: g.Repo, Branch: g.Branch, Path: g.Path, Progress: o.Progress})
	if err != nil {
		return gitops.Pushed{}, err
	}
	c, err := repo.Commit(ctx, ch)
	if err != nil {
		return gitops.Pushed{}, err
	}
	if !c.Changed {
		return gitops.Pushed{Commit: c.Commit}, nil
	}
	return repo.Push(ctx)
}

// remedyOfPush adds the next step to a push that lost a race or met
// someone else's edit.
func remedyOfPush(err error, env string) error {
	switch {
	case errors.Is(err, gitops.ErrRaced):
		return remedy.With(err, remedy.Remedy{Kind: remedy.GitOpsRaced, Env: env})
	case errors.Is(err, gitops.ErrConflict):
		return remedy.With(err, remedy.Remedy{Kind: remedy.GitOpsConflict, Env: env})
	}
	return err
}

// GitOpsStatus is what the environment repository holds for the app: the
// branch's head, and the last commit that changed the app's file, with its
// trailers.
type GitOpsStatus struct {
	Repo   string `json:"repo"`
	Branch string `json:"branch"`
	Path   string `json:"path"`
	// Head is the branch's head; "" when the branch does not exist yet.
	Head string `json:"head"`
	// Commit is the last commit that changed the app's file, "" when
	// none did.
	Commit  string    `json:"commit,omitempty"`
	Version string    `json:"version,omitempty"`
	Digest  string    `json:"digest,omitempty"`
	By      string    `json:"by,omitempty"`
	When    time.Time `json:"when,omitzero"`
	// Error says why the repository could not be read.
	Error string `json:"error,omitempty"`
}

// gitOpsStatus reads what env's repository holds for the app, from the
// history of the app's file (one commit deep unless the head did not
// change it).
func (r *Runner) gitOpsStatus(ctx context.Context, env config.Environment, o Options) *GitOpsStatus {
	g := env.GitOps
	st := &GitOpsStatus{Repo: gitremote.RedactURL(g.Repo), Branch: g.Branch, Path: g.Path}
	repo, err := gitops.Open(ctx, gitops.Options{URL: g.Repo, Branch: g.Branch, Path: g.Path})
	if err != nil {
		st.Error = r.describe(err)
		return st
	}
	st.Head = repo.Head()
	if st.Head == "" {
		return st
	}
	hist, err := repo.History(ctx, 1, gitops.AppFile(r.Project.App))
	switch {
	case err != nil:
		st.Error = r.describe(err)
	case len(hist) > 0:
		h := hist[0]
		st.Commit, st.Version, st.Digest, st.By, st.When = h.Commit, h.Trailers.Version, h.Trailers.Digest, h.Trailers.By, h.When
	}
	return st
}

// gitOpsDrift notes a cluster that does not run what the repository
// holds: "pending" when the engine has not applied the repository's head
// yet, "drift" when it has and the cluster still differs (someone changed
// it by hand, until the engine corrects it). Without the engine's word it
// says both may be.
func (r *Runner) gitOpsDrift(ctx context.Context, env config.Environment, s EnvStatus, co deploy.ClusterOptions) []string {
	g := s.GitOps
	if g == nil || g.Digest == "" || s.Digest == "" || g.Digest == s.Digest {
		return nil
	}
	holds := fmt.Sprintf("the repository holds %s (commit %s) but pods run %s", short.Digest(g.Digest), short.Commit(g.Commit), short.Digest(s.Digest))
	switch r.engineApplied(ctx, env, g.Head, co) {
	case engine.Applied, engine.Failed:
		return []string{"drift: " + holds + ", though the engine applied the head " + short.Commit(g.Head)}
	case engine.Pending:
		return []string{"pending: " + holds + "; the engine has not applied the head " + short.Commit(g.Head) + " yet"}
	}
	return []string{holds + ": pending, or drift"}
}

// engineApplied is what env's engine did with commit, as one look tells;
// "" when the engine cannot be asked.
func (r *Runner) engineApplied(ctx context.Context, env config.Environment, commit string, co deploy.ClusterOptions) engine.State {
	if !waitable[env.GitOps.Engine] || commit == "" {
		return ""
	}
	c, err := r.cluster(env, co)
	if err != nil {
		return ""
	}
	eng, err := r.make.Engine(env, c, 0)
	if err != nil {
		return ""
	}
	t, err := eng.Target(ctx, env.GitOps.Repo, env.GitOps.Branch, env.GitOps.Path)
	if err != nil {
		return ""
	}
	o, err := t.Look(ctx, commit)
	if err != nil {
		return ""
	}
	return o.State
}
