package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/release"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// ErrStale is matched when a step would use a build of another commit.
var ErrStale = errors.New("the build is not of the current commit")

// Options are what every step needs besides the project.
type Options struct {
	// UserAgent names Slipway in registry requests.
	UserAgent string
	// Jobs bounds parallel blob transfers (default registry.DefaultJobs).
	Jobs int
	// Progress receives progress events; nil discards them.
	Progress progress.Reporter
	// NoDeps runs a command's goal alone, never the missing steps it
	// needs first (see PushGoal, PromoteGoal, DeployGoal, RunTasks).
	NoDeps bool
	// TaskOutput receives the output of a ci.yaml task that a build needed
	// run first (see buildStep); nil discards it.
	TaskOutput io.Writer
}

// releaseSettings are the release settings of slipway.yaml as options for
// release.Release; the caller adds what the command asks for.
func releaseSettings(p *config.Project) (release.Options, error) {
	rc := p.Release
	def, err := release.ParseBump(rc.DefaultBump)
	if err != nil {
		return release.Options{}, err
	}
	return release.Options{
		Dir: p.Dir, Prefix: rc.TagPrefix, Paths: rc.Paths, Bump: rc.Bump,
		DefaultBump: def, Initial: rc.Initial, Remote: rc.Remote,
	}, nil
}

// BuildOptions configure Build.
type BuildOptions struct {
	Options
	// RefreshBase resolves the base image's tag again.
	RefreshBase bool
}

// Build builds the project's image for HEAD, stamped with its version.
// Unless o.NoDeps, a layer source that is missing, which a ci.yaml task
// should make (the RunBuildTask remedy), is made first by running that
// task, as the job before build does in CI; its output goes to
// o.TaskOutput.
func (r *Runner) Build(ctx context.Context, o BuildOptions) (image.Result, error) {
	res, err := r.build(ctx, o)
	next, ok := remedy.Of(err)
	if o.NoDeps || !ok || next.Kind != remedy.RunBuildTask || next.Task == "" {
		return res, err
	}
	rep := progress.Or(o.Progress)
	rep.Report(progress.Event{Kind: progress.Start, Step: "build",
		Msg: fmt.Sprintf("a layer source is missing: running %s's task %s first", config.CIFile, next.Task)})
	out := o.TaskOutput
	if out == nil {
		out = io.Discard
	}
	if terr := RunTask(ctx, r.Project, next.Task, Stdio{Out: out, Err: out}); terr != nil {
		return res, fmt.Errorf("building: running %s's task %s, which makes a missing layer source: %w", config.CIFile, next.Task, terr)
	}
	rep.Report(progress.Event{Kind: progress.Finish, Step: "build",
		Msg: fmt.Sprintf("ran %s's task %s: a layer source was missing", config.CIFile, next.Task)})
	return r.build(ctx, o)
}

// build is Build without running a task first.
func (r *Runner) build(ctx context.Context, o BuildOptions) (image.Result, error) {
	p := r.Project
	rep := progress.Or(o.Progress)
	info, err := r.Version()
	if err != nil {
		return image.Result{}, err
	}
	if info.Dirty {
		rep.Report(progress.Event{Kind: progress.Warn, Step: "build",
			Msg: "the working tree has uncommitted changes: the image holds them, not commit " + info.ShortCommit})
	}
	set, err := registry.NewSetWith(p.Registries, registry.Options{UserAgent: o.UserAgent, Jobs: o.Jobs, Progress: o.Progress}, r.make.Registry)
	if err != nil {
		return image.Result{}, err
	}
	res, err := image.Build(ctx, image.BuildOptions{
		Dir: p.Dir, App: p.App, Image: p.Image, Remote: set, RefreshBase: o.RefreshBase, Progress: o.Progress,
		Meta: image.Meta{Version: info.Version, Revision: info.Commit, Source: info.Source, Created: info.CommitTime},
	})
	var missing *image.MissingSourceError
	if errors.As(err, &missing) {
		err = remedy.With(err, remedy.Remedy{Kind: remedy.RunBuildTask, Task: maker(p, missing.From), File: config.CIFile})
	}
	return res, err
}

// maker is the ci.yaml task that should make from, a missing layer
// source (see config.CI.Maker), or "" without a ci.yaml that loads.
func maker(p *config.Project, from string) string {
	c, err := config.LoadCI(p.Dir, p)
	if err != nil {
		return ""
	}
	return c.Maker(from)
}

// PushOptions configure Push.
type PushOptions struct {
	Options
	// Force moves a version tag that points at another digest.
	Force bool
	// AllowStale pushes a build of another commit than HEAD.
	AllowStale bool
}

// Push pushes the project's last build to the registry of target, an
// environment or registry name, and signs it when slipway.yaml has a
// signing key.
func (r *Runner) Push(ctx context.Context, target string, o PushOptions) (image.PushResult, error) {
	p := r.Project
	reg, err := p.ResolveRegistry(target)
	if err != nil {
		return image.PushResult{}, fmt.Errorf("pushing to %s: %w", target, err)
	}
	// One read of the build record serves the check, the push and the
	// statements about what it pushes.
	rec, err := image.ReadRecord(outputDir(p))
	if err != nil {
		return image.PushResult{}, err
	}
	if !o.AllowStale {
		if err := r.checkFresh(rec); err != nil {
			return image.PushResult{}, err
		}
	}
	signer, err := loadSigner(p)
	if err != nil {
		return image.PushResult{}, err
	}
	client, err := r.registry(reg, o.Options, true)
	if err != nil {
		return image.PushResult{}, err
	}
	po := image.PushOptions{Dir: p.Dir, App: p.App, Registry: client, Force: o.Force, Progress: o.Progress, Record: &rec}
	if signer == nil {
		return image.Push(ctx, po)
	}
	// The signature and attestations are made while the blobs upload; a
	// wrong password, or any other failure to sign, stops the push before
	// any tag is written.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	signing := startSigning(sctx, p, rec, client, signer)
	po.BeforeTag, po.Settling = signing.ready, signing.startUpload
	po.Settled = func() { signing.startTags(ctx) }
	res, err := image.Push(ctx, po)
	if err != nil {
		cancel()
		signing.wait()
		return res, err
	}
	return res, signing.commit(ctx, &res, progress.Or(o.Progress))
}

// checkFresh refuses a build record of another commit than HEAD, so a
// push never tags yesterday's image with today's version.
func (r *Runner) checkFresh(rec image.Record) error {
	p := r.Project
	info, err := r.Version()
	if err != nil {
		return err
	}
	if rec.Revision != "" && rec.Revision != info.Commit {
		return remedy.With(fmt.Errorf("pushing %s %s: %w: it was built from %.7s but HEAD is %s", p.App, rec.Version, ErrStale, rec.Revision, info.ShortCommit),
			remedy.Remedy{Kind: remedy.BuildFirst, Stale: true})
	}
	return nil
}

func outputDir(p *config.Project) string { return filepath.Join(p.Dir, image.OutputDir) }
