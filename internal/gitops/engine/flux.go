package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// Sentinel errors of Find, matchable with errors.Is.
var (
	// ErrNotFound means no engine object applies the environment.
	ErrNotFound = errors.New("no engine object applies the environment")
	// ErrAmbiguous means more than one does, and none is named.
	ErrAmbiguous = errors.New("more than one engine object applies the environment")
)

// The Flux kinds the adapter reads and nudges.
var (
	KustomizationGVR = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	GitRepositoryGVR = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
)

// RequestedAtAnnotation asks a Flux object to reconcile now.
const RequestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// Flux is the adapter of Flux's Kustomization and GitRepository.
type Flux struct {
	Client dynamic.Interface
	// Namespace limits Find to one namespace; "" is every namespace.
	Namespace string
	// Object names the Kustomization, NAME (in Namespace, or flux-system)
	// or NAMESPACE/NAME; "" finds it by its source.
	Object string
	// Timeout bounds Wait's look for our commit (2m when 0).
	Timeout time.Duration
	// Poll is how often Wait reads the objects (DefaultPoll when 0).
	Poll time.Duration
	// Now is the clock of nudges (time.Now when nil).
	Now func() time.Time
}

// Kustomization is a Flux Kustomization Find found, with its source.
type Kustomization struct {
	Namespace, Name string
	// SourceNamespace and SourceName are its GitRepository.
	SourceNamespace, SourceName string
	Source                      Source
}

func (k Kustomization) String() string { return k.Namespace + "/" + k.Name }

// Find returns the Kustomization that applies path of branch of repoURL:
// the one Object names, or the one whose GitRepository matches.
func (f *Flux) Find(ctx context.Context, repoURL, branch, path string) (Kustomization, error) {
	want := fmt.Sprintf("%s branch %s path %s", RepoKey(repoURL), branch, PathKey(path))
	all, err := f.list(ctx)
	if err != nil {
		return Kustomization{}, fmt.Errorf("finding the Flux Kustomization of %s: %w", want, err)
	}
	var found []Kustomization
	for _, k := range all {
		if f.Object != "" && f.named(k) || f.Object == "" && k.Source.matches(repoURL, branch, path) {
			found = append(found, k)
		}
	}
	switch {
	case f.Object != "" && len(found) == 1 && !found[0].Source.matches(repoURL, branch, path):
		return Kustomization{}, fmt.Errorf("finding the Flux Kustomization of %s: %s applies %s instead; point it at the environment or fix the environment's gitops repo, branch and path",
			want, found[0], describe(found[0]))
	case len(found) == 1:
		return found[0], nil
	case len(found) == 0 && f.Object != "":
		return Kustomization{}, fmt.Errorf("finding the Flux Kustomization of %s: %w: none is named %q; there are %s; set the environment's gitops.object to NAMESPACE/NAME of one of them",
			want, ErrNotFound, Quote(f.Object), listed(all))
	case len(found) == 0:
		return Kustomization{}, fmt.Errorf("finding the Flux Kustomization of %s: %w: there are %s; fix the environment's gitops repo, branch and path, or set its gitops.object to NAMESPACE/NAME",
			want, ErrNotFound, listed(all))
	}
	return Kustomization{}, fmt.Errorf("finding the Flux Kustomization of %s: %w: %s; set the environment's gitops.object to NAMESPACE/NAME of one",
		want, ErrAmbiguous, listed(found))
}

// named says whether k is the Kustomization Object names.
func (f *Flux) named(k Kustomization) bool {
	return isObject(f.Object, f.Namespace, "flux-system", k.Namespace, k.Name)
}

// describe says what k applies, its values quoted: they are the cluster's.
func describe(k Kustomization) string {
	if k.Source.URL == "" {
		return fmt.Sprintf("its GitRepository %s/%s does not exist", k.SourceNamespace, k.SourceName)
	}
	return fmt.Sprintf("%q branch %q path %q", Quote(RepoKey(k.Source.URL)), Quote(k.Source.Branch), Quote(PathKey(k.Source.Path)))
}

// listed names at most 8 Kustomizations with what they apply.
func listed(ks []Kustomization) string {
	return atMost8(ks, "no Kustomizations with a GitRepository source", func(k Kustomization) string { return k.String() + " (" + describe(k) + ")" })
}

// atMost8 names the first 8 of xs with say, then how many more there are;
// none when there are none.
func atMost8[T any](xs []T, none string, say func(T) string) string {
	if len(xs) == 0 {
		return none
	}
	var s []string
	for i, x := range xs {
		if i == 8 {
			s = append(s, fmt.Sprintf("and %d more", len(xs)-i))
			break
		}
		s = append(s, say(x))
	}
	return strings.Join(s, ", ")
}

// List reads every Kustomization with a GitRepository source (in
// Namespace, or all), with what it applies.
func (f *Flux) List(ctx context.Context) ([]Kustomization, error) { return f.list(ctx) }

// list reads every Kustomization with a GitRepository source, and the
// source's URL and branch.
func (f *Flux) list(ctx context.Context) ([]Kustomization, error) {
	ks, err := f.Client.Resource(KustomizationGVR).Namespace(f.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Kustomizations: %w", err)
	}
	repos := map[string]Source{}
	var out []Kustomization
	for _, u := range ks.Items {
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "kind")
		if kind != "GitRepository" {
			continue
		}
		k := Kustomization{Namespace: u.GetNamespace(), Name: u.GetName()}
		k.SourceName, _, _ = unstructured.NestedString(u.Object, "spec", "sourceRef", "name")
		k.SourceNamespace, _, _ = unstructured.NestedString(u.Object, "spec", "sourceRef", "namespace")
		if k.SourceNamespace == "" {
			k.SourceNamespace = k.Namespace
		}
		src, ok := repos[k.SourceNamespace+"/"+k.SourceName]
		if !ok {
			if src, err = f.source(ctx, k); err != nil {
				return nil, err
			}
			repos[k.SourceNamespace+"/"+k.SourceName] = src
		}
		src.Path, _, _ = unstructured.NestedString(u.Object, "spec", "path")
		k.Source = src
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b Kustomization) int { return strings.Compare(a.String(), b.String()) })
	return out, nil
}

// source reads the URL and branch of k's GitRepository; one that does not
// exist has none.
func (f *Flux) source(ctx context.Context, k Kustomization) (Source, error) {
	u, err := f.Client.Resource(GitRepositoryGVR).Namespace(k.SourceNamespace).Get(ctx, k.SourceName, metav1.GetOptions{})
	if isNotFound(err) {
		return Source{}, nil
	}
	if err != nil {
		return Source{}, fmt.Errorf("reading GitRepository %s/%s: %w", k.SourceNamespace, k.SourceName, err)
	}
	var s Source
	s.URL, _, _ = unstructured.NestedString(u.Object, "spec", "url")
	s.Branch, _, _ = unstructured.NestedString(u.Object, "spec", "ref", "branch")
	if _, hasRef, _ := unstructured.NestedMap(u.Object, "spec", "ref"); !hasRef {
		s.Branch = fluxDefaultBranch
	}
	return s, nil
}

// Nudge asks Flux to fetch k's source and reconcile k now: it sets
// RequestedAtAnnotation on the GitRepository, then on the Kustomization,
// with merge patches.
func (f *Flux) Nudge(ctx context.Context, k Kustomization) error {
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		RequestedAtAnnotation: now().UTC().Format(time.RFC3339Nano)}}})
	if err != nil {
		return fmt.Errorf("nudging %s: %w", k, err)
	}
	if _, err := f.Client.Resource(GitRepositoryGVR).Namespace(k.SourceNamespace).Patch(ctx, k.SourceName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("nudging GitRepository %s/%s: %w", k.SourceNamespace, k.SourceName, err)
	}
	if _, err := f.Client.Resource(KustomizationGVR).Namespace(k.Namespace).Patch(ctx, k.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("nudging Kustomization %s: %w", k, err)
	}
	return nil
}
