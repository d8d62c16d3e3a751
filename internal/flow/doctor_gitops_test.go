package flow

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/gitops/engine"
)

const doctorRepo = "https://git.example.test/team/env.git"

func unstructuredObj(apiVersion, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"namespace": ns, "name": name}, "spec": spec,
	}}
}

func fluxPair(ns, name, url, branch, path string) []runtime.Object {
	return []runtime.Object{
		unstructuredObj("source.toolkit.fluxcd.io/v1", "GitRepository", ns, name, map[string]any{"url": url, "ref": map[string]any{"branch": branch}}),
		unstructuredObj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", ns, name, map[string]any{
			"path": path, "sourceRef": map[string]any{"kind": "GitRepository", "name": name}}),
	}
}

func argoApp(ns, name, url, branch, path string) runtime.Object {
	return unstructuredObj("argoproj.io/v1alpha1", "Application", ns, name, map[string]any{
		"source": map[string]any{"repoURL": url, "targetRevision": branch, "path": path}})
}

func kustomizeController(args ...string) runtime.Object {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "kustomize-controller"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "manager", Args: args}}}}}}
}

// accessReviews answers SelfSubjectAccessReviews: every one allowed but
// those in deny ("verb resource ns"), or err for all; it records them.
type accessReviews struct {
	deny  map[string]bool
	err   error
	asked []string
}

func (a *accessReviews) react(act k8stesting.Action) (bool, runtime.Object, error) {
	if a.err != nil {
		return true, nil, a.err
	}
	r := act.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
	at := r.Spec.ResourceAttributes
	key := at.Verb + " " + at.Resource + " " + at.Namespace
	a.asked = append(a.asked, key)
	r.Status.Allowed = !a.deny[key]
	return true, r, nil
}

func probe(t *testing.T, reviews *accessReviews, kube []runtime.Object, objs []runtime.Object) engineProbe {
	t.Helper()
	cs := fake.NewClientset(kube...)
	cs.PrependReactor("create", "selfsubjectaccessreviews", reviews.react)
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		engine.KustomizationGVR: "KustomizationList", engine.GitRepositoryGVR: "GitRepositoryList", engine.ApplicationGVR: "ApplicationList",
	}, objs...)
	return engineProbe{kube: cs, dyn: dyn, context: "prod"}
}

func TestEngineProbeChecks(t *testing.T) {
	gateOn := kustomizeController("--watch-all-namespaces", "--feature-gates=CancelHealthCheckOnNewRevision=true")
	type want struct {
		status       deploy.CheckStatus
		detail, hint string
	}
	tests := []struct {
		name    string
		engine  string
		object  string
		kube    []runtime.Object
		objs    []runtime.Object
		deny    []string
		err     error
		want    map[string]want
		asked   []string // reviews that must have been asked
		notAsk  []string // and must not
		objects int      // checks, 3 for Flux and 2 for Argo CD
	}{
		{name: "flux found by its source", engine: "flux", kube: []runtime.Object{gateOn},
			objs: fluxPair("flux-system", "prod", "ssh://git@git.example.test/team/env", "main", "./envs/prod"),
			want: map[string]want{
				CheckEngineObject: {deploy.CheckOK, "Kustomization flux-system/prod applies path envs/prod of branch main through GitRepository flux-system/prod", ""},
				CheckEngineAccess: {deploy.CheckOK, "all 5 permissions", ""},
				CheckFluxGate:     {deploy.CheckOK, "runs with --feature-gates=CancelHealthCheckOnNewRevision=true", ""},
			},
			asked: []string{"patch kustomizations flux-system", "patch gitrepositories flux-system", "list kustomizations "}},
		{name: "flux named, gate off", engine: "flux", object: "team/prod-apps",
			kube: []runtime.Object{kustomizeController("--feature-gates=CancelHealthCheckOnNewRevision=false,Other=true")},
			objs: fluxPair("team", "prod-apps", doctorRepo, "main", "envs/prod"),
			want: map[string]want{
				CheckEngineObject: {deploy.CheckOK, "Kustomization team/prod-apps", ""},
				CheckEngineAccess: {deploy.CheckOK, "all 5 permissions", ""},
				CheckFluxGate:     {deploy.CheckWarn, "runs without --feature-gates=CancelHealthCheckOnNewRevision=true", "add --feature-gates"},
			},
			asked: []string{"get kustomizations team", "patch gitrepositories team", "list kustomizations "}, notAsk: []string{"list gitrepositories team"}},
		{name: "flux none", engine: "flux", objs: fluxPair("flux-system", "other", doctorRepo, "main", "envs/dev"),
			want: map[string]want{
				CheckEngineObject: {deploy.CheckFail, "no engine object applies the environment", "slipway gitops bootstrap prod"},
				CheckFluxGate:     {deploy.CheckOK, "not checked: reading Deployment flux-system/kustomize-controller: not found", ""},
			}},
		{name: "flux nudge refused", engine: "flux", kube: []runtime.Object{gateOn},
			objs: fluxPair("flux-system", "prod", doctorRepo, "main", "envs/prod"),
			deny: []string{"patch kustomizations flux-system", "list kustomizations "},
			want: map[string]want{
				CheckEngineAccess: {deploy.CheckFail, "context prod may not list kustomizations.kustomize.toolkit.fluxcd.io in every namespace, patch kustomizations.kustomize.toolkit.fluxcd.io in flux-system",
					"kubectl auth can-i list kustomizations.kustomize.toolkit.fluxcd.io --all-namespaces --context prod`, then ask the cluster's admin for a ClusterRole"},
			}},
		{name: "reviews refused", engine: "flux", objs: fluxPair("flux-system", "prod", doctorRepo, "main", "envs/prod"),
			err:  apierrors.NewUnauthorized("token expired"),
			want: map[string]want{CheckEngineAccess: {deploy.CheckWarn, "not checked: asking whether it may list kustomizations.kustomize.toolkit.fluxcd.io in every namespace: token expired", "kubectl auth can-i --list"}}},
		{name: "argocd", engine: "argocd", objs: []runtime.Object{argoApp("argocd", "prod", "git@git.example.test:team/env.git", "main", "envs/prod/")},
			want: map[string]want{
				CheckEngineObject: {deploy.CheckOK, "Application argocd/prod applies path envs/prod of branch main", ""},
				CheckEngineAccess: {deploy.CheckOK, "all 3 permissions", ""},
			},
			asked: []string{"list applications ", "get applications argocd", "patch applications argocd"}},
		{name: "argocd elsewhere", engine: "argocd", object: "gitops/prod",
			objs: []runtime.Object{argoApp("gitops", "prod", doctorRepo, "env/prod", ".")},
			want: map[string]want{
				CheckEngineObject: {deploy.CheckFail, `gitops/prod applies "git.example.test/team/env" branch "env/prod" path "." instead`, "slipway gitops bootstrap prod"},
			}},
		{name: "argocd missing", engine: "argocd", deny: []string{"patch applications argocd"},
			want: map[string]want{
				CheckEngineObject: {deploy.CheckFail, "no engine object applies the environment: there are no Applications", "slipway gitops bootstrap prod"},
				CheckEngineAccess: {deploy.CheckFail, "may not patch applications.argoproj.io in argocd", ""},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reviews := &accessReviews{deny: map[string]bool{}, err: tt.err}
			for _, d := range tt.deny {
				reviews.deny[d] = true
			}
			p := probe(t, reviews, tt.kube, tt.objs)
			env := config.Environment{Name: "prod", Namespace: "hello", GitOps: &config.GitOps{
				Repo: doctorRepo, Branch: "main", Path: "envs/prod", Engine: tt.engine, Object: tt.object}}
			checks := p.checks(context.Background(), env)
			if n := map[string]int{"flux": 3, "argocd": 2}[tt.engine]; len(checks) != n {
				t.Fatalf("%d checks, want %d: %+v", len(checks), n, checks)
			}
			for name, w := range tt.want {
				ch := checkOf(t, checks, name)
				if ch.Status != w.status || !strings.Contains(ch.Detail, w.detail) || !strings.Contains(ch.Hint, w.hint) {
					t.Errorf("%s = %+v\nwant %s with detail %q and hint %q", name, ch, w.status, w.detail, w.hint)
				}
			}
			asked := strings.Join(reviews.asked, "|") + "|"
			for _, a := range tt.asked {
				if !strings.Contains(asked, a+"|") {
					t.Errorf("did not ask %q; asked %v", a, reviews.asked)
				}
			}
			for _, a := range tt.notAsk {
				if strings.Contains(asked, a+"|") {
					t.Errorf("asked %q; want it not asked", a)
				}
			}
		})
	}
}

func checkOf(t *testing.T, checks []deploy.Check, name string) deploy.Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", name, checks)
	return deploy.Check{}
}

func TestGateOn(t *testing.T) {
	const gate = "CancelHealthCheckOnNewRevision"
	tests := []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--feature-gates=CancelHealthCheckOnNewRevision=true"}, true},
		{[]string{"--feature-gates=A=true, CancelHealthCheckOnNewRevision=True"}, true},
		{[]string{"--feature-gates", "CancelHealthCheckOnNewRevision=true"}, true},
		{[]string{"--feature-gates=CancelHealthCheckOnNewRevision=false"}, false},
		{[]string{"--feature-gates=CancelHealthCheckOnNewRevision=true", "--feature-gates=CancelHealthCheckOnNewRevision=false"}, false},
		{[]string{"--feature-gates=CancelHealthCheckOnNewRevisionX=true"}, false},
		{[]string{"--other=CancelHealthCheckOnNewRevision=true"}, false},
	}
	for _, tt := range tests {
		if got := gateOn(tt.args, gate); got != tt.want {
			t.Errorf("gateOn(%q) = %v; want %v", tt.args, got, tt.want)
		}
	}
}

func TestPullSecretCheckGitOps(t *testing.T) {
	tests := []struct {
		name   string
		secret bool
		gitOps bool
		want   deploy.CheckStatus
		hint   string
	}{
		{"gitops without a pull secret", false, true, deploy.CheckOK, ""},
		{"gitops with one", true, true, deploy.CheckFail, "set registries.dev.pullSecret: false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := pullSecretCheck(config.Registry{Name: "dev", PullSecret: tt.secret}, "registry.example.test", tt.gitOps)
			if ch.Status != tt.want || !strings.Contains(ch.Hint, tt.hint) {
				t.Errorf("pullSecretCheck = %+v; want %s with hint %q", ch, tt.want, tt.hint)
			}
		})
	}
}

// bareRepo makes a bare repository served over file://, with one commit
// holding files on main when files is not nil.
func bareRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs the git command")
	}
	run := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=Bob", "GIT_AUTHOR_EMAIL=bob@example.com", "GIT_COMMITTER_NAME=Bob", "GIT_COMMITTER_EMAIL=bob@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	root := t.TempDir()
	bare := filepath.Join(root, "env.git")
	run(root, "init", "-q", "--bare", "-b", "main", bare)
	if files == nil {
		return "file://" + bare
	}
	work := filepath.Join(root, "work")
	run(root, "init", "-q", "-b", "main", work)
	for name, content := range files {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run(work, "add", "-A")
	run(work, "commit", "-q", "-m", "environments")
	run(work, "push", "-q", bare, "HEAD:main")
	return "file://" + bare
}

// TestDoctorGitOps runs Doctor on a GitOps environment whose repository
// is a local one, on a fake cluster without a client configuration: the
// repository is checked, and the engine's checks say why they were not
// made.
func TestDoctorGitOps(t *testing.T) {
	tests := []struct {
		name   string
		repo   func(t *testing.T) string
		branch string
		engine string
		want   map[string]deploy.CheckStatus
		detail map[string]string
	}{
		{name: "branch with the app's file", engine: "flux", branch: "main",
			repo: func(t *testing.T) string {
				return bareRepo(t, map[string]string{"envs/dev/hello.yaml": "kind: List\n"})
			},
			want:   map[string]deploy.CheckStatus{CheckGitOpsRepo: deploy.CheckOK, CheckEngineObject: deploy.CheckOK},
			detail: map[string]string{CheckGitOpsRepo: "branch main at ", CheckEngineObject: "not checked: no client configuration"}},
		{name: "branch without it", engine: "none", branch: "main",
			repo:   func(t *testing.T) string { return bareRepo(t, map[string]string{"README": "envs\n"}) },
			want:   map[string]deploy.CheckStatus{CheckGitOpsRepo: deploy.CheckOK, CheckEngineObject: deploy.CheckOK},
			detail: map[string]string{CheckGitOpsRepo: "path envs/dev has no hello.yaml yet", CheckEngineObject: "gitops.engine is none"}},
		{name: "no branch yet", engine: "flux", branch: "env/dev",
			repo:   func(t *testing.T) string { return bareRepo(t, nil) },
			want:   map[string]deploy.CheckStatus{CheckGitOpsRepo: deploy.CheckWarn},
			detail: map[string]string{CheckGitOpsRepo: "branch env/dev does not exist yet"}},
		{name: "no repository", engine: "flux", branch: "main",
			repo:   func(t *testing.T) string { return "file://" + filepath.Join(t.TempDir(), "missing.git") },
			want:   map[string]deploy.CheckStatus{CheckGitOpsRepo: deploy.CheckFail},
			detail: map[string]string{CheckGitOpsRepo: "missing.git"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			url := tt.repo(t)
			for i := range f.p.Environments {
				if f.p.Environments[i].Name == "dev" {
					f.p.Environments[i].GitOps = &config.GitOps{Repo: url, Branch: tt.branch, Path: "envs/dev", Engine: tt.engine}
				}
			}
			rep, err := NewRunner(f.p, f.factory()).Doctor(context.Background(), "dev", DoctorOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Checks[0].Name != CheckGitOpsRepo {
				t.Errorf("first check %s; want %s", rep.Checks[0].Name, CheckGitOpsRepo)
			}
			for name, status := range tt.want {
				ch := checkOf(t, rep.Checks, name)
				if ch.Status != status || !strings.Contains(ch.Detail, tt.detail[name]) {
					t.Errorf("%s = %+v; want %s with %q", name, ch, status, tt.detail[name])
				}
				if ch.Status != deploy.CheckOK && ch.Hint == "" {
					t.Errorf("%s: %s without a next step", name, ch.Status)
				}
			}
		})
	}
}

func TestGitOpsEngineChecksWithoutCluster(t *testing.T) {
	r := NewRunner(&config.Project{App: "hello"}, Factory{})
	env := config.Environment{Name: "prod", GitOps: &config.GitOps{Repo: doctorRepo, Branch: "main", Path: ".", Engine: "argocd"}}
	checks := r.gitOpsEngineChecks(context.Background(), env, nil, false)
	if len(checks) != 1 || checks[0].Status != deploy.CheckWarn || checks[0].Hint == "" {
		t.Errorf("checks = %+v; want one warning with a next step", checks)
	}
}
