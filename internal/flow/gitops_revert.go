package flow

import (
	"context"
	"fmt"
	"strings"

	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/gitops"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/short"
)

// GitOpsFailedError is a GitOps deploy whose verdict failed, with what
// was done about it. It matches deploy.ErrFailed.
type GitOpsFailedError struct {
	Result deploy.Result
	GitOps GitOpsResult
	// RevertErr is why the revert failed, nil when it did not.
	RevertErr error
}

// Error is a summary line, then the failing pods and events as for a
// direct deploy, then what was done about it.
func (e *GitOpsFailedError) Error() string {
	v := e.Result.Verdict
	var b strings.Builder
	fe := deploy.FailedError{Result: e.Result}
	fmt.Fprintf(&b, "%s (commit %s)", fe.Summary(), short.Commit(e.GitOps.Commit))
	b.WriteString(fe.Evidence())
	switch {
	case e.RevertErr != nil:
		fmt.Fprintf(&b, "\nreverting it failed: %v", e.RevertErr)
	case e.GitOps.Revert != "":
		fmt.Fprintf(&b, "\nreverted by commit %s, which the engine applied", short.Commit(e.GitOps.Revert))
	default:
		b.WriteString("\nleft as it is, as asked: the commit stays in the environment repository")
	}
	if v != nil && v.Hint != "" {
		b.WriteString("\nnext: " + v.Hint)
	}
	return b.String()
}

// Is makes errors.Is(err, deploy.ErrFailed) true.
func (e *GitOpsFailedError) Is(target error) bool { return target == deploy.ErrFailed }

// Unwrap is the revert's error, so that its class (an interrupt, a lost
// race) still shows.
func (e *GitOpsFailedError) Unwrap() error { return e.RevertErr }

// revert undoes the commit that wrote res.Digest with a revert commit,
// pushes it, and waits for the engine to apply it and, when another
// digest ran before, for its pods to be ready again.
func (w *gitOpsWait) revert(ctx context.Context, res *GitOpsResult, dr *deploy.Result) error {
	rep := progress.Or(w.o.Progress)
	g := w.env.GitOps
	repo, err := gitops.Open(ctx, gitops.Options{URL: g.Repo, Branch: g.Branch, Path: g.Path, Progress: w.o.Progress})
	if err != nil {
		return err
	}
	ours, err := w.wrote(ctx, repo, res)
	if err != nil {
		return err
	}
	rep.Report(progress.Event{Kind: progress.Start, Step: "rollback", Msg: "reverting " + short.Commit(ours)})
	// Only the app's file: the commit may have changed other apps' too
	// (one written by hand for several), which are not this verdict's.
	c, err := repo.Revert(ctx, ours, gitops.Trailers{App: w.r.Project.App, Env: w.env.Name, By: Actor(), Version: w.beforeVersion, Digest: w.before,
		Reason: "the verdict on " + w.in.Version + " failed: " + dr.Verdict.Reason}, res.File)
	if err != nil {
		return err
	}
	revert := c.Commit
	if c.Changed {
		pushed, err := repo.Push(ctx)
		if err != nil {
			return remedyOfPush(err, w.env.Name)
		}
		revert = pushed.Commit
	}
	res.Revert = revert
	w.deadline = w.r.make.Now().Add(w.timeout())
	var scratch GitOpsResult
	v, err := w.verdict(ctx, revert, w.before, &scratch, w.before != "" || !w.existed)
	if err != nil {
		return err
	}
	if v.Phase != deploy.PhaseSucceeded {
		return fmt.Errorf("the revert %s failed too: %s: %s; the environment needs a look: kubectl -n %s get pods", short.Commit(revert), v.Reason, v.Message, w.env.Namespace)
	}
	dr.RolledBack = true
	return nil
}

// wrote is the commit that wrote the app's file as res has it: res.Commit
// when this deploy committed, else the last commit that changed the file,
// when its trailers say it deployed res.Digest of this app to this
// environment.
func (w *gitOpsWait) wrote(ctx context.Context, repo *gitops.Repo, res *GitOpsResult) (string, error) {
	if res.Changed {
		return res.Commit, nil
	}
	hist, err := repo.History(ctx, 1, res.File)
	if err != nil {
		return "", err
	}
	if len(hist) == 0 || hist[0].Trailers.Digest != res.Digest || hist[0].Trailers.App != w.r.Project.App || hist[0].Trailers.Env != w.env.Name {
		return "", fmt.Errorf("reverting %s: %w: the last commit to change %s is not a deploy of %s", w.env.Name, gitops.ErrConflict, res.File, short.Digest(res.Digest))
	}
	return hist[0].Commit, nil
}
