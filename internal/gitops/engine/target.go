package engine

import (
	"context"
	"fmt"
)

// Target is the engine object that applies one environment, as an engine
// found it: what a deploy nudges and waits on.
type Target interface {
	// String names the object, such as "Kustomization flux-system/dev".
	String() string
	// Nudge asks the engine to fetch and apply now.
	Nudge(ctx context.Context) error
	// Wait waits until the engine's Outcome for commit is final.
	Wait(ctx context.Context, commit string, descends Descends) (Outcome, error)
	// Look reads the engine's Outcome for commit once, without a deadline
	// or asking about newer commits: Pending, Applied or Failed.
	Look(ctx context.Context, commit string) (Outcome, error)
}

// Engine finds the Target that applies a path of a branch of a repository.
type Engine interface {
	Target(ctx context.Context, repoURL, branch, path string) (Target, error)
}

// Target finds the Kustomization that applies path of branch of repoURL
// (see Find).
func (f *Flux) Target(ctx context.Context, repoURL, branch, path string) (Target, error) {
	k, err := f.Find(ctx, repoURL, branch, path)
	if err != nil {
		return nil, err
	}
	return fluxTarget{f: f, k: k}, nil
}

// Look reads k and its GitRepository once and classifies commit, without
// a deadline or newer commits; a commit Flux applied before counts as
// applied while Flux reconciles it again.
func (f *Flux) Look(ctx context.Context, k Kustomization, commit string) (Outcome, error) {
	s, err := f.status(ctx, k)
	if err != nil {
		return Outcome{}, fmt.Errorf("looking at %s: %w", k, err)
	}
	s.Suspended = false // a suspension after our commit was applied stops nothing
	o := Classify(s, commit)
	if o.State == Pending && revisionIs(s.Applied, commit) {
		// Flux reconciles the commit it applied again (a nudge, its
		// interval): that it builds it once more undoes nothing.
		o.State, o.Confirmed = Applied, s.Ready.Status == "True"
	}
	return o, nil
}

// fluxTarget is a Kustomization bound to its adapter.
type fluxTarget struct {
	f *Flux
	k Kustomization
}

func (t fluxTarget) String() string                  { return "Kustomization " + t.k.String() }
func (t fluxTarget) Nudge(ctx context.Context) error { return t.f.Nudge(ctx, t.k) }
func (t fluxTarget) Wait(ctx context.Context, commit string, d Descends) (Outcome, error) {
	return t.f.Wait(ctx, t.k, commit, d)
}
func (t fluxTarget) Look(ctx context.Context, commit string) (Outcome, error) {
	return t.f.Look(ctx, t.k, commit)
}
