package flow

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/gitops"
	"github.com/slipwayhq/slipway/internal/gitops/engine"
)

// fakeEngine plays a GitOps engine on the fixture's fake cluster: waiting
// for a commit, it applies the app's file as that commit holds it (or
// removes the Deployment when the commit holds none), unless outcome
// says otherwise for that commit.
type fakeEngine struct {
	f *fixture
	e *envRepo

	mu      sync.Mutex
	nudges  int
	waited  []string
	outcome func(commit string) engine.Outcome // nil or Pending: apply
	findErr error
	// look, when set, is what Look says of every commit.
	look engine.State
}

func (g *fakeEngine) Target(ctx context.Context, repo, branch, path string) (engine.Target, error) {
	if g.findErr != nil {
		return nil, g.findErr
	}
	return g, nil
}

func (g *fakeEngine) String() string { return "Kustomization flux-system/dev" }

func (g *fakeEngine) Nudge(ctx context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nudges++
	return nil
}

func (g *fakeEngine) Wait(ctx context.Context, commit string, d engine.Descends) (engine.Outcome, error) {
	g.mu.Lock()
	g.waited = append(g.waited, commit)
	g.mu.Unlock()
	if o := g.Look0(commit); o.State != engine.Pending {
		return o, nil
	}
	g.apply(commit)
	return engine.Outcome{State: engine.Applied, Commit: commit}, nil
}

func (g *fakeEngine) Look(ctx context.Context, commit string) (engine.Outcome, error) {
	if g.look != "" {
		return engine.Outcome{State: g.look, Commit: commit}, nil
	}
	if o := g.Look0(commit); o.State == engine.Failed {
		return o, nil
	}
	return engine.Outcome{State: engine.Applied, Commit: commit}, nil
}

// Look0 is the scripted outcome of commit, Pending when none is.
func (g *fakeEngine) Look0(commit string) engine.Outcome {
	if g.outcome == nil {
		return engine.Outcome{State: engine.Pending}
	}
	return g.outcome(commit)
}

// apply applies the Deployment in the app's file at commit, as Flux
// would, or deletes it when the file is gone.
func (g *fakeEngine) apply(commit string) {
	t := g.f.t
	ctx := context.Background()
	deployments := g.f.kube.cs.AppsV1().Deployments("hello-dev")
	out, err := gitShow(g.e, commit+":envs/dev/hello.yaml")
	if err != nil {
		if err := deployments.Delete(ctx, "hello", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
		return
	}
	for _, doc := range strings.Split(out, "\n---\n") {
		if !strings.Contains(doc, "kind: Deployment") {
			continue
		}
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(d)
		force := true
		if _, err := deployments.Patch(ctx, d.Name, types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "kustomize-controller", Force: &force}); err != nil {
			t.Errorf("applying commit %s: %v", commit, err)
		}
	}
}

// gitShow is `git show what` in e's bare repository.
func gitShow(e *envRepo, what string) (string, error) {
	cmd := exec.Command("git", "show", what)
	cmd.Dir = e.bare
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.Output()
	return string(out), err
}

// fluxFixture is gitOpsFixture with dev applied by a fake Flux.
func fluxFixture(t *testing.T) (*fixture, *envRepo, *fakeEngine) {
	f, e := gitOpsFixture(t)
	for i := range f.p.Environments {
		if g := f.p.Environments[i].GitOps; g != nil {
			g.Engine = "flux"
		}
	}
	return f, e, &fakeEngine{f: f, e: e}
}

func (g *fakeEngine) runner() *Runner {
	fa := g.f.factory()
	fa.Engine = func(config.Environment, *deploy.Cluster, time.Duration) (engine.Engine, error) { return g, nil }
	return NewRunner(g.f.p, fa)
}

// TestGitOpsVerdictSucceeded: deploy commits, nudges the engine, waits
// for it to apply that commit and for the pods carrying the digest; a
// re-run commits nothing and judges again; the lock is let go.
func TestGitOpsVerdictSucceeded(t *testing.T) {
	f, e, g := fluxFixture(t)
	digest := f.push("dev", "1.2.3")
	res, err := g.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options()})
	if err != nil {
		t.Fatalf("Deploy = %v", err)
	}
	gr := res.GitOps
	if gr == nil || gr.Outcome != GitOpsSucceeded || gr.Commit != e.head() || res.Verdict == nil || res.Verdict.Phase != deploy.PhaseSucceeded {
		t.Fatalf("result = %+v / %+v, want succeeded at %s", gr, res.Verdict, e.head())
	}
	if g.nudges != 1 || len(g.waited) != 1 || g.waited[0] != gr.Commit || gr.Engine != g.String() {
		t.Errorf("nudges %d, waited %v; want one nudge and a wait for %s", g.nudges, g.waited, gr.Commit)
	}
	if d, _ := f.kube.get("hello-dev", "hello"); d == nil || d.Annotations[deploy.AnnotationDigest] != digest {
		t.Errorf("the Deployment does not carry %s", digest)
	}
	if l, err := f.kube.cs.CoordinationV1().Leases("hello-dev").Get(context.Background(), "slipway-lock-hello-dev", metav1.GetOptions{}); err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
		t.Errorf("the lock is still held by %s", *l.Spec.HolderIdentity)
	}
	again, err := g.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options()})
	if err != nil || again.GitOps.Changed || again.GitOps.Outcome != GitOpsSucceeded || e.head() != gr.Commit {
		t.Errorf("re-run = %+v, %v; want nothing committed, succeeded", again.GitOps, err)
	}
}

// TestGitOpsVerdictFailed: a crash loop, and an engine that cannot apply
// the commit, fail the deploy (exit 5) with the reason, and a revert
// commit brings back what ran before, which is waited for; with
// --no-rollback the commit stays.
func TestGitOpsVerdictFailed(t *testing.T) {
	tests := []struct {
		name       string
		crash      bool
		engineFail bool
		noRollback bool
		want       string
	}{
		{name: "crash loop", crash: true, want: "CrashLoopBackOff"},
		{name: "engine cannot build", engineFail: true, want: "BuildFailed"},
		{name: "crash loop, no rollback", crash: true, noRollback: true, want: "CrashLoopBackOff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, e, g := fluxFixture(t)
			first := f.push("dev", "1.2.3")
			ok, err := g.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options()})
			if err != nil {
				t.Fatal(err)
			}
			next := f.push("dev", "1.2.4")
			if tt.crash {
				f.kube.crashImage(f.image("dev", next))
			}
			if tt.engineFail {
				g.outcome = func(c string) engine.Outcome {
					if gitops.ParseTrailers(e.git(e.bare, "log", "-1", "--format=%B", c)).Digest == next {
						return engine.Outcome{State: engine.Failed, Commit: c, Reason: "BuildFailed", Message: "kustomize build failed: accumulating resources"}
					}
					return engine.Outcome{State: engine.Pending}
				}
			}
			res, err := g.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options(), Version: "1.2.4", NoRollback: tt.noRollback})
			var fe *GitOpsFailedError
			if !errors.As(err, &fe) || Classify(err) != ClassRolloutFailed || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Deploy = %v, want a failure (exit 5) naming %s", err, tt.want)
			}
			gr := res.GitOps
			if gr.Outcome != GitOpsFailed {
				t.Errorf("outcome %q", gr.Outcome)
			}
			d, _ := f.kube.get("hello-dev", "hello")
			if tt.noRollback {
				if gr.Revert != "" || e.head() != gr.Commit || res.RolledBack {
					t.Errorf("--no-rollback reverted: %+v", gr)
				}
				return
			}
			tr := gitops.ParseTrailers(e.git(e.bare, "log", "-1", "--format=%B", "main"))
			if gr.Revert == "" || gr.Revert != e.head() || tr.Reverts != gr.Commit || !res.RolledBack || !strings.Contains(err.Error(), "reverted by commit") {
				t.Errorf("revert %q at head %s, trailers %+v, rolled back %v; want a revert of %s", gr.Revert, e.head(), tr, res.RolledBack, gr.Commit)
			}
			if d == nil || d.Annotations[deploy.AnnotationDigest] != first {
				t.Errorf("after the revert the Deployment does not run %s", first)
			}
			if got, _ := gitShow(e, "main:envs/dev/hello.yaml"); got != mustShow(t, e, ok.GitOps.Commit+":envs/dev/hello.yaml") {
				t.Error("the revert did not bring back the file of the deploy before")
			}
		})
	}
}

func mustShow(t *testing.T, e *envRepo, what string) string {
	t.Helper()
	out, err := gitShow(e, what)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGitOpsVerdictFirstDeployReverted: the revert of a failed first
// deploy removes the app's file, and the engine the Deployment.
func TestGitOpsVerdictFirstDeployReverted(t *testing.T) {
	f, e, g := fluxFixture(t)
	f.kube.crashImage(f.image("dev", f.push("dev", "1.2.3")))
	res, err := g.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options()})
	if !errors.Is(err, deploy.ErrFailed) || res.GitOps.Revert == "" || !res.RolledBack {
		t.Fatalf("Deploy = %v (%+v), want failed and reverted", err, res.GitOps)
	}
	if _, err := gitShow(e, "main:envs/dev/hello.yaml"); err == nil {
		t.Error("the app's file is still there")
	}
	if d, _ := f.kube.get("hello-dev", "hello"); d != nil {
		t.Error("the Deployment is still there")
	}
}

// TestGitOpsVerdictNoVerdict: superseded (exit 6) names the newer commit,
// which changed the app's file, and who made it; not picked up (exit 7)
// leaves the commit; neither reverts. An engine object that cannot be
// found commits nothing.
func TestGitOpsVerdictNoVerdict(t *testing.T) {
	t.Run("superseded", func(t *testing.T) {
		f, e, g := fluxFixture(t)
		f.push("dev", "1.2.3")
		g.outcome = func(c string) engine.Outcome {
			e.write("envs/dev/hello.yaml", "kind: ConfigMap\n")
			return engine.Outcome{State: engine.Superseded, Commit: e.head(), Message: "the engine moved on to a newer commit"}
		}
		res, err := g.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options()})
		if !errors.Is(err, ErrSuperseded) || Classify(err) != ClassSuperseded || !strings.Contains(err.Error(), "Bob") {
			t.Fatalf("Deploy = %v, want superseded (exit 6) naming Bob", err)
		}
		if s := res.GitOps.SupersededBy; s == nil || s.Commit != e.head() || s.Author != "Bob" || res.GitOps.Revert != "" {
			t.Errorf("superseded by %+v, revert %q", s, res.GitOps.Revert)
		}
	})
	t.Run("not picked up", func(t *testing.T) {
		f, e, g := fluxFixture(t)
		f.push("dev", "1.2.3")
		g.outcome = func(c string) engine.Outcome {
			return engine.Outcome{State: engine.NotPickedUp, Commit: c, Reason: "Suspended", Message: "the Kustomization is suspended"}
		}
		res, err := g.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options()})
		if !errors.Is(err, ErrNotPickedUp) || Classify(err) != ClassNotPickedUp || !strings.Contains(err.Error(), "suspended") {
			t.Fatalf("Deploy = %v, want not picked up (exit 7)", err)
		}
		if res.GitOps.Commit != e.head() || res.GitOps.Revert != "" {
			t.Errorf("the commit did not stay: %+v", res.GitOps)
		}
	})
	t.Run("no engine object", func(t *testing.T) {
		f, e, g := fluxFixture(t)
		f.push("dev", "1.2.3")
		g.findErr = engine.ErrNotFound
		before := e.head()
		if _, err := g.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options()}); !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("Deploy = %v, want ErrNotFound", err)
		}
		if e.head() != before {
			t.Error("a commit landed")
		}
	})
}

// TestGitOpsVerdictCarried: a newer commit that holds the app's file as
// the deploy wrote it (another app's deploy to the same path landed on
// top before the engine fetched ours) does not supersede the deploy: it
// is waited for in its place, and the pods are judged.
func TestGitOpsVerdictCarried(t *testing.T) {
	f, e, g := fluxFixture(t)
	digest := f.push("dev", "1.2.3")
	var ours, newer string
	g.outcome = func(c string) engine.Outcome {
		if ours != "" {
			return engine.Outcome{State: engine.Pending}
		}
		ours = c
		e.write("envs/dev/other.yaml", "kind: ConfigMap\n")
		newer = e.head()
		return engine.Outcome{State: engine.Superseded, Commit: newer, Message: "the engine moved on to a newer commit"}
	}
	res, err := g.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options()})
	if err != nil {
		t.Fatalf("Deploy = %v, want succeeded", err)
	}
	gr := res.GitOps
	if gr.Outcome != GitOpsSucceeded || gr.Commit != ours || res.Verdict == nil || res.Verdict.Phase != deploy.PhaseSucceeded {
		t.Fatalf("result = %+v / %+v, want succeeded on %s", gr, res.Verdict, ours)
	}
	if !slices.Equal(g.waited, []string{ours, newer}) || gr.EngineOutcome == nil || gr.EngineOutcome.Commit != newer || gr.SupersededBy != nil {
		t.Errorf("waited for %v, engine outcome %+v; want %s then %s", g.waited, gr.EngineOutcome, ours, newer)
	}
	if d, _ := f.kube.get("hello-dev", "hello"); d == nil || d.Annotations[deploy.AnnotationDigest] != digest {
		t.Errorf("the Deployment does not carry %s", digest)
	}
}

// TestByWhom: a commit of Slipway's is by the one its Slipway-By trailer
// names, not by Slipway's committer; another commit is by its author.
func TestByWhom(t *testing.T) {
	const c = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		e    *gitops.Entry
		want string
	}{
		{&gitops.Entry{Commit: c, Author: "slipway", Subject: "deploy hello 0.1.0 to dev", Trailers: gitops.Trailers{By: "bob"}},
			` (0123456789ab by bob: "deploy hello 0.1.0 to dev")`},
		{&gitops.Entry{Commit: c, Author: "Bob", Subject: "edit envs/dev/hello.yaml"}, ` (0123456789ab by Bob: "edit envs/dev/hello.yaml")`},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := byWhom(tt.e); got != tt.want {
			t.Errorf("byWhom(%+v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}

// TestGitOpsHistoryAndRollback: history is the git log of the app's file
// with its trailers; rollback commits the earlier file again, and waits
// for the engine and the pods like a deploy.
func TestGitOpsHistoryAndRollback(t *testing.T) {
	f, e, g := fluxFixture(t)
	first := f.push("dev", "1.2.3")
	ctx := context.Background()
	if _, err := g.runner().Deploy(ctx, "dev", DeployOptions{Options: f.options(), Reason: "first"}); err != nil {
		t.Fatal(err)
	}
	second := f.push("dev", "1.2.4")
	if _, err := g.runner().Deploy(ctx, "dev", DeployOptions{Options: f.options(), Version: "1.2.4"}); err != nil {
		t.Fatal(err)
	}
	hist, err := g.runner().History(ctx, "dev", HistoryOptions{})
	if err != nil || len(hist) != 2 || hist[0].Version != "1.2.4" || hist[0].Digest != second || !hist[0].Current ||
		hist[1].Version != "1.2.3" || hist[1].Reason != "first" || hist[1].DeployedBy != "alice" || hist[0].Commit != e.head() {
		t.Fatalf("History = %+v, %v", hist, err)
	}
	res, err := g.runner().Rollback(ctx, "dev", RollbackOptions{Options: f.options(), Reason: "bad release"})
	if err != nil || res.Version != "1.2.3" || res.Verdict == nil || res.Verdict.Phase != deploy.PhaseSucceeded {
		t.Fatalf("Rollback = %+v, %v", res, err)
	}
	if d, _ := f.kube.get("hello-dev", "hello"); d == nil || d.Annotations[deploy.AnnotationDigest] != first {
		t.Errorf("after the rollback the Deployment does not run %s", first)
	}
	hist, _ = g.runner().History(ctx, "dev", HistoryOptions{})
	if len(hist) != 3 || hist[0].Digest != first || !strings.Contains(hist[0].Reason, "restores "+hist[2].Commit[:12]) || !strings.Contains(hist[0].Reason, "bad release") {
		t.Errorf("after the rollback, history = %+v", hist)
	}
	res, err = g.runner().Rollback(ctx, "dev", RollbackOptions{Options: f.options(), To: "1.2.4"})
	if err != nil || res.Version != "1.2.4" {
		t.Errorf("Rollback --to 1.2.4 = %+v, %v", res, err)
	}
	if _, err := g.runner().Rollback(ctx, "dev", RollbackOptions{Options: f.options(), To: "9.9.9"}); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("Rollback --to 9.9.9 = %v, want not found", err)
	}
}

// TestGitOpsStatusPendingOrDrift: pods that do not run what the repository
// holds are "pending" while the engine has not applied the head, and
// "drift" once it has.
func TestGitOpsStatusPendingOrDrift(t *testing.T) {
	f, _, g := fluxFixture(t)
	f.push("dev", "1.2.3")
	ctx := context.Background()
	if _, err := g.runner().Deploy(ctx, "dev", DeployOptions{Options: f.options()}); err != nil {
		t.Fatal(err)
	}
	st, err := g.runner().Status(ctx, []string{"dev"}, StatusOptions{Options: f.options()})
	if err != nil || st[0].DeployedBy != "alice" || st[0].DeployedAt.IsZero() || len(st[0].Drift) != 0 {
		t.Errorf("status = %+v, %v; want who deployed and when from the commit, and no drift", st, err)
	}
	d, _ := f.kube.get("hello-dev", "hello")
	d = d.DeepCopy()
	d.Annotations[deploy.AnnotationDigest] = "sha256:" + strings.Repeat("e", 64) // a hand edit
	if _, err := f.kube.cs.AppsV1().Deployments("hello-dev").Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		look engine.State
		want string
	}{{engine.Applied, "drift: "}, {engine.Pending, "pending: "}} {
		g.look = tt.look
		st, err := g.runner().Status(ctx, []string{"dev"}, StatusOptions{Options: f.options()})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(st[0].Drift, func(s string) bool { return strings.HasPrefix(s, tt.want) }) {
			t.Errorf("engine %s: drift %q, want one starting %q", tt.look, st[0].Drift, tt.want)
		}
	}
}

// TestGitOpsVerdictChecks: a GitOps environment's checks run on the pods
// the engine rolled out, as a direct deploy's do; one that fails fails the
// verdict (CheckFailed) and the commit is reverted.
func TestGitOpsVerdictChecks(t *testing.T) {
	f, e, g := fluxFixture(t)
	if err := os.WriteFile(filepath.Join(f.p.Dir, config.CIFile), []byte(smokeCI), 0o644); err != nil {
		t.Fatal(err)
	}
	f.p.Environments[0].Checks = []config.Check{{Task: "smoke"}} // dev
	f.push("dev", "1.2.3")
	ctx := context.Background()
	ok, err := g.runner().Deploy(ctx, "dev", DeployOptions{Options: f.options()})
	if err != nil || ok.Verdict == nil || len(ok.Verdict.Checks) != 1 || !ok.Verdict.Checks[0].Passed {
		t.Fatalf("Deploy 1.2.3 = %+v, %v; want its check passed", ok.Verdict, err)
	}
	f.push("dev", "1.2.4")
	res, err := g.runner().Deploy(ctx, "dev", DeployOptions{Options: f.options(), Version: "1.2.4"})
	var fe *GitOpsFailedError
	if !errors.As(err, &fe) || res.Verdict == nil || res.Verdict.Reason != deploy.ReasonCheckFailed || res.GitOps.Revert != e.head() {
		t.Fatalf("Deploy 1.2.4 = %+v, %v; want CheckFailed and a revert", res.GitOps, err)
	}
	if !strings.Contains(err.Error(), "check task smoke failed") {
		t.Errorf("%q does not name the check", err)
	}
}

// handDeployed sets up a revert from someone else's commit: hello 1.2.3
// deployed by Slipway, then a commit by hand that writes envs/dev/hello.yaml
// as deploying 1.2.4 would, and the files extra, with message msg (the
// digest of 1.2.4 appended to it), and 1.2.4's image crashing. It returns
// hello.yaml as 1.2.3's deploy wrote it and the hand commit.
func handDeployed(t *testing.T, f *fixture, e *envRepo, g *fakeEngine, extra map[string]string, msg string) (before, commit string) {
	t.Helper()
	ctx := context.Background()
	f.push("dev", "1.2.3")
	if _, err := g.runner().Deploy(ctx, "dev", DeployOptions{Options: f.options()}); err != nil {
		t.Fatal(err)
	}
	before, err := gitShow(e, "main:envs/dev/hello.yaml")
	if err != nil {
		t.Fatal(err)
	}
	next := f.push("dev", "1.2.4")
	dry, err := g.runner().DryRun(ctx, "dev", DeployOptions{Options: f.options(), Version: "1.2.4"})
	if err != nil {
		t.Fatal(err)
	}
	e.git(e.work, "pull", "-q", "--ff-only", "origin", "main")
	files := map[string]string{"envs/dev/hello.yaml": string(dry.Manifests)}
	maps.Copy(files, extra)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(e.work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.git(e.work, "add", "-A")
	e.git(e.work, "commit", "-q", "-m", msg+next)
	e.git(e.work, "push", "-q", "origin", "HEAD:main")
	f.kube.crashImage(f.image("dev", next))
	return before, e.head()
}

// TestGitOpsRevertTakesOnlyTheAppsFile: the commit a failed verdict
// reverts was written by someone else, for this app and another (a
// promotion squashed into one commit, with this app's trailers): deploy
// commits nothing, its verdict fails, and the revert undoes this app's
// file alone.
func TestGitOpsRevertTakesOnlyTheAppsFile(t *testing.T) {
	f, e, g := fluxFixture(t)
	const api = "kind: ConfigMap\nmetadata: {name: api}\n"
	before, promo := handDeployed(t, f, e, g, map[string]string{"envs/dev/api.yaml": api},
		"Promote hello and api (#12)\n\nSlipway-App: hello\nSlipway-Env: dev\nSlipway-Digest: ")

	res, err := g.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options(), Version: "1.2.4"})
	if !errors.Is(err, deploy.ErrFailed) {
		t.Fatalf("Deploy: %v, want a failed verdict", err)
	}
	if res.GitOps.Changed || res.GitOps.Commit != promo || res.GitOps.Revert == "" {
		t.Fatalf("changed %v, commit %s, revert %q; want nothing committed on %s, then a revert", res.GitOps.Changed, res.GitOps.Commit, res.GitOps.Revert, promo)
	}
	if got, err := gitShow(e, "main:envs/dev/api.yaml"); err != nil || got != api {
		t.Errorf("the other app's file after the revert: %q, %v; want it kept", got, err)
	}
	if got, _ := gitShow(e, "main:envs/dev/hello.yaml"); got != before {
		t.Errorf("hello.yaml after the revert is not what ran before")
	}
}

// TestGitOpsRevertNeedsThisAppsCommit: the last commit to change the
// app's file holds the digest, but its trailers name another app or
// environment: it is not reverted.
func TestGitOpsRevertNeedsThisAppsCommit(t *testing.T) {
	f, e, g := fluxFixture(t)
	_, promo := handDeployed(t, f, e, g, nil, "copy from prod\n\nSlipway-App: hello\nSlipway-Env: prod\nSlipway-Digest: ")

	res, err := g.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options(), Version: "1.2.4"})
	if !errors.Is(err, gitops.ErrConflict) || res.GitOps.Revert != "" {
		t.Errorf("Deploy: %v, revert %q; want a conflict and no revert", err, res.GitOps.Revert)
	}
	if e.head() != promo {
		t.Errorf("the branch moved to %s", e.head())
	}
}
