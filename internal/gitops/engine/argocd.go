package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/slipwayhq/slipway/internal/short"
)

// ApplicationGVR is the Argo CD kind the adapter reads and nudges.
var ApplicationGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// The annotations that ask Argo CD to refresh an Application now, as
// `argocd app get --refresh` sets them; the controller removes both once
// it has refreshed.
const (
	RefreshAnnotation          = "argocd.argoproj.io/refresh"
	RefreshTimestampAnnotation = "argocd.argoproj.io/refresh-timestamp"
)

// argoNamespace is where a NAME alone is looked up: Argo CD's own.
const argoNamespace = "argocd"

// argoHEAD is a targetRevision that follows the repository's default
// branch; an empty one does too.
const argoHEAD = "HEAD"

// ArgoCD is the adapter of Argo CD's Application.
type ArgoCD struct {
	Client dynamic.Interface
	// Namespace limits Find to one namespace; "" is every namespace.
	Namespace string
	// Object names the Application, NAME (in Namespace, or argocd) or
	// NAMESPACE/NAME; "" finds it by its source.
	Object string
	// Timeout bounds Wait's look for our commit (2m when 0).
	Timeout time.Duration
	// Poll is how often Wait reads the Application (DefaultPoll when 0).
	Poll time.Duration
	// Now is the clock of nudges (time.Now when nil).
	Now func() time.Time
}

// Application is an Argo CD Application Find found, with the source of
// it that applies the environment.
type Application struct {
	Namespace, Name string
	Source          Source
	// SourceIndex is Source's index in spec.sources, -1 for spec.source.
	// Wait reads the revisions of that index of a multi-source status.
	SourceIndex int
}

func (a Application) String() string { return a.Namespace + "/" + a.Name }

// Find returns the Application that applies path of branch of repoURL:
// the one Object names, or the one with a git source that matches. A
// source whose targetRevision is HEAD (or empty) follows the default
// branch, which the adapter does not know: it matches any branch, when no
// Application names that branch exactly.
func (a *ArgoCD) Find(ctx context.Context, repoURL, branch, path string) (Application, error) {
	want := fmt.Sprintf("%s branch %s path %s", RepoKey(repoURL), branch, PathKey(path))
	all, err := a.list(ctx)
	if err != nil {
		return Application{}, fmt.Errorf("finding the Argo CD Application of %s: %w", want, err)
	}
	pool := all
	if a.Object != "" {
		pool = slices.DeleteFunc(slices.Clone(all), func(x Application) bool { return !a.named(x) })
	}
	found := appsMatching(pool, repoURL, branch, path)
	switch {
	case a.Object != "" && len(pool) > 0 && len(found) == 0:
		return Application{}, fmt.Errorf("finding the Argo CD Application of %s: %s applies %s instead; point it at the environment or fix the environment's gitops repo, branch and path",
			want, pool[0], describeApps(pool))
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0 && a.Object != "":
		return Application{}, fmt.Errorf("finding the Argo CD Application of %s: %w: none is named %q; there are %s; set the environment's gitops.object to NAMESPACE/NAME of one of them",
			want, ErrNotFound, Quote(a.Object), listedApps(all))
	case len(found) == 0:
		return Application{}, fmt.Errorf("finding the Argo CD Application of %s: %w: there are %s; fix the environment's gitops repo, branch and path, or set its gitops.object to NAMESPACE/NAME",
			want, ErrNotFound, listedApps(all))
	}
	return Application{}, fmt.Errorf("finding the Argo CD Application of %s: %w: %s; set the environment's gitops.object to NAMESPACE/NAME of one",
		want, ErrAmbiguous, listedApps(found))
}

// appsMatching returns the sources of apps at repoURL and path that name
// branch, or else those that follow the default branch (HEAD).
func appsMatching(apps []Application, repoURL, branch, path string) []Application {
	var exact, head []Application
	for _, x := range apps {
		switch {
		case x.Source.matches(repoURL, branch, path):
			exact = append(exact, x)
		case x.Source.Branch == argoHEAD && x.Source.matches(repoURL, argoHEAD, path):
			head = append(head, x)
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return head
}

// named says whether x is the Application Object names.
func (a *ArgoCD) named(x Application) bool {
	return isObject(a.Object, a.Namespace, argoNamespace, x.Namespace, x.Name)
}

// describeApp says what x applies, its values quoted: they are the
// cluster's.
func describeApp(x Application) string {
	if x.Source.URL == "" {
		return "nothing from a git repository"
	}
	d := fmt.Sprintf("%q branch %q path %q", Quote(RepoKey(x.Source.URL)), Quote(x.Source.Branch), Quote(PathKey(x.Source.Path)))
	if x.SourceIndex >= 0 {
		d = fmt.Sprintf("spec.sources[%d] %s", x.SourceIndex, d)
	}
	return d
}

// describeApps says what the sources of one Application apply.
func describeApps(xs []Application) string {
	var s []string
	for _, x := range xs {
		s = append(s, describeApp(x))
	}
	return strings.Join(s, " and ")
}

// listedApps names at most 8 Application sources with what they apply.
func listedApps(xs []Application) string {
	return atMost8(xs, "no Applications", func(x Application) string { return x.String() + " (" + describeApp(x) + ")" })
}

// List reads every Application (in Namespace, or all), one per git source
// (see appSources).
func (a *ArgoCD) List(ctx context.Context) ([]Application, error) { return a.list(ctx) }

// list reads every Application: one entry per git source.
func (a *ArgoCD) list(ctx context.Context) ([]Application, error) {
	l, err := a.Client.Resource(ApplicationGVR).Namespace(a.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Applications: %w", err)
	}
	var out []Application
	for _, u := range l.Items {
		out = append(out, appSources(u.Object)...)
	}
	slices.SortFunc(out, func(x, y Application) int {
		return cmp.Or(strings.Compare(x.String(), y.String()), cmp.Compare(x.SourceIndex, y.SourceIndex))
	})
	return out, nil
}

// appSources is one Application per git source of obj: each of
// spec.sources when it has them (Argo CD then ignores spec.source), or
// spec.source. One with no git source (a Helm chart, an OCI artifact, only
// a ref for values) is listed once, without a Source.
func appSources(obj map[string]any) []Application {
	base := Application{SourceIndex: -1}
	base.Namespace, _, _ = unstructured.NestedString(obj, "metadata", "namespace")
	base.Name, _, _ = unstructured.NestedString(obj, "metadata", "name")
	var out []Application
	if srcs, _, _ := unstructured.NestedSlice(obj, "spec", "sources"); len(srcs) > 0 {
		for i, v := range srcs {
			m, _ := v.(map[string]any)
			if s, ok := argoSource(m); ok {
				x := base
				x.Source, x.SourceIndex = s, i
				out = append(out, x)
			}
		}
	} else if m, ok, _ := unstructured.NestedMap(obj, "spec", "source"); ok {
		if s, ok := argoSource(m); ok {
			x := base
			x.Source = s
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		out = append(out, base)
	}
	return out
}

// argoSource reads an ApplicationSource that applies a path of a git
// repository; ok is false for any other.
func argoSource(m map[string]any) (s Source, ok bool) {
	str := func(k string) string { v, _ := m[k].(string); return v }
	url := str("repoURL")
	switch {
	case url == "", str("chart") != "", strings.HasPrefix(url, "oci://"), str("ref") != "" && str("path") == "":
		return Source{}, false
	}
	return Source{URL: url, Branch: argoBranch(str("targetRevision")), Path: str("path")}, true
}

// argoBranch is the branch a targetRevision names: refs/heads/X is X, and
// "" is HEAD.
func argoBranch(rev string) string {
	rev = strings.TrimPrefix(strings.TrimSpace(rev), "refs/heads/")
	if rev == "" {
		return argoHEAD
	}
	return rev
}

// Nudge asks Argo CD to refresh app now, as `argocd app get --refresh`
// does: it sets RefreshAnnotation to "normal" and
// RefreshTimestampAnnotation to the time, with a merge patch. With
// automated sync, the refresh that finds a new commit syncs it.
func (a *ArgoCD) Nudge(ctx context.Context, app Application) error {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		RefreshAnnotation: "normal", RefreshTimestampAnnotation: now().UTC().Format(time.RFC3339Nano)}}})
	if err != nil {
		return fmt.Errorf("nudging Application %s: %w", app, err)
	}
	if _, err := a.Client.Resource(ApplicationGVR).Namespace(app.Namespace).Patch(ctx, app.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("nudging Application %s: %w", app, err)
	}
	return nil
}

// Wait reads app every Poll until ClassifyApplication gives a final
// Outcome for commit, or Timeout passes (then it is NotPickedUp, or
// Failed when a sync of our commit has not finished). descends, when not
// nil, tells a newer commit (Superseded) from an older one; each commit is
// asked about once. An error reading the Application ends the wait; ctx's
// end is an error too.
func (a *ArgoCD) Wait(ctx context.Context, app Application, commit string, descends Descends) (Outcome, error) {
	deadline := time.Now().Add(or(a.Timeout, 2*time.Minute))
	tick := time.NewTicker(or(a.Poll, DefaultPoll))
	defer tick.Stop()
	asked := map[string]bool{}
	for {
		s, err := a.status(ctx, app)
		if err != nil {
			return Outcome{}, fmt.Errorf("waiting for Application %s to apply %s: %w", app, short.Commit(commit), err)
		}
		if s.Newer, err = descendant(ctx, []string{s.Revision, s.OpRevision}, commit, descends, asked); err != nil {
			return Outcome{}, fmt.Errorf("waiting for Application %s to apply %s: %w", app, short.Commit(commit), err)
		}
		s.Expired = !time.Now().Before(deadline)
		if o := ClassifyApplication(s, commit); o.Final() {
			return o, nil
		}
		select {
		case <-ctx.Done():
			return Outcome{}, fmt.Errorf("waiting for Application %s to apply %s: %w", app, short.Commit(commit), ctx.Err())
		case <-tick.C:
		}
	}
}

// Look reads app once and classifies commit, without a deadline or newer
// commits: Pending, Applied or Failed.
func (a *ArgoCD) Look(ctx context.Context, app Application, commit string) (Outcome, error) {
	s, err := a.status(ctx, app)
	if err != nil {
		return Outcome{}, fmt.Errorf("looking at Application %s: %w", app, err)
	}
	s.NoAutoSync = "" // turning automated sync off after our commit was applied undoes nothing
	return ClassifyApplication(s, commit), nil
}

// descendant returns the first of revs that descends from commit, asking
// descends about each commit once.
func descendant(ctx context.Context, revs []string, commit string, descends Descends, asked map[string]bool) (string, error) {
	if descends == nil {
		return "", nil
	}
	for _, rev := range revs {
		c := RevisionCommit(rev)
		if c == "" || revisionIs(rev, commit) {
			continue
		}
		is, ok := asked[c]
		if !ok {
			var err error
			if is, err = descends(ctx, c, commit); err != nil {
				return "", fmt.Errorf("asking whether %s descends from %s: %w", short.Commit(c), short.Commit(commit), err)
			}
			asked[c] = is
		}
		if is {
			return c, nil
		}
	}
	return "", nil
}

// status reads what ClassifyApplication needs of app.
func (a *ArgoCD) status(ctx context.Context, app Application) (ApplicationStatus, error) {
	u, err := a.Client.Resource(ApplicationGVR).Namespace(app.Namespace).Get(ctx, app.Name, metav1.GetOptions{})
	if err != nil {
		return ApplicationStatus{}, fmt.Errorf("reading Application %s: %w", app, err)
	}
	return applicationStatus(u.Object, app.SourceIndex), nil
}

// applicationStatus is what ClassifyApplication reads of the Application
// obj, for its source i (-1 for spec.source).
func applicationStatus(obj map[string]any, i int) ApplicationStatus {
	s := ApplicationStatus{NoAutoSync: noAutoSync(obj)}
	s.Revision = revisionAt(obj, i, "status", "sync")
	s.Sync, _, _ = unstructured.NestedString(obj, "status", "sync", "status")
	s.OpRevision = revisionAt(obj, i, "status", "operationState", "syncResult")
	if s.OpRevision == "" {
		s.OpRevision = revisionAt(obj, i, "status", "operationState", "operation", "sync")
	}
	s.Phase, _, _ = unstructured.NestedString(obj, "status", "operationState", "phase")
	s.OpMessage, _, _ = unstructured.NestedString(obj, "status", "operationState", "message")
	conds, _, _ := unstructured.NestedSlice(obj, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		t, _ := m["type"].(string)
		msg, _ := m["message"].(string)
		s.Conditions = append(s.Conditions, AppCondition{Type: t, Message: msg})
	}
	return s
}

// revisionAt is the revision recorded at fields: revisions[i] of a
// multi-source Application, else revision.
func revisionAt(obj map[string]any, i int, fields ...string) string {
	revs, _, _ := unstructured.NestedStringSlice(obj, slices.Concat(fields, []string{"revisions"})...)
	if i >= 0 && i < len(revs) {
		return revs[i]
	}
	rev, _, _ := unstructured.NestedString(obj, slices.Concat(fields, []string{"revision"})...)
	return rev
}

// noAutoSync says why Argo CD never syncs obj by itself, "" when it does.
func noAutoSync(obj map[string]any) string {
	auto, ok, _ := unstructured.NestedMap(obj, "spec", "syncPolicy", "automated")
	switch {
	case !ok:
		return "spec.syncPolicy.automated is not set"
	case auto["enabled"] == false:
		return "spec.syncPolicy.automated.enabled is false"
	}
	return ""
}

var _ Engine = (*ArgoCD)(nil)

// Target finds the Application that applies path of branch of repoURL
// (see Find).
func (a *ArgoCD) Target(ctx context.Context, repoURL, branch, path string) (Target, error) {
	app, err := a.Find(ctx, repoURL, branch, path)
	if err != nil {
		return nil, err
	}
	return argoTarget{a: a, app: app}, nil
}

// argoTarget is an Application bound to its adapter.
type argoTarget struct {
	a   *ArgoCD
	app Application
}

func (t argoTarget) String() string                  { return "Application " + t.app.String() }
func (t argoTarget) Nudge(ctx context.Context) error { return t.a.Nudge(ctx, t.app) }
func (t argoTarget) Wait(ctx context.Context, commit string, d Descends) (Outcome, error) {
	return t.a.Wait(ctx, t.app, commit, d)
}
func (t argoTarget) Look(ctx context.Context, commit string) (Outcome, error) {
	return t.a.Look(ctx, t.app, commit)
}
