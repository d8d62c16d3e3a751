package flow

import (
	"fmt"
	"path/filepath"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/gitops/bootstrap"
	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/projfs"
)

// GitOpsBootstrapOptions configure GitOpsBootstrap.
type GitOpsBootstrapOptions struct {
	// Namespace is where the engine's objects go when gitops.object names
	// none ("": flux-system for Flux, argocd for Argo CD).
	Namespace string
	// Out is a file of the project to write the objects to, relative to
	// the project's directory (or absolute inside it); "" writes none.
	Out string
}

// GitOpsBootstrapResult is what GitOpsBootstrap rendered.
type GitOpsBootstrapResult struct {
	Env    string `json:"environment"`
	Engine string `json:"engine"`
	// File is the file written, relative to the project; "" when none.
	File string `json:"file,omitempty"`
	YAML string `json:"yaml"`
}

// GitOpsBootstrap renders the objects of the engine of the GitOps
// environment called envName (bootstrap.Render), without credentials, and
// writes them to o.Out when it is set.
func (r *Runner) GitOpsBootstrap(envName string, o GitOpsBootstrapOptions) (GitOpsBootstrapResult, error) {
	env, err := r.Project.Environment(envName)
	if err != nil {
		return GitOpsBootstrapResult{}, fmt.Errorf("bootstrapping environment: %w", err)
	}
	if env.GitOps == nil {
		return GitOpsBootstrapResult{}, fmt.Errorf("bootstrapping %s: %w: it is not a GitOps environment; give it a gitops section in %s (see docs/gitops.md)",
			env.Name, config.ErrInvalid, config.ProjectFile)
	}
	g := *env.GitOps
	g.Repo = gitremote.RedactURL(g.Repo)
	y, err := bootstrap.Render(bootstrap.Input{Env: env.Name, Namespace: env.Namespace, GitOps: g, ObjectNamespace: o.Namespace})
	if err != nil {
		return GitOpsBootstrapResult{}, err
	}
	res := GitOpsBootstrapResult{Env: env.Name, Engine: g.Engine, YAML: string(y)}
	if o.Out == "" {
		return res, nil
	}
	if res.File, err = r.projectPath(o.Out); err != nil {
		return GitOpsBootstrapResult{}, err
	}
	// Never through a symlink, never outside the project.
	if err := projfs.WriteFile(r.Project.Dir, res.File, y, 0o644); err != nil {
		return GitOpsBootstrapResult{}, fmt.Errorf("bootstrapping %s: %w", env.Name, err)
	}
	return res, nil
}

// projectPath is p relative to the project's directory: p itself when it
// is relative, else the part of it below the directory (projfs refuses
// what is outside).
func (r *Runner) projectPath(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return filepath.ToSlash(filepath.Clean(p)), nil
	}
	rel, err := filepath.Rel(r.Project.Dir, p)
	if err != nil {
		return "", fmt.Errorf("placing %s in the project: %w", p, err)
	}
	return filepath.ToSlash(rel), nil
}
