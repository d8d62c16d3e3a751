package flow

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/sign"
	"github.com/slipwayhq/slipway/promote"
)

// PromoteOptions configure Promote.
type PromoteOptions struct {
	Options
	// Version promotes this version instead of the one at HEAD.
	Version string
	// Digest promotes exactly this digest.
	Digest string
	// Force moves a target version tag that points at another digest.
	Force bool
	// NoRecord skips the promotion record, and so its attestation.
	NoRecord bool
	// Sign signs in the target as signing.promote does, for this run.
	Sign bool
}

// Promote copies the project's image by digest from the registry called
// (or of the environment called) from to the one of to. With
// signing.promote (or o.Sign) it signs the digest in the target and
// attests the promotion record with the signing key, which it loads before
// copying anything.
func (r *Runner) Promote(ctx context.Context, from, to string, o PromoteOptions) (promote.Result, error) {
	p := r.Project
	signer, err := promoteSigner(p, o.Sign)
	if err != nil {
		return promote.Result{}, err
	}
	src, err := r.client(from, o.Options)
	if err != nil {
		return promote.Result{}, fmt.Errorf("promoting from %s: %w", from, err)
	}
	dst, err := r.client(to, o.Options)
	if err != nil {
		return promote.Result{}, fmt.Errorf("promoting to %s: %w", to, err)
	}
	version, commit := o.Version, ""
	if version == "" && o.Digest == "" {
		info, err := r.Version()
		if err != nil {
			return promote.Result{}, err
		}
		version, commit = info.Version, info.Commit
	}
	var digest v1.Hash
	if o.Digest != "" {
		if digest, err = v1.NewHash(o.Digest); err != nil {
			return promote.Result{}, fmt.Errorf("promoting: parsing digest %q: %w", o.Digest, err)
		}
	}
	po := promote.Options{
		From: src, To: dst, FromName: src.Name(), ToName: dst.Name(), App: p.App,
		Version: version, Digest: digest, Commit: commit, Force: o.Force, Jobs: o.Jobs, Progress: promoteEvents(o.Progress),
		Signer: signer,
	}
	if !o.NoRecord {
		po.Record = &promote.Record{Who: Actor(), When: time.Now().UTC(), Commit: commit,
			FromEnvironment: environmentNamed(p, from), ToEnvironment: environmentNamed(p, to)}
	}
	return promote.Promote(ctx, po)
}

// promoteEvents passes promote's events on to rep as the promote step's.
func promoteEvents(rep progress.Reporter) func(promote.Event) {
	if rep == nil {
		return nil
	}
	kinds := map[promote.EventKind]progress.Kind{
		promote.EventStart: progress.Start, promote.EventCopy: progress.Update,
		promote.EventInfo: progress.Info, promote.EventWarn: progress.Warn,
	}
	return func(e promote.Event) {
		ev := progress.Event{Kind: kinds[e.Kind], Step: "promote", Msg: e.Msg}
		if e.Kind == promote.EventCopy {
			ev.Done, ev.Total, ev.Unit = e.Done, e.Total, "B"
		}
		rep.Report(ev)
	}
}

// promoteSigner is the signer of a promotion with signing.promote or
// always, its key decrypted, or nil.
func promoteSigner(p *config.Project, always bool) (sign.Signer, error) {
	if !always && (p.Signing == nil || !p.Signing.Promote) {
		return nil, nil
	}
	if p.Signing == nil {
		return nil, fmt.Errorf("promoting with --sign: %w: %s has no signing section; add signing: {key: cosign.key}", config.ErrInvalid, config.ProjectFile)
	}
	s, err := loadSigner(p)
	if err != nil {
		return nil, err
	}
	// Before anything is copied: promotion is no place to find out.
	if err := keyReady(s); err != nil {
		return nil, err
	}
	return s, nil
}

// environmentNamed returns name when it names an environment rather than
// a registry (registry names win, as in ResolveRegistry), else "".
func environmentNamed(p *config.Project, name string) string {
	if _, ok := p.Registries.Get(name); ok {
		return ""
	}
	if _, ok := p.Environments.Get(name); ok {
		return name
	}
	return ""
}

// client opens the registry called name, or the registry of the
// environment called name.
func (r *Runner) client(name string, o Options) (*registry.Client, error) {
	reg, err := r.Project.ResolveRegistry(name)
	if err != nil {
		return nil, err
	}
	return r.registry(reg, o, true)
}
