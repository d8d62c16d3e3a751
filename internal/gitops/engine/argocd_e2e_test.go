package engine_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipwayhq/slipway/internal/gitops/engine"
	"github.com/slipwayhq/slipway/internal/testenv"
)

// argoClusterPorts are the simulated Argo CD test's control plane's, apart
// from every other test control plane's (internal/testenv, deploy, the
// Flux test above, the real node) and hack/gitlab-ci-local.sh's, below the
// ephemeral range.
var argoClusterPorts = map[string]string{
	"SLIPWAY_APISERVER_PORT": "21443", "SLIPWAY_ETCD_PORT": "21379", "SLIPWAY_ETCD_PEER_PORT": "21380",
	"SLIPWAY_KCM_PORT": "21457", "SLIPWAY_SCHEDULER_PORT": "21459", "SLIPWAY_KWOK_PORT": "21250",
}

const simRepoURL = "https://git.example.test/team/env.git"

// simRepo is the environment repository's branch main as the simulated
// controller sees it: a line of commits, the last its head.
type simRepo struct {
	mu      sync.Mutex
	commits []string
}

// push adds a commit and returns it.
func (r *simRepo) push() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	sum := sha1.Sum(fmt.Appendf(nil, "commit %d", len(r.commits)))
	r.commits = append(r.commits, hex.EncodeToString(sum[:]))
	return r.commits[len(r.commits)-1]
}

func (r *simRepo) head() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.commits[len(r.commits)-1]
}

// descends is the Descends of the line: a later commit descends from an
// earlier one.
func (r *simRepo) descends(_ context.Context, commit, ancestor string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, a := slices.Index(r.commits, commit), slices.Index(r.commits, ancestor)
	if c < 0 || a < 0 {
		return false, fmt.Errorf("commit %s or %s is not in the repository", commit, ancestor)
	}
	return c > a, nil
}

// simController is the test writer: it plays Argo CD's application
// controller on the Applications of namespace argocd. When one carries the
// refresh annotation it removes it and compares the Application to the
// head of simRepo (status.sync), and, when automated sync is on and the
// head differs from what is live, syncs: an operation in phase Running,
// then Succeeded or, for a commit in failing, Failed with Argo CD's
// message. An Application in compareErrors gets that ComparisonError
// instead, and keeps its revision, as when the repository cannot be read.
type simController struct {
	client        dynamic.Interface
	repo          *simRepo
	mu            sync.Mutex
	failing       map[string]string // commit -> the sync's message
	compareErrors map[string]string // Application name -> the condition's message
	errs          []error
}

// run reads the Applications every 50ms until ctx ends.
func (c *simController) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		l, err := c.client.Resource(engine.ApplicationGVR).Namespace("argocd").List(ctx, metav1.ListOptions{})
		if err != nil {
			c.fail(ctx, fmt.Errorf("listing Applications: %w", err))
			continue
		}
		for _, u := range l.Items {
			if _, ok := u.GetAnnotations()[engine.RefreshAnnotation]; ok {
				c.fail(ctx, c.refresh(ctx, u))
			}
		}
	}
}

func (c *simController) fail(ctx context.Context, err error) {
	if err == nil || ctx.Err() != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err)
}

// refresh does what Argo CD does with a refreshed Application.
func (c *simController) refresh(ctx context.Context, u unstructured.Unstructured) error {
	head := c.repo.head()
	c.mu.Lock()
	compareErr, failMsg := c.compareErrors[u.GetName()], c.failing[head]
	c.mu.Unlock()
	unannotate := map[string]any{"annotations": map[string]any{engine.RefreshAnnotation: nil, engine.RefreshTimestampAnnotation: nil}}
	now := time.Now().UTC().Format(time.RFC3339)
	if compareErr != "" {
		return c.patch(ctx, u.GetName(), map[string]any{"metadata": unannotate, "status": map[string]any{"reconciledAt": now,
			"sync":       map[string]any{"status": "Unknown"},
			"conditions": []any{map[string]any{"type": "ComparisonError", "message": compareErr, "lastTransitionTime": now}}}})
	}
	live, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "syncResult", "revision")
	sync := "OutOfSync"
	if live == head {
		sync = "Synced"
	}
	if err := c.patch(ctx, u.GetName(), map[string]any{"metadata": unannotate, "status": map[string]any{"reconciledAt": now,
		"sync": map[string]any{"status": sync, "revision": head}, "conditions": nil}}); err != nil {
		return err
	}
	auto, on, _ := unstructured.NestedMap(u.Object, "spec", "syncPolicy", "automated")
	if !on || auto["enabled"] == false || sync == "Synced" {
		return nil
	}
	return c.sync(ctx, u.GetName(), head, failMsg)
}

// sync runs an automated sync of head that fails with failMsg when it is
// not "".
func (c *simController) sync(ctx context.Context, name, head, failMsg string) error {
	op := map[string]any{"sync": map[string]any{"revision": head}, "initiatedBy": map[string]any{"automated": true}}
	started := time.Now().UTC().Format(time.RFC3339)
	if err := c.patch(ctx, name, map[string]any{"operation": op, "status": map[string]any{"operationState": map[string]any{
		"operation": op, "phase": "Running", "message": "one or more tasks are running", "startedAt": started, "syncResult": nil}}}); err != nil {
		return err
	}
	select { // Wait sees the sync running: not final
	case <-ctx.Done():
		return nil
	case <-time.After(400 * time.Millisecond):
	}
	phase, msg, sync := "Succeeded", "successfully synced (all tasks run)", "Synced"
	if failMsg != "" {
		phase, msg, sync = "Failed", failMsg, "OutOfSync"
	}
	return c.patch(ctx, name, map[string]any{"operation": nil, "status": map[string]any{
		"sync": map[string]any{"status": sync, "revision": head},
		"operationState": map[string]any{"phase": phase, "message": msg, "finishedAt": time.Now().UTC().Format(time.RFC3339),
			"syncResult": map[string]any{"revision": head}}}})
}

// patch writes to the Application with a merge patch, status included:
// the CRD has no status subresource.
func (c *simController) patch(ctx context.Context, name string, patch map[string]any) error {
	u := unstructured.Unstructured{Object: patch}
	b, err := u.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encoding the patch of Application %s: %w", name, err)
	}
	if _, err := c.client.Resource(engine.ApplicationGVR).Namespace("argocd").Patch(ctx, name, types.MergePatchType, b, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patching Application %s: %w", name, err)
	}
	return nil
}

// startSimController runs the test writer until the test ends, and fails
// the test with what it could not do.
func startSimController(t *testing.T, client dynamic.Interface, repo *simRepo) *simController {
	t.Helper()
	c := &simController{client: client, repo: repo, failing: map[string]string{}, compareErrors: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		for _, err := range c.errs {
			t.Errorf("simulated controller: %v", err)
		}
	})
	return c
}

// simApplication is an Application of simRepoURL's path on main, with
// automated sync or without.
func simApplication(name, path string, auto bool) *unstructured.Unstructured {
	spec := map[string]any{
		"project":     "default",
		"source":      map[string]any{"repoURL": simRepoURL, "targetRevision": "main", "path": path},
		"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": name},
	}
	if auto {
		spec["syncPolicy"] = map[string]any{"automated": map[string]any{"prune": true}}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"namespace": "argocd", "name": name}, "spec": spec,
	}}
}

// startArgoCDSimulated starts a control plane, installs Argo CD's real
// Application CRD and the Applications dev, manual (no automated sync)
// and unreadable on it, and returns a client.
func startArgoCDSimulated(t *testing.T) dynamic.Interface {
	t.Helper()
	c, err := testenv.StartClusterOn(t.TempDir(), argoClusterPorts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	kubectl := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(c.Kubectl, append([]string{"--kubeconfig", c.Kubeconfig}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// create, not apply: the CRD is too large for apply's annotation.
	kubectl("create", "-f", "testdata/argocd/application-crd.yaml")
	kubectl("create", "namespace", "argocd")
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client := dynamic.NewForConfigOrDie(rc)
	for _, u := range []*unstructured.Unstructured{
		simApplication("dev", "envs/dev", true), simApplication("manual", "envs/manual", false), simApplication("unreadable", "envs/unreadable", true),
	} {
		if err := createWhenServed(client, u); err != nil {
			t.Fatal(err)
		}
	}
	return client
}

// createWhenServed creates u, retrying while the API server does not serve
// the new CRD yet.
func createWhenServed(client dynamic.Interface, u *unstructured.Unstructured) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := client.Resource(engine.ApplicationGVR).Namespace("argocd").Create(context.Background(), u, metav1.CreateOptions{})
		if err == nil || !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("creating Application %s: %w", u.GetName(), err)
			}
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// argoDeploy finds the Application of path, nudges it and waits for
// commit.
func argoDeploy(t *testing.T, argo *engine.ArgoCD, repo *simRepo, path, commit string) engine.Outcome {
	t.Helper()
	ctx := context.Background()
	app, err := argo.Find(ctx, simRepoURL, "main", path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := argo.Nudge(ctx, app); err != nil {
		t.Fatal(err)
	}
	o, err := argo.Wait(ctx, app, commit, repo.descends)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s of %.12s after %s: %+v", o.State, commit, time.Since(start).Round(time.Millisecond), o)
	return o
}

// TestArgoCDSimulated drives the adapter against Argo CD's real
// Application CRD on a real API server, with a simulated controller (the
// test writer above) in place of Argo CD's, which cannot run here: each
// outcome for a commit.
func TestArgoCDSimulated(t *testing.T) {
	if !testenv.ClusterInstalled() && os.Getenv(testenv.E2EEnv) != "1" {
		t.Skip(testenv.ErrNoCluster)
	}
	client := startArgoCDSimulated(t)
	repo := &simRepo{}
	ctrl := startSimController(t, client, repo)
	argo := &engine.ArgoCD{Client: client, Timeout: 20 * time.Second, Poll: 100 * time.Millisecond}

	t.Run("simulated applied", func(t *testing.T) {
		c := repo.push()
		if o := argoDeploy(t, argo, repo, "envs/dev", c); o.State != engine.Applied || o.Commit != c || o.Revision != c || !o.Confirmed {
			t.Errorf("outcome %+v, want applied of %s", o, c)
		}
	})
	t.Run("simulated failed", func(t *testing.T) {
		c := repo.push()
		ctrl.mu.Lock()
		ctrl.failing[c] = "one or more objects failed to apply, reason: Deployment.apps \"web\" is invalid:\n  spec.template.spec.containers[0].image: Required value"
		ctrl.mu.Unlock()
		o := argoDeploy(t, argo, repo, "envs/dev", c)
		if o.State != engine.Failed || o.Reason != "SyncFailed" || o.Commit != c {
			t.Fatalf("outcome %+v, want failed with SyncFailed", o)
		}
		if want := `reason: Deployment.apps "web" is invalid: spec.template.spec.containers[0].image: Required value`; !strings.Contains(o.Message, want) {
			t.Errorf("message %q does not say %q on one line", o.Message, want)
		}
	})
	t.Run("simulated superseded", func(t *testing.T) {
		ours := repo.push()
		newer := repo.push()
		if o := argoDeploy(t, argo, repo, "envs/dev", ours); o.State != engine.Superseded || o.Commit != newer {
			t.Errorf("outcome %+v, want superseded by %s", o, newer)
		}
	})
	argoSimulatedNotPickedUp(t, argo, repo, ctrl)
	t.Run("simulated wrong path", func(t *testing.T) {
		_, err := argo.Find(context.Background(), simRepoURL, "main", "envs/prod")
		if !errors.Is(err, engine.ErrNotFound) || !strings.Contains(err.Error(), "argocd/dev") || !strings.Contains(err.Error(), "gitops.object") {
			t.Errorf("Find of envs/prod: %v; want ErrNotFound naming argocd/dev and gitops.object", err)
		}
	})
}

// argoSimulatedNotPickedUp runs TestArgoCDSimulated's cases of commits
// Argo CD does not pick up.
func argoSimulatedNotPickedUp(t *testing.T, argo *engine.ArgoCD, repo *simRepo, ctrl *simController) {
	t.Run("simulated not picked up without automated sync", func(t *testing.T) {
		c := repo.push()
		start := time.Now()
		o := argoDeploy(t, argo, repo, "envs/manual", c)
		if o.State != engine.NotPickedUp || o.Reason != "AutoSyncOff" || !strings.Contains(o.Message, "spec.syncPolicy.automated") {
			t.Errorf("outcome %+v, want not picked up: no automated sync", o)
		}
		if d := time.Since(start); d > argo.Timeout/2 {
			t.Errorf("took %s, want it at once", d)
		}
	})
	t.Run("simulated not picked up with a comparison error", func(t *testing.T) {
		ctrl.mu.Lock()
		ctrl.compareErrors["unreadable"] = "Failed to load target state: failed to generate manifest for source 1 of 1: rpc error: code = Unknown desc = failed to list refs: authentication required: Invalid username or password"
		ctrl.mu.Unlock()
		c := repo.push()
		was := argo.Timeout
		argo.Timeout = 3 * time.Second
		defer func() { argo.Timeout = was }()
		o := argoDeploy(t, argo, repo, "envs/unreadable", c)
		if o.State != engine.NotPickedUp || o.Reason != "ComparisonError" || !strings.Contains(o.Message, "authentication required") {
			t.Errorf("outcome %+v, want not picked up with the ComparisonError", o)
		}
	})
}
