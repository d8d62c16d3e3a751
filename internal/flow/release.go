package flow

import (
	"context"
	"errors"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/release"
)

// ReleaseOptions configure Release: what the command asks for over the
// release settings of slipway.yaml.
type ReleaseOptions struct {
	Options
	// Bump is auto, major, minor or patch ("": release.bump).
	Bump string
	// Remote is the git remote to push to ("": release.remote).
	Remote string
	// Pre makes a pre-release with this id, e.g. rc.
	Pre string
	// Version releases exactly this version.
	Version string
	// Message is the tag's message ("": Release VERSION).
	Message string
	// DryRun says what would be tagged and changes nothing.
	DryRun bool
	// Push pushes the new tag, and only it.
	Push bool
	// AllowDirty releases with uncommitted changes.
	AllowDirty bool
}

// Release tags HEAD of the project's repository with the next version
// (see release.Release), by the release settings of slipway.yaml and o.
func (r *Runner) Release(ctx context.Context, o ReleaseOptions) (ReleaseResult, error) {
	ro, err := releaseSettings(r.Project)
	if err != nil {
		return ReleaseResult{}, err
	}
	if o.Bump != "" {
		ro.Bump = o.Bump
	}
	if o.Remote != "" {
		ro.Remote = o.Remote
	}
	ro.Progress = o.Progress
	ro.Pre, ro.Version, ro.Message = o.Pre, o.Version, o.Message
	ro.DryRun, ro.Push, ro.AllowDirty = o.DryRun, o.Push, o.AllowDirty
	return release.Release(ctx, ro)
}

// ReleaseProject loads slipway.yaml from dir for versioning, or when dir
// has none yet returns its defaults: versioning works in any git
// repository.
func ReleaseProject(dir string) (*config.Project, error) {
	p, err := config.LoadProject(dir)
	if errors.Is(err, config.ErrNotFound) {
		p, err = config.ParseProject(config.ProjectFile, []byte("apiVersion: slipway/v1\napp: app\n"))
		if p != nil {
			p.Dir = dir
		}
	}
	return p, err
}
