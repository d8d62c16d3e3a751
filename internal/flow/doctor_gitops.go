package flow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/gitops"
	"github.com/slipwayhq/slipway/internal/gitops/bootstrap"
	"github.com/slipwayhq/slipway/internal/gitops/engine"
	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/short"
)

// Names of the checks Doctor makes of a GitOps environment.
const (
	CheckGitOpsRepo   = "gitops-repo"
	CheckEngineObject = "gitops-engine"
	CheckEngineAccess = "gitops-access"
	CheckFluxGate     = "flux-feature-gate"
)

// gitOpsRepoCheck fetches the head of env's branch, as a deploy does
// first: the repository answers, the credentials are accepted, and the
// branch exists (a missing one is a warning: the first deploy starts it,
// but the engine has nothing to fetch until then).
func (r *Runner) gitOpsRepoCheck(ctx context.Context, env config.Environment) deploy.Check {
	g := env.GitOps
	where := fmt.Sprintf("%s branch %s", gitremote.RedactURL(g.Repo), g.Branch)
	ch := deploy.Check{Name: CheckGitOpsRepo, Status: deploy.CheckOK}
	repo, err := gitops.Open(ctx, gitops.Options{URL: g.Repo, Branch: g.Branch, Path: g.Path})
	if err != nil {
		ch.Status, ch.Detail = deploy.CheckFail, r.describe(err)
		ch.Next, _ = remedy.Of(err)
		switch {
		case errors.Is(err, gitremote.ErrAuth):
			ch.Hint = "give credentials that may push to it (see Credentials in docs/gitops.md)"
		case ch.Next.Kind == remedy.None:
			ch.Hint = fmt.Sprintf("check environments.%s.gitops.repo in %s, and that the server is reachable from here", env.Name, config.ProjectFile)
		}
		return ch
	}
	head := repo.Head()
	if head == "" {
		ch.Status, ch.Detail = deploy.CheckWarn, where+" does not exist yet: the engine has nothing to fetch until the first deploy starts it"
		ch.Hint = fmt.Sprintf("deploy to %s once (`slipway deploy %s`) to start it, or push the branch yourself", env.Name, env.Name)
		return ch
	}
	file := gitops.AppFile(r.Project.App)
	holds := "has no " + file + " yet"
	if _, err := repo.ReadFile(file); err == nil {
		holds = "holds " + file
	}
	ch.Detail = fmt.Sprintf("%s at %s; path %s %s", where, short.Commit(head), g.Path, holds)
	return ch
}

// gitOpsEngineChecks checks the engine of env on cluster c, when the API
// server answered (reached): that its object exists and applies env's
// path, that the credentials may read and nudge it, and for Flux that
// kustomize-controller runs with bootstrap.FluxGate. A cluster without a
// configuration (a client made in a test) has no dynamic client: the
// checks are skipped with a note.
func (r *Runner) gitOpsEngineChecks(ctx context.Context, env config.Environment, c *deploy.Cluster, reached bool) []deploy.Check {
	eng := env.GitOps.Engine
	notChecked := func(why string) []deploy.Check {
		return []deploy.Check{{Name: CheckEngineObject, Status: deploy.CheckOK, Detail: "not checked: " + why}}
	}
	switch {
	case eng != "flux" && eng != "argocd":
		return notChecked("gitops.engine is none: Slipway commits, and the verdict is yours to get")
	case c == nil || !reached:
		return []deploy.Check{{Name: CheckEngineObject, Status: deploy.CheckWarn,
			Detail: "not checked: the cluster cannot be reached", Hint: "fix the kubeconfig and reachability first"}}
	case c.Config == nil:
		return notChecked("no client configuration to read the engine's objects with")
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return []deploy.Check{{Name: CheckEngineObject, Status: deploy.CheckWarn, Detail: fmt.Sprintf("not checked: making a client of the engine's objects: %v", err)}}
	}
	return engineProbe{kube: c.Client, dyn: dyn, context: c.Context}.checks(ctx, env)
}

// engineProbe reads an engine's objects and asks what the credentials
// may do with them.
type engineProbe struct {
	kube    kubernetes.Interface
	dyn     dynamic.Interface
	context string
}

// checks checks the object of env's engine, what the credentials may do
// with it, and for Flux kustomize-controller's feature gate.
func (p engineProbe) checks(ctx context.Context, env config.Environment) []deploy.Check {
	g := env.GitOps
	if g.Engine == "argocd" {
		obj, ns := p.argoCDObject(ctx, env)
		return []deploy.Check{obj, p.access(ctx, argoCDAccess(ns))}
	}
	obj, kns, sns := p.fluxObject(ctx, env)
	return []deploy.Check{obj, p.access(ctx, fluxAccess(kns, sns)), p.fluxGate(ctx)}
}

// objectNamespace is the namespace gitops.object names, else def.
func objectNamespace(object, def string) string {
	if ns, _, ok := strings.Cut(object, "/"); ok {
		return ns
	}
	return def
}

// fluxObject finds the Kustomization that applies env (engine.Flux.Find)
// and returns the check with the namespaces of the Kustomization and its
// GitRepository (the object's, or flux-system, when none is found).
func (p engineProbe) fluxObject(ctx context.Context, env config.Environment) (ch deploy.Check, kns, sns string) {
	g := env.GitOps
	// As a deploy's adapter does: every namespace is listed.
	f := &engine.Flux{Client: p.dyn, Object: g.Object}
	kns = objectNamespace(g.Object, bootstrap.FluxNamespace)
	k, err := f.Find(ctx, g.Repo, g.Branch, g.Path)
	if err != nil {
		return p.objectFailed(env, "Kustomization", err), kns, kns
	}
	return deploy.Check{Name: CheckEngineObject, Status: deploy.CheckOK,
		Detail: fmt.Sprintf("Kustomization %s applies path %s of branch %s through GitRepository %s/%s",
			k, g.Path, g.Branch, k.SourceNamespace, k.SourceName)}, k.Namespace, k.SourceNamespace
}

// objectFailed is the check of an engine object that could not be found
// or read.
func (p engineProbe) objectFailed(env config.Environment, kind string, err error) deploy.Check {
	ch := deploy.Check{Name: CheckEngineObject, Status: deploy.CheckFail, Detail: err.Error(),
		Hint: fmt.Sprintf("apply the output of `slipway gitops bootstrap %s` (or point gitops.object at the %s that applies the environment)", env.Name, kind)}
	if apierrors.IsForbidden(err) {
		ch.Hint = fmt.Sprintf("the user of context %s needs get and list on %ss; ask the cluster's admin", p.context, kind)
	}
	return ch
}

// fluxGate reads kustomize-controller's Deployment in flux-system and
// warns when its arguments do not turn bootstrap.FluxGate on. A
// Deployment it cannot read (elsewhere, or not allowed) is not checked.
func (p engineProbe) fluxGate(ctx context.Context) deploy.Check {
	const ns, name = bootstrap.FluxNamespace, "kustomize-controller"
	d, err := p.kube.AppsV1().Deployments(ns).Get(ctx, name, metaGet)
	if err != nil {
		return deploy.Check{Name: CheckFluxGate, Status: deploy.CheckOK,
			Detail: fmt.Sprintf("not checked: reading Deployment %s/%s: %s", ns, name, apiReason(err))}
	}
	var args []string
	for _, c := range d.Spec.Template.Spec.Containers {
		args = append(append(args, c.Command...), c.Args...)
	}
	if gateOn(args, strings.TrimSuffix(bootstrap.FluxGate, "=true")) {
		return deploy.Check{Name: CheckFluxGate, Status: deploy.CheckOK, Detail: name + " runs with --feature-gates=" + bootstrap.FluxGate}
	}
	return deploy.Check{Name: CheckFluxGate, Status: deploy.CheckWarn,
		Detail: fmt.Sprintf("%s runs without --feature-gates=%s: a revert pushed while a crash-looping revision is health-checked waits until the Kustomization's timeout", name, bootstrap.FluxGate),
		Hint:   fmt.Sprintf("add --feature-gates=%s to the args of Deployment %s/%s (with flux bootstrap, as a patch in its kustomization.yaml)", bootstrap.FluxGate, ns, name)}
}

// gateOn says whether args turn feature gate on: the last value
// --feature-gates gives it, as "--feature-gates=A=true,B=false" or
// "--feature-gates" "A=true".
func gateOn(args []string, gate string) bool {
	on := false
	for i, a := range args {
		v, ok := strings.CutPrefix(a, "--feature-gates=")
		if !ok && a == "--feature-gates" && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if !ok {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if k == gate {
				on, _ = strconv.ParseBool(val)
			}
		}
	}
	return on
}

// apiReason is what an API error says, shortly: "forbidden", "not found",
// or its message.
func apiReason(err error) string {
	switch {
	case apierrors.IsForbidden(err):
		return "forbidden"
	case apierrors.IsNotFound(err):
		return "not found"
	}
	return err.Error()
}

// metaGet are the options of every read here.
var metaGet = metav1.GetOptions{}

// argoCDObject finds the Application that applies env
// (engine.ArgoCD.Find) and returns the check with its namespace (the
// object's, or argocd, when none is found).
func (p engineProbe) argoCDObject(ctx context.Context, env config.Environment) (deploy.Check, string) {
	g := env.GitOps
	a := &engine.ArgoCD{Client: p.dyn, Object: g.Object}
	app, err := a.Find(ctx, g.Repo, g.Branch, g.Path)
	if err != nil {
		return p.objectFailed(env, "Application", err), objectNamespace(g.Object, bootstrap.ArgoCDNamespace)
	}
	return deploy.Check{Name: CheckEngineObject, Status: deploy.CheckOK,
		Detail: fmt.Sprintf("Application %s applies path %s of branch %s", app, g.Path, g.Branch)}, app.Namespace
}

// permission is one thing the engine's adapter asks the API server to do.
type permission struct {
	verb, group, resource string
	ns                    string // "" is every namespace
}

func (p permission) qualified() string { return p.resource + "." + p.group }

func (p permission) String() string {
	if p.ns == "" {
		return p.verb + " " + p.qualified() + " in every namespace"
	}
	return p.verb + " " + p.qualified() + " in " + p.ns
}

// each is verbs on resource of group in ns.
func each(group, resource, ns string, verbs ...string) []permission {
	out := make([]permission, len(verbs))
	for i, v := range verbs {
		out[i] = permission{verb: v, group: group, resource: resource, ns: ns}
	}
	return out
}

// fluxAccess is what a deploy's Flux adapter does: list Kustomizations
// in every namespace to find the environment's, then read (get) and nudge
// (patch) it in kns and its GitRepository in sns.
func fluxAccess(kns, sns string) []permission {
	k, s := engine.KustomizationGVR, engine.GitRepositoryGVR
	out := []permission{{verb: "list", group: k.Group, resource: k.Resource}}
	out = append(out, each(k.Group, k.Resource, kns, "get", "patch")...)
	return append(out, each(s.Group, s.Resource, sns, "get", "patch")...)
}

// argoCDAccess is what a deploy's Argo CD adapter does: list
// Applications in every namespace to find the environment's, then read
// (get) and refresh (patch) it in ns.
func argoCDAccess(ns string) []permission {
	a := engine.ApplicationGVR
	return append([]permission{{verb: "list", group: a.Group, resource: a.Resource}}, each(a.Group, a.Resource, ns, "get", "patch")...)
}

// access asks the API server, one SelfSubjectAccessReview each, whether
// the credentials have every permission of ps.
func (p engineProbe) access(ctx context.Context, ps []permission) deploy.Check {
	var missing []string
	var first permission
	for _, perm := range ps {
		ok, err := p.canI(ctx, perm)
		if err != nil {
			return deploy.Check{Name: CheckEngineAccess, Status: deploy.CheckWarn,
				Detail: fmt.Sprintf("not checked: asking whether it may %s: %v", perm, err),
				Hint:   fmt.Sprintf("check the credentials of context %s with `kubectl auth can-i --list --context %s`", p.context, p.context)}
		}
		if !ok {
			if missing == nil {
				first = perm
			}
			missing = append(missing, perm.String())
		}
	}
	if len(missing) > 0 {
		can := fmt.Sprintf("kubectl auth can-i %s %s -n %s --context %s", first.verb, first.qualified(), first.ns, p.context)
		if first.ns == "" {
			can = fmt.Sprintf("kubectl auth can-i %s %s --all-namespaces --context %s", first.verb, first.qualified(), p.context)
		}
		return deploy.Check{Name: CheckEngineAccess, Status: deploy.CheckFail,
			Detail: fmt.Sprintf("context %s may not %s: Slipway reads and nudges the engine's objects", p.context, strings.Join(missing, ", ")),
			Hint:   fmt.Sprintf("confirm with `%s`, then ask the cluster's admin for a ClusterRole granting them (list in every namespace needs one; the rest a Role does)", can)}
	}
	return deploy.Check{Name: CheckEngineAccess, Status: deploy.CheckOK,
		Detail: fmt.Sprintf("all %d permissions to read and nudge the engine's objects", len(ps))}
}

// canI asks whether the credentials may do p.
func (p engineProbe) canI(ctx context.Context, perm permission) (bool, error) {
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: perm.verb, Group: perm.group, Resource: perm.resource, Namespace: perm.ns}}}
	got, err := p.kube.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return got.Status.Allowed, nil
}
