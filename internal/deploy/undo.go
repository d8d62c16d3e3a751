package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// UndoOptions configure Undo.
type UndoOptions struct {
	// To picks the revision: "" for the one before the current, else a
	// revision number, a version or a digest.
	To string
	// Timeout bounds the wait for a verdict.
	Timeout time.Duration
	// Who and Reason are recorded on the Deployment.
	Who, Reason string
	// Lock, when set, takes the environment's deploy lock (Cluster.Lock)
	// first and releases it at the end, as Deploy does; its Name is
	// required, an empty Namespace is the Deployment's.
	Lock     *LockOptions
	Now      func() time.Time
	Progress progress.Reporter
}

// Undo rolls an environment's Deployment back to an earlier revision and
// waits for the verdict, as deploy does. It is the emergency path: no gate
// applies, and a failure is reported, not rolled back again. An interrupt
// stops the wait as in Deploy: the rollback carries on in the cluster.
// Every call to the cluster rides out an API server that restarts (see
// Cluster.call), for at most o.Timeout in each call.
func (c *Cluster) Undo(ctx context.Context, ns, name string, o UndoOptions) (res Result, err error) {
	start := time.Now()
	rep := progress.Or(o.Progress)
	c = c.with(rep, o.Timeout)
	intr := &undoInterrupt{ctx: ctx, env: c.Env}
	interrupted := intr.of
	reason := o.Reason
	wctx := ctx
	if o.Lock != nil {
		lo := *o.Lock
		lo.Namespace = cmp.Or(lo.Namespace, ns)
		lo.Holder.Env = cmp.Or(lo.Holder.Env, c.Env)
		lo.Holder.Operation = cmp.Or(lo.Holder.Operation, "rollback")
		held, lerr := c.holdLock(ctx, lo, rep, "rolling back "+c.Env)
		if lerr != nil {
			return Result{Env: c.Env, Namespace: ns, Deployment: name}, interrupted(lerr)
		}
		defer func() { err = held.end(ctx, err) }()
		wctx = held.ctx
		res.BrokeLock, reason = held.broke(reason, lo.Reason)
	}
	broke := res.BrokeLock
	hist, err := c.History(ctx, ns, name)
	if err != nil {
		return Result{}, interrupted(err)
	}
	target, current, err := pick(hist, o.To)
	intr.target = target
	if err != nil {
		return Result{}, fmt.Errorf("rolling back %s: %w", c.Env, err)
	}
	res = Result{Env: c.Env, Namespace: ns, Deployment: name, Image: target.Image, Version: target.Version, Revision: target.Revision, BrokeLock: broke}
	if target.Revision == current.Revision {
		res.UpToDate = true
		return res, nil
	}
	rep.Report(progress.Event{Kind: progress.Start, Step: "rollback", Msg: fmt.Sprintf("rolling %s back to revision %d (%s)", c.Env, target.Revision, target.Version)})
	reason = cmp.Or(reason, fmt.Sprintf("rollback from revision %d", current.Revision))
	intr.applied = true // perhaps: an interrupted apply may or may not have landed
	record := rollbackRecord(o, c.Env, reason, target)
	gen, err := retried(ctx, c, "rolling back "+name, func(ctx context.Context) (int64, error) {
		return RollbackRecorded(ctx, c.Client, ns, name, target.rs, FieldManager, record)
	})
	if err != nil {
		return res, interrupted(c.explain(err, ""))
	}
	v, err := Wait(wctx, c.Client, WaitOptions{Namespace: ns, Name: name, Generation: gen, Timeout: o.Timeout, Progress: rep})
	if err != nil {
		return res, interrupted(c.explain(err, "waiting for the rollback of "+name))
	}
	res.Verdict, res.Seconds = &v, time.Since(start).Seconds()
	if v.Revision > 0 {
		res.Revision = v.Revision // the old template comes back as a new revision
	}
	if v.Phase != PhaseSucceeded {
		return res, &FailedError{Result: res}
	}
	return res, nil
}

// undoInterrupt turns a rollback's errors into an *InterruptedError once
// ctx is cancelled, saying whether the rollback to target was applied.
type undoInterrupt struct {
	ctx     context.Context
	env     string
	applied bool
	target  Revision
}

func (u *undoInterrupt) of(err error) error {
	if err == nil || u.ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		return err
	}
	state := "nothing was changed in " + u.env
	next := remedy.Remedy{Kind: remedy.RollbackAgain, Env: u.env}
	if u.applied {
		state = fmt.Sprintf("the rollback of %s to revision %d (%s) continues in the cluster", u.env, u.target.Revision, u.target.Version)
		next = remedy.Remedy{Kind: remedy.FollowRollback, Env: u.env}
	}
	return &InterruptedError{Env: u.env, State: state, Next: next, Err: u.ctx.Err()}
}

// rollbackRecord is what a rollback of env to target records on the
// Deployment: who, when, why and the cause.
func rollbackRecord(o UndoOptions, env, reason string, target Revision) map[string]string {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	return map[string]string{
		AnnotationBy: o.Who, AnnotationAt: now().UTC().Format(time.RFC3339), AnnotationReason: reason,
		AnnotationCause: "slipway rollback " + env + " " + target.Version,
	}
}

// pick finds the revision to roll back to, and the current one.
func pick(hist []Revision, to string) (target, current Revision, err error) {
	for _, r := range hist {
		if r.Current {
			current = r
		}
	}
	var names []string
	for _, r := range hist {
		names = append(names, fmt.Sprintf("%d (%s)", r.Revision, r.Version))
		switch {
		case to == "" && !r.Current && r.Revision < current.Revision:
			return r, current, nil
		case to == "":
		case to == strconv.FormatInt(r.Revision, 10), to == r.Version, strings.HasPrefix(to, "sha256:") && to == r.Digest:
			return r, current, nil
		}
	}
	if to == "" {
		return target, current, fmt.Errorf("%w: only revision %d is kept", ErrNoRevision, current.Revision)
	}
	return target, current, fmt.Errorf("%w: no revision matches %q; kept: %s", ErrNoRevision, to, strings.Join(names, ", "))
}
