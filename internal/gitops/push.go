package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/progress"
)

// Pushed is what Push did.
type Pushed struct {
	// Commit is the branch's head on the remote after the push: the last
	// commit pushed, or the remote's head when nothing was left to push.
	// After a rebase it is not the commit Commit returned.
	Commit string
	// Pushed is false when there was nothing to push, or when the
	// commits that got there first already held the change.
	Pushed bool
	// Rebased says another push landed first and the change was made again
	// on top of it.
	Rebased bool
}

// Push sends the commits made since the last fetch or push to the
// branch, fast-forward only: the remote takes them only while its branch
// is still where Slipway read it. When another push got there first,
// Push fetches the new head and makes the same changes again on it, once,
// unless someone else changed a file they write (an error wrapping
// ErrConflict); a second rejection is an error wrapping ErrRaced. The
// remote updates its branch at once or not at all, so a failed push
// leaves it as it was.
func (r *Repo) Push(ctx context.Context) (Pushed, error) {
	if len(r.pending) == 0 {
		return Pushed{Commit: r.Head()}, nil
	}
	out, err := r.push(ctx)
	if err == nil {
		return r.landed(out, false), nil
	}
	if out != rejected {
		return Pushed{}, err
	}
	old := r.base
	if ferr := r.fetch(ctx, 1); ferr != nil {
		return Pushed{}, errors.Join(err, ferr)
	}
	if r.base == old {
		return Pushed{}, err // refused for another reason than a race
	}
	r.rep.Report(progress.Event{Kind: progress.Warn, Step: "gitops",
		Msg: fmt.Sprintf("another push landed first (%s is at %s); making the change again on top of it", r.where, short(r.base))})
	if err := r.rebase(old); err != nil {
		return Pushed{}, err
	}
	if len(r.pending) == 0 {
		return Pushed{Commit: r.Head(), Rebased: true}, nil
	}
	if out, err = r.push(ctx); out == rejected {
		return Pushed{}, fmt.Errorf("pushing to %s: %w twice in a row; run the command again: %w", r.where, ErrRaced, err)
	}
	if err != nil {
		return Pushed{}, err
	}
	return r.landed(out, true), nil
}

// landed records that the head is the remote's.
func (r *Repo) landed(out pushOutcome, rebased bool) Pushed {
	r.base, r.pending = r.head, nil
	_ = r.store.SetReference(plumbing.NewHashReference(tracking(r.branch), r.base))
	r.rep.Report(progress.Event{Kind: progress.Finish, Step: "gitops", Msg: "pushed " + short(r.head) + " to " + r.where})
	return Pushed{Commit: r.head.String(), Pushed: out == sent, Rebased: rebased}
}

// pushOutcome is what one push did.
type pushOutcome int

const (
	failed   pushOutcome = iota
	sent                 // the remote took the commits
	already              // the remote was at the head already
	rejected             // the remote's branch is not where Slipway read it
)

// push pushes the local branch once.
func (r *Repo) push(ctx context.Context) (pushOutcome, error) {
	if r.onto != r.base {
		// The lease allows any update of the branch from base: pushing
		// commits made on another head would drop the commits between.
		return failed, fmt.Errorf("pushing to %s: %w: the commits were made on %s and the branch is now at %s; open the repository again",
			r.where, ErrConflict, short(r.onto), short(r.base))
	}
	limit := r.timeout(ctx)
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	spec := config.RefSpec(r.branch + ":" + r.branch)
	opts := &git.PushOptions{RemoteName: remoteName, RefSpecs: []config.RefSpec{spec}, Auth: r.creds.Method}
	if !r.base.IsZero() {
		// The remote's branch must still be at base: the lease is checked
		// against what the remote advertises, and the remote checks the
		// same old value again as it updates the branch.
		opts.ForceWithLease = &git.ForceWithLease{RefName: r.branch, Hash: r.base}
	}
	r.rep.Report(progress.Event{Kind: progress.Start, Step: "gitops", Msg: "pushing " + short(r.head) + " to " + r.where})
	err := r.repo.PushContext(pctx, opts)
	switch {
	case err == nil:
		return sent, nil
	case errors.Is(err, git.NoErrAlreadyUpToDate):
		return already, nil
	case ctx.Err() == nil && pctx.Err() == nil && isRejected(err):
		return rejected, fmt.Errorf("pushing to %s: %w", r.where, gitremote.Quote(err, r.creds.Secrets))
	}
	return failed, r.netError(ctx, pctx, "pushing to", limit, err)
}

// isRejected reports whether err says the remote's branch is not where
// the push expected it: go-git's own check of the lease or of a
// fast-forward, or the server's as it locks the branch.
func isRejected(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"non-fast-forward", "fetch first", "failed to update ref", "cannot lock ref", "failed to lock", "stale info", "already exists"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// rebase makes the pending changes again on base, which another push
// moved on from old: refused when a file they write changed between old
// and base, unless it now holds what Slipway writes.
func (r *Repo) rebase(old plumbing.Hash) error {
	was, err := r.treeOf(old)
	if err != nil {
		return err
	}
	now, err := r.treeOf(r.base)
	if err != nil {
		return err
	}
	ours, err := r.treeOf(r.head)
	if err != nil {
		return err
	}
	for _, c := range r.pending {
		for _, p := range c.touched() {
			if err := r.unchanged(p, was, now, ours); err != nil {
				return err
			}
		}
	}
	head, kept := r.base, []change(nil)
	for _, c := range r.pending {
		h, changed, err := r.build(head, c)
		if err != nil {
			return err
		}
		if changed {
			head, kept = h, append(kept, c)
		}
	}
	if err := r.setBranch(head); err != nil {
		return err
	}
	r.head, r.pending, r.onto = head, kept, r.base
	return nil
}

// unchanged refuses a rebase when path p differs between the trees was
// and now, and now does not hold what ours does.
func (r *Repo) unchanged(p string, was, now, ours plumbing.Hash) error {
	var e [3]entry
	for i, t := range []plumbing.Hash{was, now, ours} {
		var err error
		if e[i], err = lookup(r.loadTree, t, p); err != nil {
			return err
		}
	}
	if e[0] == e[1] || e[1] == e[2] {
		return nil
	}
	by := ""
	if c, err := r.repo.CommitObject(r.base); err == nil {
		by = " by " + quote(c.Author.Name)
	}
	return fmt.Errorf("pushing to %s: %w: %s changed since Slipway fetched it (the branch is now at %s%s); look at that change, then run the command again to write over it",
		r.where, ErrConflict, quote(p), short(r.base), by)
}
