package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/fake"
)

func gitRepo(ns, name, url, branch string) *unstructured.Unstructured {
	spec := map[string]any{"url": url}
	if branch != "" {
		spec["ref"] = map[string]any{"branch": branch}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"namespace": ns, "name": name}, "spec": spec,
	}}
}

func kustomization(ns, name, source, path string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"namespace": ns, "name": name},
		"spec":     map[string]any{"path": path, "sourceRef": map[string]any{"kind": "GitRepository", "name": source}},
	}}
}

func fakeFlux(objs ...runtime.Object) *Flux {
	c := fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schemaGVR]string{
		KustomizationGVR: "KustomizationList", GitRepositoryGVR: "GitRepositoryList",
	}, objs...)
	return &Flux{Client: c}
}

func withSourceNS(u *unstructured.Unstructured, ns string) *unstructured.Unstructured {
	u.Object["spec"].(map[string]any)["sourceRef"].(map[string]any)["namespace"] = ns
	return u
}

const envURL = "https://git.example.test/org/env.git"

func TestFind(t *testing.T) {
	objs := []runtime.Object{
		gitRepo("flux-system", "env", "ssh://git@git.example.test/org/env", "main"),
		gitRepo("flux-system", "other", "https://git.example.test/org/other.git", "main"),
		gitRepo("flux-system", "prod-branch", envURL, "env/prod"),
		gitRepo("flux-system", "nobranch", "https://git.example.test/org/legacy.git", ""),
		kustomization("flux-system", "dev", "env", "./envs/dev"),
		kustomization("flux-system", "prod", "prod-branch", "./"),
		kustomization("flux-system", "other", "other", "./envs/dev"),
		withSourceNS(kustomization("team", "dev-copy", "env", "envs/dev/"), "flux-system"),
		kustomization("team", "orphan", "gone", "envs/dev"),
		kustomization("flux-system", "legacy", "nobranch", ""),
		kustomization("flux-system", "staging", "env", "envs/staging"),
	}
	tests := []struct {
		name, object, url, branch, path string
		want                            string
		err                             error
		says                            []string
	}{
		{name: "branch per environment", url: envURL, branch: "env/prod", path: ".", want: "flux-system/prod"},
		{name: "directory per environment", url: "git@git.example.test:org/env.git", branch: "main", path: "envs/staging", want: "flux-system/staging"},
		{name: "default branch master", url: "https://git.example.test/org/legacy", branch: "master", path: ".", want: "flux-system/legacy"},
		{name: "several", url: envURL, branch: "main", path: "envs/dev", err: ErrAmbiguous,
			says: []string{"flux-system/dev", "team/dev-copy", "gitops.object"}},
		{name: "named resolves several", object: "team/dev-copy", url: envURL, branch: "main", path: "envs/dev", want: "team/dev-copy"},
		{name: "named in flux-system", object: "dev", url: envURL, branch: "main", path: "./envs/dev", want: "flux-system/dev"},
		{name: "wrong path", url: envURL, branch: "main", path: "envs/prod", err: ErrNotFound,
			says: []string{"path envs/prod", "flux-system/dev (", `path "envs/dev"`, "gitops repo, branch and path", "GitRepository team/gone does not exist"}},
		{name: "named is missing", object: "nope", url: envURL, branch: "main", path: "envs/dev", err: ErrNotFound,
			says: []string{`"nope"`, "gitops.object"}},
		{name: "named applies another path", object: "flux-system/staging", url: envURL, branch: "main", path: "envs/dev",
			says: []string{"flux-system/staging applies", `path "envs/staging"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fakeFlux(objs...)
			f.Object = tt.object
			k, err := f.Find(context.Background(), tt.url, tt.branch, tt.path)
			if tt.want != "" {
				if err != nil || k.String() != tt.want {
					t.Fatalf("Find = %s, %v; want %s", k, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Find = %s, want an error", k)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %v is not %v", err, tt.err)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestNudgeAnnotatesSourceThenKustomization(t *testing.T) {
	f := fakeFlux(gitRepo("flux-system", "env", envURL, "main"), kustomization("flux-system", "dev", "env", "./envs/dev"))
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	f.Now = func() time.Time { return at }
	k, err := f.Find(context.Background(), envURL, "main", "envs/dev")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Nudge(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	var patched []string
	for _, a := range f.Client.(*fake.FakeDynamicClient).Actions() {
		if a.GetVerb() == "patch" {
			patched = append(patched, a.GetResource().Resource)
		}
	}
	if strings.Join(patched, ",") != "gitrepositories,kustomizations" {
		t.Errorf("patched %v, want the GitRepository then the Kustomization", patched)
	}
	for _, gvr := range []schemaGVR{GitRepositoryGVR, KustomizationGVR} {
		name := map[schemaGVR]string{GitRepositoryGVR: "env", KustomizationGVR: "dev"}[gvr]
		u, err := f.Client.Resource(gvr).Namespace("flux-system").Get(context.Background(), name, getOptions)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.GetAnnotations()[RequestedAtAnnotation]; got != "2026-01-02T03:04:05.000000006Z" {
			t.Errorf("%s %s = %q", gvr.Resource, RequestedAtAnnotation, got)
		}
	}
}

// TestWaitReadsRevisions drives Wait through a fake client whose objects
// a reactor moves on: the source fetches our commit, then the
// Kustomization attempts it.
func TestWaitReadsRevisions(t *testing.T) {
	withStatus := func(u *unstructured.Unstructured, status map[string]any) *unstructured.Unstructured {
		u.Object["status"] = status
		return u
	}
	tests := []struct {
		name     string
		ks       map[string]any
		src      map[string]any
		suspend  bool
		descends bool
		state    State
		commit   string
	}{
		{name: "applied", ks: map[string]any{"lastAttemptedRevision": rev(ours)}, src: map[string]any{"artifact": map[string]any{"revision": rev(ours)}},
			state: Applied, commit: ours},
		{name: "not picked up", ks: map[string]any{"lastAttemptedRevision": rev(older)}, src: map[string]any{"artifact": map[string]any{"revision": rev(older)}},
			state: NotPickedUp, commit: ours},
		{name: "superseded", ks: map[string]any{"lastAttemptedRevision": rev(older)}, src: map[string]any{"artifact": map[string]any{"revision": rev(later)}},
			descends: true, state: Superseded, commit: later},
		{name: "newer source that does not descend", ks: map[string]any{"lastAttemptedRevision": rev(older)}, src: map[string]any{"artifact": map[string]any{"revision": rev(later)}},
			state: NotPickedUp, commit: ours},
		{name: "suspended", suspend: true, ks: map[string]any{"lastAttemptedRevision": rev(older)}, src: map[string]any{"artifact": map[string]any{"revision": rev(ours)}},
			state: NotPickedUp, commit: ours},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := withStatus(kustomization("flux-system", "dev", "env", "./envs/dev"), tt.ks)
			if tt.suspend {
				k.Object["spec"].(map[string]any)["suspend"] = true
			}
			f := fakeFlux(withStatus(gitRepo("flux-system", "env", envURL, "main"), tt.src), k)
			f.Timeout, f.Poll = 50*time.Millisecond, 10*time.Millisecond
			asked := 0
			descends := func(_ context.Context, c, ancestor string) (bool, error) {
				asked++
				return tt.descends && c == later && ancestor == ours, nil
			}
			kz, err := f.Find(context.Background(), envURL, "main", "envs/dev")
			if err != nil {
				t.Fatal(err)
			}
			o, err := f.Wait(context.Background(), kz, ours, descends)
			if err != nil {
				t.Fatal(err)
			}
			if o.State != tt.state || o.Commit != tt.commit {
				t.Errorf("Wait = %+v, want %s of %s", o, tt.state, tt.commit)
			}
			if asked > 2 {
				t.Errorf("descends asked %d times, want each commit once", asked)
			}
		})
	}
}

type schemaGVR = schema.GroupVersionResource

var getOptions = metav1.GetOptions{}
