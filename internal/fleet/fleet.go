package fleet

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/slipwayhq/slipway/internal/deploy"
)

// APIVersion names the schema of Fleet's JSON (docs/fleet.md).
const APIVersion = "slipway/fleet/v1"

// State sums up one app in one environment, worst first.
type State string

// States, from the worst.
const (
	Failed     State = "failed"      // degraded now, or the last deploy failed and was rolled back
	RolledBack State = "rolled-back" // someone ran slipway rollback
	Drifted    State = "drift"       // what runs is not what Slipway deployed
	InProgress State = "progressing" // a rollout is under way
	Canary     State = "canary"      // a canary in progress, healthy
	Healthy    State = "healthy"
)

// Fleet is what Slipway runs in the clusters asked about.
type Fleet struct {
	APIVersion  string    `json:"apiVersion"`
	GeneratedAt time.Time `json:"generatedAt"`
	Clusters    []Cluster `json:"clusters"`
	Rows        []Row     `json:"rows"`
}

// Cluster is one kubeconfig context and whether it answered.
type Cluster struct {
	Context     string `json:"context"`
	Reachable   bool   `json:"reachable"`
	Error       string `json:"error,omitempty"`
	Deployments int    `json:"deployments"`
}

// Row is one app in one environment of one cluster.
type Row struct {
	Context string `json:"context"`
	App     string `json:"app"`
	deploy.EnvStatus
	Commit string `json:"commit,omitempty"`
	// Labels are the pod template's labels besides Slipway's own: those
	// pod.yml sets, such as a team.
	Labels map[string]string `json:"labels,omitempty"`
	// CanaryOf is the environment a canary's Service belongs to; its
	// TargetVersion the version that environment runs there, if known.
	CanaryOf      string `json:"canaryOf,omitempty"`
	TargetVersion string `json:"targetVersion,omitempty"`
	// Last is a deploy that does not run any more: failed and rolled
	// back by Slipway, or undone by slipway rollback.
	Last *Attempt `json:"lastAttempt,omitempty"`
	// History is the Deployment's revisions that Slipway stamped, newest
	// first: its ReplicaSets, as many as Kubernetes keeps (at most
	// maxHistory).
	History []Revision `json:"history,omitempty"`
	// Registry is what the registry the image comes from says of it, when
	// asked (status --all --registries).
	Registry *RegistryState `json:"registry,omitempty"`
	// GitOps is, for a Deployment a GitOps engine applies, the engine's
	// object and what the environment repository holds for the app.
	GitOps *GitOpsState `json:"gitops,omitempty"`
	State  State        `json:"state"`
}

// GitOpsState is a GitOps environment as its repository and engine say:
// the last commit of the app's file, and what the engine did with it.
type GitOpsState struct {
	// Engine is flux or argocd; Object the Kustomization or Application
	// that applied the Deployment, NAMESPACE/NAME (from the labels Flux
	// writes, or Argo CD's tracking annotation).
	Engine string `json:"engine"`
	Object string `json:"object"`
	// Repo, Branch and Path are what the object applies.
	Repo   string `json:"repo,omitempty"`
	Branch string `json:"branch,omitempty"`
	Path   string `json:"path,omitempty"`
	// Commit is the last commit of the app's file there, with its
	// trailers' version, digest, who and why.
	Commit  string    `json:"commit,omitempty"`
	Version string    `json:"version,omitempty"`
	Digest  string    `json:"digest,omitempty"`
	By      string    `json:"by,omitempty"`
	When    time.Time `json:"when,omitzero"`
	Reason  string    `json:"reason,omitempty"`
	// Outcome is what the engine did with Commit: applied, failed,
	// pending, superseded or notPickedUp; Message its words.
	Outcome string `json:"outcome,omitempty"`
	Message string `json:"message,omitempty"`
	// Pending says the repository holds another digest than what runs,
	// and the engine has not applied it yet.
	Pending bool `json:"pending,omitempty"`
	// Error is why the object or the repository could not be read.
	Error string `json:"error,omitempty"`
}

// ArgoTrackingAnnotation is what Argo CD's annotation tracking writes on
// what it applies: APP:GROUP/KIND:NAMESPACE/NAME, APP being NAMESPACE_NAME
// of an Application outside Argo CD's own namespace.
const ArgoTrackingAnnotation = "argocd.argoproj.io/tracking-id"

// argoApp is the Application, NAMESPACE/NAME, a tracking ID names; ""
// when it names none. An APP without a namespace is in argocd.
func argoApp(id string) string {
	app, _, ok := strings.Cut(id, ":")
	if !ok || app == "" || len(app) > 253 {
		return ""
	}
	if ns, name, ok := strings.Cut(app, "_"); ok && ns != "" && name != "" {
		return ns + "/" + name
	}
	return "argocd/" + app
}

// Labels Flux's kustomize-controller writes on what it applies.
const (
	FluxNameLabel      = "kustomize.toolkit.fluxcd.io/name"
	FluxNamespaceLabel = "kustomize.toolkit.fluxcd.io/namespace"
)

// RegistryState is what an image's registry says of it: its signature,
// its promotions, and where its version tag points now.
type RegistryState struct {
	// Signature is verified or unverified (with a key), signed or
	// unsigned (without one: a cosign signature is there or not), or
	// unknown (the registry could not say); SignatureProblem says why
	// when not verified or signed.
	Signature        string `json:"signature"`
	SignatureProblem string `json:"signatureProblem,omitempty"`
	// Promotion is the newest promotion record of the digest in this
	// repository, if any: which registry it came from, when and by whom.
	Promotion *Promotion `json:"promotion,omitempty"`
	// TagDigest is the digest the version tag points at now, "" when the
	// tag is gone; TagDrift says it is not what runs.
	TagDigest string `json:"tagDigest,omitempty"`
	TagDrift  bool   `json:"tagDrift,omitempty"`
	// Error is why the registry could not be read, in part or whole.
	Error string `json:"error,omitempty"`
}

// Promotion is a promotion record's summary.
type Promotion struct {
	From   string    `json:"from"`
	Source string    `json:"source,omitempty"`
	When   time.Time `json:"when,omitzero"`
	Who    string    `json:"who,omitempty"`
}

// Signature states of a RegistryState.
const (
	SigVerified   = "verified"
	SigUnverified = "unverified"
	SigSigned     = "signed"
	SigUnsigned   = "unsigned"
	SigUnknown    = "unknown"
)

// Drifted reports whether what runs differs from what Slipway deployed:
// in the cluster, from the version tag (read with the registries), or
// from what the GitOps engine applied from the repository.
func (r Row) Drifted() bool {
	g := r.GitOps
	return len(r.Drift) > 0 || r.Registry != nil && r.Registry.TagDrift ||
		g != nil && g.Outcome == "applied" && g.Digest != "" && g.Digest != r.Digest
}

// Unsigned reports whether the row's image is not shown to have a valid
// signature: unsigned, unverified by the key given, or not known (the
// registry did not say, or the pod runs an image by tag).
func (r Row) Unsigned() bool {
	return r.Registry != nil && r.Registry.Signature != SigVerified && r.Registry.Signature != SigSigned
}

// Revision is one rollout of a Deployment, as its ReplicaSet records it.
type Revision struct {
	Revision   int64     `json:"revision"`
	Version    string    `json:"version,omitempty"`
	Digest     string    `json:"digest,omitempty"`
	DeployedAt time.Time `json:"deployedAt,omitzero"`
	DeployedBy string    `json:"deployedBy,omitempty"`
	Reason     string    `json:"reason,omitempty"`
}

// maxHistory bounds a row's history: Kubernetes keeps 10 old ReplicaSets
// by default.
const maxHistory = 12

// Attempt is a deploy that no longer runs.
type Attempt struct {
	// Outcome is "failed" (Slipway rolled it back) or "rolled-back".
	Outcome    string    `json:"outcome"`
	Version    string    `json:"version,omitempty"`
	Digest     string    `json:"digest,omitempty"`
	DeployedAt time.Time `json:"deployedAt,omitzero"`
	DeployedBy string    `json:"deployedBy,omitempty"`
	Reason     string    `json:"reason,omitempty"`
}

// Rows turns the Deployments and ReplicaSets listed in one context into
// rows, sorted by app and environment: pure. Deployments without
// Slipway's managed-by label are left out; ReplicaSets are matched to
// their Deployment by owner.
func Rows(context string, deps []appsv1.Deployment, rss []appsv1.ReplicaSet) []Row {
	owned := map[string][]*appsv1.ReplicaSet{}
	for i := range rss {
		for _, ref := range rss[i].OwnerReferences {
			owned[string(ref.UID)] = append(owned[string(ref.UID)], &rss[i])
		}
	}
	var out []Row
	for i := range deps {
		d := &deps[i]
		if d.Labels[deploy.LabelManagedBy] != deploy.ManagedBy {
			continue
		}
		out = append(out, row(context, d, owned[string(d.UID)]))
	}
	canaries(out)
	for i := range out {
		out[i].State = stateOf(out[i])
	}
	return sorted(out)
}

// sorted sorts rows by app, environment (as a release travels), context
// and namespace.
func sorted(rows []Row) []Row {
	slices.SortFunc(rows, compareRows)
	return rows
}

func row(context string, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) Row {
	r := Row{Context: context, App: d.Labels[deploy.LabelName], EnvStatus: deploy.StatusOf(d),
		Commit: d.Annotations[deploy.AnnotationCommit]}
	r.Labels = ownLabels(d.Spec.Template.Labels)
	if svc := d.Labels[deploy.LabelService]; svc != "" && svc != r.Env {
		r.CanaryOf = svc
	}
	r.Last = lastAttempt(d, r.DeployedAt, rss)
	r.History = history(rss)
	if name, ns := d.Labels[FluxNameLabel], d.Labels[FluxNamespaceLabel]; name != "" && ns != "" {
		r.GitOps = &GitOpsState{Engine: "flux", Object: ns + "/" + name}
	} else if app := argoApp(d.Annotations[ArgoTrackingAnnotation]); app != "" {
		r.GitOps = &GitOpsState{Engine: "argocd", Object: app}
	}
	return r
}

// history is the revisions of rss that Slipway stamped, newest first, at
// most maxHistory.
func history(rss []*appsv1.ReplicaSet) []Revision {
	var out []Revision
	for _, rs := range rss {
		a := rs.Annotations
		n, err := strconv.ParseInt(a[deploy.AnnotationRevision], 10, 64)
		if err != nil || a[deploy.AnnotationVersion] == "" {
			continue
		}
		rev := Revision{Revision: n, Version: a[deploy.AnnotationVersion], Digest: a[deploy.AnnotationDigest],
			DeployedBy: a[deploy.AnnotationBy], Reason: a[deploy.AnnotationReason]}
		if t, err := time.Parse(time.RFC3339, a[deploy.AnnotationAt]); err == nil {
			rev.DeployedAt = t
		}
		out = append(out, rev)
	}
	slices.SortFunc(out, func(a, b Revision) int { return cmp.Compare(b.Revision, a.Revision) })
	return out[:min(len(out), maxHistory)]
}

// ownLabels are the labels of a pod template besides Slipway's: those
// pod.yml set; nil for none.
func ownLabels(labels map[string]string) map[string]string {
	var own map[string]string
	for k, v := range labels {
		switch k {
		case deploy.LabelName, deploy.LabelEnv, deploy.LabelService, deploy.LabelManagedBy, deploy.LabelVersion:
			continue
		}
		if own == nil {
			own = map[string]string{}
		}
		own[k] = v
	}
	return own
}

// lastAttempt finds a deploy newer than what runs that no longer runs: a
// ReplicaSet stamped later than the Deployment, which Slipway rolled back
// from; or, when the Deployment was rolled back by slipway rollback, that.
func lastAttempt(d *appsv1.Deployment, at time.Time, rss []*appsv1.ReplicaSet) *Attempt {
	current := d.Annotations[deploy.AnnotationRevision]
	var last *Attempt
	for _, rs := range rss {
		a := rs.Annotations
		t, err := time.Parse(time.RFC3339, a[deploy.AnnotationAt])
		if err != nil || a[deploy.AnnotationRevision] == current || !t.After(at) || last != nil && !t.After(last.DeployedAt) {
			continue
		}
		last = &Attempt{Outcome: "failed", Version: a[deploy.AnnotationVersion], Digest: a[deploy.AnnotationDigest],
			DeployedAt: t, DeployedBy: a[deploy.AnnotationBy], Reason: a[deploy.AnnotationReason]}
	}
	if last == nil && strings.HasPrefix(d.Annotations[deploy.AnnotationCause], "slipway rollback ") {
		a := d.Annotations
		last = &Attempt{Outcome: "rolled-back", Version: a[deploy.AnnotationVersion], Digest: a[deploy.AnnotationDigest],
			DeployedBy: a[deploy.AnnotationBy], Reason: a[deploy.AnnotationReason]}
		if t, err := time.Parse(time.RFC3339, a[deploy.AnnotationAt]); err == nil {
			last.DeployedAt = t
		}
	}
	return last
}

// canaries fills in, for each canary, the version its environment runs
// in the same namespace.
func canaries(rows []Row) {
	for i := range rows {
		c := &rows[i]
		if c.CanaryOf == "" {
			continue
		}
		for _, m := range rows {
			if m.CanaryOf == "" && m.App == c.App && m.Namespace == c.Namespace && m.Env == c.CanaryOf {
				c.TargetVersion = m.Version
			}
		}
	}
}

// Ahead reports whether a canary runs a newer version than its
// environment.
func (r Row) Ahead() bool {
	cv, err1 := semver.NewVersion(r.Version)
	tv, err2 := semver.NewVersion(r.TargetVersion)
	return r.CanaryOf != "" && err1 == nil && err2 == nil && cv.GreaterThan(tv)
}

func stateOf(r Row) State {
	switch {
	case r.Health == deploy.Degraded || r.Last != nil && r.Last.Outcome == "failed":
		return Failed
	case r.Last != nil:
		return RolledBack
	case len(r.Drift) > 0:
		return Drifted
	case r.Health != deploy.Healthy:
		return InProgress
	case r.CanaryOf != "":
		return Canary
	}
	return Healthy
}

func compareRows(a, b Row) int {
	return cmp.Or(strings.Compare(a.App, b.App), cmp.Compare(envRank(a.Env), envRank(b.Env)),
		strings.Compare(a.Env, b.Env), strings.Compare(a.Context, b.Context), strings.Compare(a.Namespace, b.Namespace))
}

// envRank orders environments as a release travels: development first,
// production last; names it does not know sit in the middle.
func envRank(env string) int {
	switch e := strings.ToLower(env); {
	case strings.HasPrefix(e, "dev"), e == "local":
		return 0
	case strings.HasPrefix(e, "test"), e == "qa", e == "ci":
		return 1
	case strings.Contains(e, "canary"):
		return 3
	case strings.HasPrefix(e, "prod"), e == "live":
		return 4
	}
	return 2
}

// Filter chooses rows; an empty field chooses all.
type Filter struct {
	Apps, Envs []string
	// Labels keeps rows whose pod template has every label, KEY=VALUE.
	Labels []string
	// Failed keeps rows whose state is failed or rolled-back.
	Failed bool
	// Drift keeps rows with drift, in the cluster or (read with the
	// registries) of the version tag.
	Drift bool
	// Unsigned keeps rows whose image is not shown to have a valid
	// signature (read with the registries; see Row.Unsigned).
	Unsigned bool
}

// Select returns the rows f chooses, in order.
func Select(rows []Row, f Filter) []Row {
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		switch {
		case len(f.Apps) > 0 && !slices.Contains(f.Apps, r.App),
			len(f.Envs) > 0 && !slices.Contains(f.Envs, r.Env),
			f.Failed && r.State != Failed && r.State != RolledBack,
			f.Drift && !r.Drifted(),
			f.Unsigned && !r.Unsigned(),
			!hasLabels(r, f.Labels):
			continue
		}
		out = append(out, r)
	}
	return out
}

// hasLabels reports whether r's pod template has every KEY=VALUE of
// labels (a KEY alone: any value).
func hasLabels(r Row, labels []string) bool {
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		have, found := r.Labels[k]
		if !found || ok && have != v {
			return false
		}
	}
	return true
}
