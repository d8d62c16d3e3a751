package flow

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynfake "k8s.io/client-go/dynamic/fake"

	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/fleet"
	"github.com/slipwayhq/slipway/internal/gitops/engine"
)

// TestFleetGitOps reads a GitOps environment through its repository, as
// status --all does with no project: the Kustomization named by the
// labels Flux writes leads to the repository, whose last commit of the
// app's file gives version, digest, who and why. Applied by Flux, what
// runs is that commit's; not applied yet, the row is pending; a
// Kustomization that is gone says so. An Argo CD Application (simulated:
// its status written by the test as Argo CD writes it) is read the same
// way.
func TestFleetGitOps(t *testing.T) {
	ctx := context.Background()
	f, e := gitOpsFixture(t)
	digest := f.push("dev", "1.2.3")
	if _, err := f.runner().Deploy(ctx, "dev", DeployOptions{Options: f.options(), NoWait: true, Reason: "ship it"}); err != nil {
		t.Fatal(err)
	}
	commit := e.head()
	objs := fluxPair("flux-system", "dev", e.url, "main", "./envs/dev")
	applied := objs[1].(*unstructured.Unstructured)
	applied.Object["status"] = map[string]any{"lastAttemptedRevision": "main@sha1:" + commit, "lastAppliedRevision": "main@sha1:" + commit,
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded"}}}
	objs = append(objs, fluxPair("flux-system", "later", e.url, "main", "./envs/dev")...)
	// Argo CD's Application, simulated: its status as Argo CD writes it
	// once a sync of the commit succeeded.
	app := argoApp("team", "hello-dev", e.url, "main", "envs/dev").(*unstructured.Unstructured)
	app.Object["status"] = map[string]any{"sync": map[string]any{"status": "Synced", "revision": commit},
		"operationState": map[string]any{"phase": "Succeeded", "syncResult": map[string]any{"revision": commit}}}
	objs = append(objs, app)
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		engine.KustomizationGVR: "KustomizationList", engine.GitRepositoryGVR: "GitRepositoryList", engine.ApplicationGVR: "ApplicationList"}, objs...)
	row := func(object, running string) fleet.Row {
		return fleet.Row{Context: "c", App: "hello", EnvStatus: deploy.EnvStatus{Env: "dev", Digest: running},
			GitOps: &fleet.GitOpsState{Engine: "flux", Object: object}}
	}
	rows := []fleet.Row{row("flux-system/dev", digest), row("flux-system/later", "sha256:"+strings.Repeat("0", 64)), row("flux-system/gone", digest),
		row("team/hello-dev", digest)}
	rows[3].GitOps.Engine = "argocd"
	read := func(hosts ...string) {
		for i := range rows {
			*rows[i].GitOps = fleet.GitOpsState{Engine: rows[i].GitOps.Engine, Object: rows[i].GitOps.Object}
		}
		readGitOps(ctx, rows, func(string) (dynamic.Interface, error) { return dyn, nil }, hosts)
	}
	// The repository is named by the cluster: the git variables'
	// credentials go only to the hosts given.
	read()
	if g := rows[0].GitOps; g.Commit != "" || g.Error == "" {
		t.Errorf("read without the host allowed: %+v, want refused by the server", g)
	}
	read(strings.TrimPrefix(e.url[:strings.LastIndex(e.url, "/")], "http://"))

	g := rows[0].GitOps
	if g.Error != "" || g.Commit != commit || g.Version != "1.2.3" || g.Digest != digest || g.By != "alice" || g.Reason != "ship it" ||
		g.Outcome != "applied" || g.Pending || g.Repo != e.url || g.Path != "./envs/dev" {
		t.Errorf("applied: %+v", g)
	}
	if n := fleet.Notes(rows[0], f.now); len(n) != 0 {
		t.Errorf("applied has notes %q", n)
	}
	if g := rows[1].GitOps; g.Error != "" || g.Commit != commit || g.Outcome != "pending" || !g.Pending {
		t.Errorf("pending: %+v", g)
	}
	if n := strings.Join(fleet.Notes(rows[1], f.now), "; "); !strings.Contains(n, "pending: the repository holds 1.2.3") {
		t.Errorf("pending's notes: %s", n)
	}
	if g := rows[2].GitOps; !strings.Contains(g.Error, "the object that applied it is gone") {
		t.Errorf("gone: %+v", g)
	}
	if g := rows[3].GitOps; g.Error != "" || g.Commit != commit || g.Digest != digest || g.Outcome != "applied" || g.Pending {
		t.Errorf("argocd (simulated): %+v", g)
	}
	f.noSecret(t, gitPass)
}

// TestClusterRepoProblem: only remote repositories are read of what a
// cluster names, and plain http only on loopback.
func TestClusterRepoProblem(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://git.example.com/team/env.git": true,
		"ssh://git@git.example.com/team/env":   true,
		"git@git.example.com:team/env.git":     true,
		"http://127.0.0.1:3000/env.git":        true,
		"http://git.example.com/env.git":       false,
		"file:///srv/git/env.git":              false,
		"/srv/git/env.git":                     false,
		"../env.git":                           false,
	} {
		if got := clusterRepoProblem(raw) == ""; got != ok {
			t.Errorf("clusterRepoProblem(%q) = %q", raw, clusterRepoProblem(raw))
		}
	}
	env := scopedGitEnv("https://git.example.com/env.git", []string{"git.example.com"})
	other := scopedGitEnv("https://evil.example.com/env.git", []string{"git.example.com"})
	t.Setenv("SLIPWAY_GIT_TOKEN", "tok")
	if env("SLIPWAY_GIT_TOKEN") != "tok" || other("SLIPWAY_GIT_TOKEN") != "" {
		t.Error("the token goes to a host not allowed, or not to one allowed")
	}
}

// TestFleetGitOpsReadBounded: rows whose objects (a tenant's) name
// repositories on a server that takes connections and never answers: the
// read of them all ends at fleetGitOpsTotal, and each such row says so.
func TestFleetGitOpsReadBounded(t *testing.T) {
	defer func(d time.Duration) { fleetGitOpsTotal = d }(fleetGitOpsTotal)
	fleetGitOpsTotal = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	go func() { // accepts, never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	var objs []runtime.Object
	var rows []fleet.Row
	for i := range 6 {
		name := fmt.Sprintf("k%d", i)
		objs = append(objs, fluxPair("tenant", name, fmt.Sprintf("https://%s/r%d.git", ln.Addr(), i), "main", "./envs")...)
		rows = append(rows, fleet.Row{Context: "c", App: fmt.Sprintf("app%d", i), EnvStatus: deploy.EnvStatus{Env: "dev"},
			GitOps: &fleet.GitOpsState{Engine: "flux", Object: "tenant/" + name}})
	}
	dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		engine.KustomizationGVR: "KustomizationList", engine.GitRepositoryGVR: "GitRepositoryList", engine.ApplicationGVR: "ApplicationList"}, objs...)
	readGitOps(context.Background(), rows, func(string) (dynamic.Interface, error) { return dyn, nil }, nil)
	for _, r := range rows {
		if !strings.Contains(r.GitOps.Error, "read within 300ms") {
			t.Errorf("%s: %q, want it not read within the whole read's bound", r.App, r.GitOps.Error)
		}
	}
}
