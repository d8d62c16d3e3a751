package bootstrap

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/slipwayhq/slipway/internal/config"
)

// ErrNoEngine means the environment's gitops.engine is none: nothing
// applies its repository, so there is no object to write. It wraps
// config.ErrInvalid.
var ErrNoEngine = fmt.Errorf("%w: the environment has no engine", config.ErrInvalid)

// Engines' defaults.
const (
	// FluxNamespace is where Flux's objects go unless told otherwise.
	FluxNamespace = "flux-system"
	// ArgoCDNamespace is where Argo CD's Applications go unless told
	// otherwise.
	ArgoCDNamespace = "argocd"
	// InClusterServer is the API server an Argo CD Application deploys to:
	// Argo CD's own cluster.
	InClusterServer = "https://kubernetes.default.svc"
	// FluxGate is the kustomize-controller feature gate GitOps mode wants.
	FluxGate = "CancelHealthCheckOnNewRevision=true"
)

// Intervals of Flux's objects: the source polls often enough for a commit
// that nobody nudges (a pure pull setup) to be fetched within a minute, as
// flux bootstrap's own source does; the Kustomization re-applies every ten
// minutes, and gives up on a revision's health after five, before the
// next attempt.
const (
	SourceInterval        = "1m"
	KustomizationInterval = "10m"
	KustomizationTimeout  = "5m"
)

// Input is what Render needs of one environment.
type Input struct {
	// Env names the environment: the objects' names unless GitOps.Object
	// names them.
	Env string
	// Namespace is the environment's namespace, where an Argo CD
	// Application deploys to.
	Namespace string
	// GitOps is the environment's gitops section, with defaults applied.
	// Its Repo must hold no credentials (config refuses them); Render
	// writes it without user info all the same.
	GitOps config.GitOps
	// ObjectNamespace is where the engine's objects go when GitOps.Object
	// names none ("" is the engine's default namespace).
	ObjectNamespace string
}

// Render returns the engine's objects for in as YAML documents, led by
// comments that say how to apply them and what they need: the
// credentials secret, and for Flux the kustomize-controller feature gate.
func Render(in Input) ([]byte, error) {
	g := in.GitOps
	switch g.Engine {
	case "flux":
		return renderFlux(in)
	case "argocd":
		return renderArgoCD(in)
	case "", "none":
		return nil, fmt.Errorf("rendering the engine objects of %s: %w (gitops.engine is none): nothing in the cluster applies its repository; set environments.%s.gitops.engine to flux or argocd in %s",
			in.Env, ErrNoEngine, in.Env, config.ProjectFile)
	}
	return nil, fmt.Errorf("rendering the engine objects of %s: %w: gitops.engine %q is not flux, argocd or none", in.Env, config.ErrInvalid, g.Engine)
}

// ref is where an engine object goes.
type ref struct{ Namespace, Name string }

func (r ref) String() string { return r.Namespace + "/" + r.Name }

// objectRef is the object gitops.object names, else the environment's
// name in in.ObjectNamespace or def. An object that names a namespace
// other than in.ObjectNamespace is refused: which one is meant is unclear.
func objectRef(in Input, def string) (ref, error) {
	r := ref{Namespace: in.ObjectNamespace, Name: in.Env}
	if r.Namespace == "" {
		r.Namespace = def
	}
	obj := in.GitOps.Object
	if obj == "" {
		return r, nil
	}
	ns, name, found := strings.Cut(obj, "/")
	if !found {
		r.Name = obj
		return r, nil
	}
	if in.ObjectNamespace != "" && in.ObjectNamespace != ns {
		return ref{}, fmt.Errorf("rendering the engine objects of %s: %w: gitops.object %s is in namespace %s, not in %s, the namespace asked for; ask for none, or change gitops.object",
			in.Env, config.ErrInvalid, obj, ns, in.ObjectNamespace)
	}
	return ref{Namespace: ns, Name: name}, nil
}

// EngineURL is the repository URL as an engine fetches it: scp-like
// user@host:path becomes ssh://host/path, and user info is dropped (an
// ssh URL gets the user git, which Flux, Argo CD and every git host take
// for key authentication). Flux and Argo CD fetch http, https and ssh
// only; a file:// URL or a local path is refused.
func EngineURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		raw = scpToSSH(raw)
	}
	u, err := url.Parse(raw)
	if err == nil && u.Scheme != "" && !slices.Contains([]string{"https", "http", "ssh"}, u.Scheme) {
		return "", fmt.Errorf("%w: an engine in the cluster cannot fetch a %s:// repository; serve it over https or ssh", config.ErrInvalid, u.Scheme)
	}
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%w: the repository is not a URL an engine can fetch; give https://HOST/PATH or ssh://HOST/PATH", config.ErrInvalid)
	}
	u.User = nil
	if u.Scheme == "ssh" {
		u.User = url.User("git")
	}
	return u.String(), nil
}

// scpToSSH turns user@host:path into ssh://host/path; anything else
// (a local path) is returned as it is.
func scpToSSH(raw string) string {
	at := strings.Index(raw, "@")
	colon := strings.Index(raw, ":")
	slash := strings.Index(raw, "/")
	if colon <= 0 || (slash >= 0 && slash < colon) || at > colon {
		return raw
	}
	return "ssh://" + raw[at+1:colon] + "/" + strings.TrimPrefix(raw[colon+1:], "/")
}

// repoPath is p as a path in the repository, "." for its root.
func repoPath(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}
