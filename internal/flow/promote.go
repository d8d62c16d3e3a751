package flow

import (
	"context"
	"fmt"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/registry"
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
	// NoRecord skips the promotion record.
	NoRecord bool
}

// Promote copies the project's image by digest from the registry called
// (or of the environment called) from to the one of to.
func Promote(ctx context.Context, p *config.Project, from, to string, o PromoteOptions) (promote.Result, error) {
	src, err := client(p, from, o.Options)
	if err != nil {
		return promote.Result{}, fmt.Errorf("promoting from %s: %w", from, err)
	}
	dst, err := client(p, to, o.Options)
	if err != nil {
		return promote.Result{}, fmt.Errorf("promoting to %s: %w", to, err)
	}
	version, commit := o.Version, ""
	if version == "" && o.Digest == "" {
		info, err := Version(p)
		if err != nil {
			return promote.Result{}, err
		}
		version, commit = info.Version, info.Commit
	}
	po := promote.Options{
		From: src, To: dst, FromName: src.Name(), ToName: dst.Name(), App: p.App,
		Version: version, Digest: o.Digest, Commit: commit, Force: o.Force, Jobs: o.Jobs, Progress: o.Progress,
	}
	if !o.NoRecord {
		po.Record = &promote.Record{Who: Actor(), When: time.Now().UTC(), Commit: commit}
	}
	return promote.Promote(ctx, po)
}

// client opens the registry called name, or the registry of the
// environment called name.
func client(p *config.Project, name string, o Options) (*registry.Client, error) {
	reg, err := p.ResolveRegistry(name)
	if err != nil {
		return nil, err
	}
	return registry.New(registry.Options{Name: reg.Name, Registry: reg, Jobs: o.Jobs, UserAgent: o.UserAgent, Progress: o.Progress})
}
