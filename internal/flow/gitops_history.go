package flow

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/gitops"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/short"
)

// gitOpsHistoryDepth is how many commits of the app's file history lists.
const gitOpsHistoryDepth = 50

// gitOpsHistory lists the commits that changed the app's file in env's
// repository, newest first: the git log and its trailers are the history,
// nothing is kept only in the cluster.
func (r *Runner) gitOpsHistory(ctx context.Context, env config.Environment) ([]deploy.Revision, error) {
	g := env.GitOps
	repo, err := gitops.Open(ctx, gitops.Options{URL: g.Repo, Branch: g.Branch, Path: g.Path})
	if err != nil {
		return nil, err
	}
	hist, err := repo.History(ctx, gitOpsHistoryDepth, gitops.AppFile(r.Project.App))
	if err != nil {
		return nil, err
	}
	out := make([]deploy.Revision, 0, len(hist))
	for i, h := range hist {
		t := h.Trailers
		reason := t.Reason
		switch {
		case t.Reverts != "":
			reason = joinReason("reverts "+short.Commit(t.Reverts), reason)
		case t.Restores != "":
			reason = joinReason("restores "+short.Commit(t.Restores), reason)
		case t.Digest == "":
			reason = joinReason("not Slipway's: "+h.Subject, reason)
		}
		if h.RevertedBy != "" {
			reason = joinReason(reason, "reverted by "+short.Commit(h.RevertedBy))
		}
		out = append(out, deploy.Revision{Commit: h.Commit, Version: t.Version, Digest: t.Digest, DeployedAt: h.When,
			DeployedBy: cmp.Or(t.By, h.Author), Reason: reason, Current: i == 0})
	}
	return out, nil
}

func joinReason(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// pickRevision is the revision of hist that to names (a commit, at least 7
// hex digits of it, a version or a digest), or with to "" the newest one
// with a digest other than the current one's.
func pickRevision(hist []deploy.Revision, to string) (deploy.Revision, error) {
	if len(hist) == 0 {
		return deploy.Revision{}, fmt.Errorf("%w: the environment repository holds no deploy of the app", config.ErrNotFound)
	}
	for _, h := range hist[min(1, len(hist)):] {
		switch {
		case to == "" && h.Digest != "" && h.Digest != hist[0].Digest:
			return h, nil
		case to != "" && h.Digest != "" && (h.Version == to || h.Digest == to || len(to) >= 7 && strings.HasPrefix(h.Commit, strings.ToLower(to))):
			return h, nil
		}
	}
	if to == "" {
		return deploy.Revision{}, fmt.Errorf("%w: no earlier commit deployed another digest (history lists them)", config.ErrNotFound)
	}
	return deploy.Revision{}, fmt.Errorf("%w: no earlier commit deployed %q: give a commit, version or digest that history lists", config.ErrNotFound, to)
}

// gitOpsRollback is Rollback for a GitOps environment: a new commit that
// restores the app's file as an earlier commit held it, pushed under the
// deploy lock, and waited for like a deploy. A failed verdict is not
// reverted: a rollback is the way back already.
func (r *Runner) gitOpsRollback(ctx context.Context, env config.Environment, o RollbackOptions) (deploy.Result, error) {
	start := time.Now()
	hist, err := r.gitOpsHistory(ctx, env)
	if err != nil {
		return deploy.Result{}, fmt.Errorf("rolling back %s: %w", env.Name, err)
	}
	to, err := pickRevision(hist, o.To)
	if err != nil {
		return deploy.Result{}, fmt.Errorf("rolling back %s: %w", env.Name, err)
	}
	in := deploy.RenderInput{Project: r.Project, Env: env, Version: to.Version}
	w, err := r.startGitOpsWait(ctx, env, in, DeployOptions{Options: o.Options, Cluster: o.Cluster, Timeout: o.Timeout,
		WaitLock: o.WaitLock, BreakLock: o.BreakLock, Reason: o.Reason})
	if err != nil {
		return deploy.Result{}, err
	}
	defer w.end(ctx)
	res := deploy.Result{Env: env.Name, Namespace: env.Namespace, Deployment: w.name, Version: to.Version}
	commit, changed, err := r.restore(ctx, env, to, o)
	if err != nil {
		return res, err
	}
	res.UpToDate = !changed
	progress.Or(o.Progress).Report(progress.Event{Kind: progress.Info, Step: "rollback", Msg: fmt.Sprintf("restoring %s of %s as commit %s", to.Version, short.Commit(to.Commit), short.Commit(commit))})
	gr := GitOpsResult{Env: env.Name, Commit: commit, Digest: to.Digest, Version: to.Version}
	v, err := w.verdict(ctx, commit, to.Digest, &gr, true)
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		return res, err
	}
	res.Verdict = v
	if v.Phase != deploy.PhaseSucceeded {
		return res, &GitOpsFailedError{Result: res, GitOps: gr, RevertErr: fmt.Errorf("a rollback is not reverted; the environment needs a look: kubectl -n %s get pods", env.Namespace)}
	}
	return res, nil
}

// restore commits the app's file as to holds it and pushes it: the
// branch's new head, and whether anything was committed.
func (r *Runner) restore(ctx context.Context, env config.Environment, to deploy.Revision, o RollbackOptions) (string, bool, error) {
	g := env.GitOps
	repo, err := gitops.Open(ctx, gitops.Options{URL: g.Repo, Branch: g.Branch, Path: g.Path, Progress: o.Progress})
	if err != nil {
		return "", false, err
	}
	c, err := repo.Restore(ctx, to.Commit, gitops.Trailers{App: r.Project.App, Env: env.Name, Version: to.Version, Digest: to.Digest,
		By: Actor(), Reason: o.Reason}, gitops.AppFile(r.Project.App))
	if err != nil || !c.Changed {
		return c.Commit, false, err
	}
	pushed, err := repo.Push(ctx)
	if err != nil {
		return "", false, remedyOfPush(err, env.Name)
	}
	return pushed.Commit, true, nil
}
