package engine_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipwayhq/slipway/internal/gitops"
	"github.com/slipwayhq/slipway/internal/gitops/engine"
	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/internal/testenv/githttp"
)

// clusterPorts are this package's control plane's, apart from the other
// test control planes' (internal/testenv, deploy, the real node) and
// hack/gitlab-ci-local.sh's, below the ephemeral range.
var clusterPorts = map[string]string{
	"SLIPWAY_APISERVER_PORT": "23443", "SLIPWAY_ETCD_PORT": "23379", "SLIPWAY_ETCD_PEER_PORT": "23380",
	"SLIPWAY_KCM_PORT": "23457", "SLIPWAY_SCHEDULER_PORT": "23459", "SLIPWAY_KWOK_PORT": "23250",
}

const web = `apiVersion: v1
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
`

// fluxObjects are the GitRepository env (polling rarely, so that only a
// nudge fetches), the Kustomization dev applying envs/dev, the suspended
// held applying envs/held, and unreadable applying envs/unreadable through
// env-bad, whose password is wrong.
const fluxObjects = `apiVersion: v1
kind: Secret
metadata: {name: env-auth, namespace: flux-system}
stringData: {username: flux, password: fluxpass}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: env, namespace: flux-system}
spec: {interval: 10m, url: "URL", ref: {branch: main}, secretRef: {name: env-auth}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: dev, namespace: flux-system}
spec: {interval: 10m, path: ./envs/dev, prune: true, wait: true, timeout: 1m, sourceRef: {kind: GitRepository, name: env}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: held, namespace: flux-system}
spec: {interval: 10m, path: ./envs/held, prune: true, suspend: true, sourceRef: {kind: GitRepository, name: env}}
---
apiVersion: v1
kind: Secret
metadata: {name: env-bad-auth, namespace: flux-system}
stringData: {username: flux, password: wrong-password}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: env-bad, namespace: flux-system}
spec: {interval: 10m, url: "URL", ref: {branch: main}, secretRef: {name: env-bad-auth}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: unreadable, namespace: flux-system}
spec: {interval: 10m, path: ./envs/unreadable, prune: true, sourceRef: {kind: GitRepository, name: env-bad}}
`

type rig struct {
	url  string
	flux *engine.Flux
	bare string
}

// push commits files (relative to path; a nil content removes the file)
// with internal/gitops and pushes, returning the new head.
func (r *rig) push(t *testing.T, path string, files map[string]string) string {
	t.Helper()
	ctx := context.Background()
	repo, err := gitops.Open(ctx, r.options(path))
	if err != nil {
		t.Fatal(err)
	}
	ch := gitops.Change{Files: map[string][]byte{}}
	for name, content := range files {
		if content == "" {
			ch.Remove = append(ch.Remove, name)
			continue
		}
		ch.Files[name] = []byte(content)
	}
	if _, err := repo.Commit(ctx, ch); err != nil {
		t.Fatal(err)
	}
	p, err := repo.Push(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return p.Commit
}

// descends answers from the environment repository as deploy would:
// opened anew, so that it holds what was pushed since.
func (r *rig) descends(ctx context.Context, commit, ancestor string) (bool, error) {
	repo, err := gitops.Open(ctx, r.options("."))
	if err != nil {
		return false, err
	}
	return repo.Descends(ctx, commit, ancestor)
}

func (r *rig) options(path string) gitops.Options {
	return gitops.Options{URL: r.url, Branch: "main", Path: path, Auth: gitremote.Auth{Getenv: func(k string) string {
		return map[string]string{gitremote.EnvGitUsername: "flux", gitremote.EnvGitPassword: "fluxpass"}[k]
	}}}
}

func startRig(t *testing.T) *rig {
	t.Helper()
	testenv.RequireFlux(t)
	c, err := testenv.StartClusterOn(t.TempDir(), clusterPorts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	testenv.StartFlux(t, c, testenv.FluxOptions{KustomizeArgs: []string{"--feature-gates=CancelHealthCheckOnNewRevision=true"}})
	root := t.TempDir()
	r := &rig{bare: filepath.Join(root, "env.git")}
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", "main", r.bare).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	r.url = githttp.Start(t, root, "flux", "fluxpass") + "/env.git"
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	r.flux = &engine.Flux{Client: dynamic.NewForConfigOrDie(rc), Timeout: 30 * time.Second}
	r.push(t, "envs/held", map[string]string{".gitkeep": "held\n"})
	r.push(t, "envs/dev", map[string]string{"web.yaml": strings.Replace(web, "REPLICAS", "1", 1)})
	cmd := exec.Command(c.Kubectl, "--kubeconfig", c.Kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(strings.ReplaceAll(fluxObjects, "URL", r.url))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	return r
}

// deploy nudges the Kustomization of path and waits for commit.
func (r *rig) deploy(t *testing.T, path, commit string) engine.Outcome {
	t.Helper()
	ctx := context.Background()
	k, err := r.flux.Find(ctx, r.url, "main", "./"+path+"/")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := r.flux.Nudge(ctx, k); err != nil {
		t.Fatal(err)
	}
	o, err := r.flux.Wait(ctx, k, commit, r.descends)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s of %.12s after %s: %+v", o.State, commit, time.Since(start).Round(time.Millisecond), o)
	return o
}

// TestFlux drives the adapter against real Flux controllers and a real
// git server: each outcome for a commit pushed with internal/gitops.
func TestFlux(t *testing.T) {
	if os.Getenv(testenv.E2EEnv) != "1" {
		t.Skipf("runs Flux's controllers against a control plane: set %s=1", testenv.E2EEnv)
	}
	r := startRig(t)
	// The first commit is applied once the objects exist.
	first := r.push(t, "envs/dev", map[string]string{"web.yaml": strings.Replace(web, "REPLICAS", "2", 1)})
	if o := r.deploy(t, "envs/dev", first); o.State != engine.Applied {
		t.Fatalf("first commit: %+v, want applied", o)
	}

	t.Run("applied", func(t *testing.T) {
		c := r.push(t, "envs/dev", map[string]string{"web.yaml": strings.Replace(web, "REPLICAS", "3", 1)})
		if o := r.deploy(t, "envs/dev", c); o.State != engine.Applied || o.Commit != c || !strings.HasSuffix(o.Revision, "@sha1:"+c) {
			t.Errorf("outcome %+v, want applied of %s", o, c)
		}
	})
	t.Run("superseded", func(t *testing.T) {
		ours := r.push(t, "envs/dev", map[string]string{"web.yaml": strings.Replace(web, "REPLICAS", "4", 1)})
		newer := r.push(t, "envs/dev", map[string]string{"web.yaml": strings.Replace(web, "REPLICAS", "5", 1)})
		if o := r.deploy(t, "envs/dev", ours); o.State != engine.Superseded || o.Commit != newer {
			t.Errorf("outcome %+v, want superseded by %s", o, newer)
		}
	})
	t.Run("build failed", func(t *testing.T) {
		c := r.push(t, "envs/dev", map[string]string{"broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken, namespace: web-dev\n"})
		o := r.deploy(t, "envs/dev", c)
		if o.State != engine.Failed || o.Reason != "BuildFailed" {
			t.Fatalf("outcome %+v, want failed with BuildFailed", o)
		}
		if !strings.Contains(o.Message, "envs/dev/broken.yaml") || strings.Contains(o.Message, "kustomization-") {
			t.Errorf("message %q does not name envs/dev/broken.yaml without Flux's temporary directory", o.Message)
		}
		fixed := r.push(t, "envs/dev", map[string]string{"broken.yaml": ""})
		if o := r.deploy(t, "envs/dev", fixed); o.State != engine.Applied {
			t.Errorf("after the fix: %+v, want applied", o)
		}
	})
	t.Run("suspended", func(t *testing.T) {
		c := r.push(t, "envs/held", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: default}\n"})
		o := r.deploy(t, "envs/held", c)
		if o.State != engine.NotPickedUp || o.Reason != "Suspended" || !strings.Contains(o.Message, "suspended") {
			t.Errorf("outcome %+v, want not picked up: suspended", o)
		}
	})
	t.Run("source cannot fetch", func(t *testing.T) {
		c := r.push(t, "envs/unreadable", map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unreadable, namespace: default}\n"})
		was := r.flux.Timeout
		r.flux.Timeout = 5 * time.Second
		defer func() { r.flux.Timeout = was }()
		o := r.deploy(t, "envs/unreadable", c)
		if o.State != engine.NotPickedUp || o.Reason != "GitOperationFailed" || !strings.Contains(o.Message, "authentication required") {
			t.Errorf("outcome %+v, want not picked up with the source's authentication error", o)
		}
		if strings.Contains(o.Message, "wrong-password") {
			t.Errorf("message %q holds the password", o.Message)
		}
	})
	t.Run("wrong path", func(t *testing.T) {
		_, err := r.flux.Find(context.Background(), r.url, "main", "envs/prod")
		if !errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), "flux-system/dev") || !strings.Contains(err.Error(), "gitops.object") {
			t.Errorf("Find of envs/prod: %v; want ErrNotFound naming flux-system/dev and gitops.object", err)
		}
	})
}
