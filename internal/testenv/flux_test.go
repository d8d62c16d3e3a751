package testenv_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/internal/testenv/githttp"
)

// fluxRig is a control plane with Flux's controllers, a git server holding
// the bare repository env.git, and a clone of it to commit in.
type fluxRig struct {
	t       *testing.T
	cluster *testenv.Cluster
	flux    *testenv.Flux
	base    string // the git server's URL
	clone   string
}

func startFluxRig(t *testing.T) *fluxRig {
	t.Helper()
	testenv.RequireFlux(t)
	c, err := testenv.StartClusterOn(t.TempDir(), testenv.FluxClusterPorts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	r := &fluxRig{t: t, cluster: c}
	r.flux = testenv.StartFlux(t, c, testenv.FluxOptions{
		KustomizeArgs: []string{"--feature-gates=CancelHealthCheckOnNewRevision=true"},
	})
	root := t.TempDir()
	r.git(root, "init", "-q", "--bare", "-b", "main", "env.git")
	r.base = githttp.Start(t, root, "flux", "fluxpass")
	r.clone = filepath.Join(t.TempDir(), "env")
	r.git("/", "clone", "-q", strings.Replace(r.base, "http://", "http://flux:fluxpass@", 1)+"/env.git", r.clone)
	return r
}

func (r *fluxRig) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (path relative to the clone: content), commits and
// pushes them, and returns the commit's sha.
func (r *fluxRig) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.clone, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git(r.clone, "add", "-A")
	r.git(r.clone, "commit", "-q", "-m", msg)
	r.git(r.clone, "push", "-q", "origin", "HEAD:main")
	return r.git(r.clone, "rev-parse", "HEAD")
}

func (r *fluxRig) kubectl(stdin string, args ...string) (string, error) {
	cmd := exec.Command(r.cluster.Kubectl, append([]string{"--kubeconfig", r.cluster.Kubeconfig, "--request-timeout=30s"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func (r *fluxRig) mustKubectl(stdin string, args ...string) string {
	r.t.Helper()
	out, err := r.kubectl(stdin, args...)
	if err != nil {
		r.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// nudge asks Flux to reconcile the source and then the Kustomization now,
// with the annotation `flux reconcile kustomization --with-source` sets.
func (r *fluxRig) nudge(objects ...string) {
	r.t.Helper()
	at := "reconcile.fluxcd.io/requestedAt=" + time.Now().UTC().Format(time.RFC3339Nano)
	for _, o := range objects {
		r.mustKubectl("", "-n", r.flux.Namespace, "annotate", "--overwrite", o, at)
	}
}

// waitFor polls a jsonpath of an object until it equals want.
func (r *fluxRig) waitFor(object, jsonpath, want string, timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	var got string
	for time.Now().Before(deadline) {
		got, _ = r.kubectl("", "-n", r.flux.Namespace, "get", object, "-o", "jsonpath="+jsonpath)
		if got == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	status, _ := r.kubectl("", "-n", r.flux.Namespace, "get", object, "-o", "jsonpath={.status}")
	r.t.Fatalf("%s %s = %q after %s, want %q; status: %s", object, jsonpath, got, timeout, want, status)
}

const devManifests = `apiVersion: v1
kind: Namespace
metadata: {name: web-dev}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web-dev}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "example.test/web:1"}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: web-dev}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

// fluxObjects are a GitRepository NAME reading env.git through the Secret
// NAME-auth, and a Kustomization dev applying its envs/dev.
func fluxObjects(name, url, user, pass string) string {
	return `apiVersion: v1
kind: Secret
metadata: {name: ` + name + `-auth, namespace: flux-system}
stringData: {username: "` + user + `", password: "` + pass + `"}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: ` + name + `, namespace: flux-system}
spec: {interval: 1m, url: "` + url + `", ref: {branch: main}, secretRef: {name: ` + name + `-auth}}
`
}

const devKustomization = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: dev, namespace: flux-system}
spec: {interval: 10m, path: ./envs/dev, prune: true, wait: true, timeout: 2m, sourceRef: {kind: GitRepository, name: env}}
`

// TestFluxAppliesPushedCommit drives the real controllers through the test
// git server: a commit under envs/dev is applied, a pushed and nudged one
// reaches lastAppliedRevision (the only true signal: Ready alone may be an
// older commit's), and a wrong password fails the source with
// GitOperationFailed.
func TestFluxAppliesPushedCommit(t *testing.T) {
	r := startFluxRig(t)
	first := r.commit("dev: web, 1 replica", map[string]string{"envs/dev/web.yaml": strings.Replace(devManifests, "REPLICAS", "1", 1)})
	r.mustKubectl(fluxObjects("env", r.base+"/env.git", "flux", "fluxpass")+"---\n"+devKustomization, "apply", "-f", "-")
	r.waitFor("kustomization/dev", "{.status.lastAppliedRevision}", "main@sha1:"+first, 2*time.Minute)

	start := time.Now()
	second := r.commit("dev: web, 3 replicas", map[string]string{"envs/dev/web.yaml": strings.Replace(devManifests, "REPLICAS", "3", 1)})
	r.nudge("gitrepository/env", "kustomization/dev")
	r.waitFor("kustomization/dev", "{.status.lastAppliedRevision}", "main@sha1:"+second, 2*time.Minute)
	r.waitFor("kustomization/dev", `{.status.conditions[?(@.type=="Ready")].status}`, "True", 30*time.Second)
	t.Logf("push to applied and Ready: %s", time.Since(start).Round(time.Millisecond))
	if got := r.mustKubectl("", "-n", "web-dev", "get", "deployment/web", "-o", "jsonpath={.spec.replicas}"); got != "3" {
		t.Errorf("deployment/web has %s replicas, want 3", got)
	}

	t.Run("wrong password", func(t *testing.T) {
		r.mustKubectl(fluxObjects("env-bad", r.base+"/env.git", "flux", "wrong"), "apply", "-f", "-")
		r.waitFor("gitrepository/env-bad", `{.status.conditions[?(@.type=="Ready")].reason}`, "GitOperationFailed", time.Minute)
		msg := r.mustKubectl("", "-n", r.flux.Namespace, "get", "gitrepository/env-bad", "-o",
			`jsonpath={.status.conditions[?(@.type=="Ready")].message}`)
		if !strings.Contains(msg, "authentication required") {
			t.Errorf("Ready message %q does not say authentication required", msg)
		}
		if strings.Contains(msg, "wrong") || strings.Contains(msg, "fluxpass") {
			t.Errorf("Ready message %q holds a password", msg)
		}
	})
}

// TestFluxScriptUsesOnlyTheTestKubeconfig checks that flux.sh start never
// applies Flux to the cluster $KUBECONFIG names (it may be a real one):
// without the test control plane's kubeconfig it refuses, naming it.
func TestFluxScriptUsesOnlyTheTestKubeconfig(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash")
	}
	dir := t.TempDir()
	other := filepath.Join(dir, "real-cluster.kubeconfig")
	if err := os.WriteFile(other, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	testenvDir := filepath.Join(dir, "testenv")
	cmd := exec.Command("../../hack/testenv/flux.sh", "start")
	// No such version: were the kubeconfig taken, start would fail at once
	// fetching it rather than build.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+other, "SLIPWAY_TESTENV="+testenvDir,
		"SLIPWAY_CACHE="+filepath.Join(dir, "cache"), "SLIPWAY_FLUX_VERSION=v0.0.0-none")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("flux.sh start succeeded without the test control plane:\n%s", out)
	}
	if want := "no kubeconfig at " + filepath.Join(testenvDir, "kubeconfig"); !strings.Contains(string(out), want) {
		t.Fatalf("flux.sh start said:\n%s\nwant %q", out, want)
	}
}
