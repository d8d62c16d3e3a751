package flow

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/gitops"
	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/testenv/githttp"
)

const gitPass = "s3cret-gitops-pass"

// envRepo is a bare environment repository served over smart HTTP with
// basic auth, and a clone beside it for playing other writers.
type envRepo struct {
	t          *testing.T
	bare, work string
	url        string
	// beforePush runs before each push reaches the server.
	mu         sync.Mutex
	beforePush func()
}

func newEnvRepo(t *testing.T) *envRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs the git command")
	}
	if _, err := os.Stat(githttp.DefaultBackend); err != nil {
		if os.Getenv("SLIPWAY_E2E") == "1" {
			t.Fatalf("SLIPWAY_E2E=1 needs git-http-backend: %v", err)
		}
		t.Skip("needs git-http-backend")
	}
	root := t.TempDir()
	e := &envRepo{t: t, bare: filepath.Join(root, "env.git"), work: filepath.Join(t.TempDir(), "work")}
	e.git(root, "init", "-q", "--bare", "-b", "main", e.bare)
	e.git(root, "init", "-q", "-b", "main", e.work)
	e.git(e.work, "remote", "add", "origin", e.bare)
	e.git(e.work, "config", "user.name", "Bob")
	e.git(e.work, "config", "user.email", "bob@example.com")
	e.write("kustomization.yaml", "resources: []\n") // someone else's file
	srv := &githttp.Server{Root: root, User: "slipway", Pass: gitPass}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			e.mu.Lock()
			if e.beforePush != nil {
				e.beforePush()
			}
			e.mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	e.url = hs.URL + "/env.git"
	t.Setenv(gitremote.EnvGitUsername, "slipway")
	t.Setenv(gitremote.EnvGitPassword, gitPass)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	return e
}

func (e *envRepo) git(dir string, args ...string) string {
	e.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// write commits a file as another writer and pushes it to the bare
// repository directly.
func (e *envRepo) write(name, content string) {
	e.t.Helper()
	if e.git(e.bare, "for-each-ref", "refs/heads/main") != "" {
		e.git(e.work, "pull", "-q", "--ff-only", "origin", "main")
	}
	path := filepath.Join(e.work, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.git(e.work, "add", name)
	e.git(e.work, "commit", "-q", "-m", "edit "+name)
	e.git(e.work, "push", "-q", "origin", "HEAD:main")
}

func (e *envRepo) head() string { return e.git(e.bare, "rev-parse", "main") }

// gitOpsFixture is the fixture with dev a GitOps environment of e, in
// the directory envs/dev of branch main.
func gitOpsFixture(t *testing.T) (*fixture, *envRepo) {
	f := newFixture(t)
	e := newEnvRepo(t)
	for i := range f.p.Environments {
		if f.p.Environments[i].Name == "dev" {
			f.p.Environments[i].GitOps = &config.GitOps{Repo: e.url, Branch: "main", Path: "envs/dev", Engine: "none"}
		}
	}
	return f, e
}

// TestDeployGitOpsCommits deploys to a GitOps environment with --no-wait:
// the commit holds exactly what a direct deploy applies, with trailers; a
// re-run commits nothing; without --no-wait the deploy is refused.
func TestDeployGitOpsCommits(t *testing.T) {
	f, e := gitOpsFixture(t)
	digest := f.push("dev", "1.2.3")
	r := f.runner()
	ctx := context.Background()
	o := DeployOptions{Options: f.options(), NoWait: true, Reason: "ship it"}
	dry, err := r.DryRun(ctx, "dev", o)
	if err != nil {
		t.Fatal(err)
	}
	before := e.head()
	res, err := r.Deploy(ctx, "dev", o)
	if err != nil {
		t.Fatalf("Deploy = %v", err)
	}
	g := res.GitOps
	if g == nil || !g.Changed || g.Outcome != Committed || g.Commit != e.head() || g.Digest != digest || g.Version != "1.2.3" || g.Path != "envs/dev" {
		t.Fatalf("GitOps = %+v, want a commit of %s at the head %s", g, digest, e.head())
	}
	if got := e.git(e.bare, "show", "main:envs/dev/hello.yaml"); got != strings.TrimSpace(string(dry.Manifests)) {
		t.Errorf("the committed file differs from the dry run's manifests:\n%s\n---\n%s", got, dry.Manifests)
	}
	if got := e.git(e.bare, "show", "main:kustomization.yaml"); got != "resources: []" {
		t.Errorf("someone else's file was changed: %q", got)
	}
	if parent := e.git(e.bare, "rev-parse", "main^"); parent != before {
		t.Errorf("the commit's parent is %s, want the head before, %s", parent, before)
	}
	msg := e.git(e.bare, "log", "-1", "--format=%B", "main")
	tr := gitops.ParseTrailers(msg)
	want := gitops.Trailers{App: "hello", Env: "dev", Version: "1.2.3", Digest: digest, SourceCommit: head.Commit, By: "alice", Reason: "ship it"}
	if tr != want {
		t.Errorf("trailers = %+v, want %+v\n%s", tr, want, msg)
	}
	if f.connected("dev", "dev-ctx") != 0 {
		t.Error("a GitOps deploy with --no-wait connected to the cluster")
	}

	again, err := r.Deploy(ctx, "dev", o)
	if err != nil || again.GitOps == nil || again.GitOps.Changed || again.GitOps.Outcome != AlreadyCommitted || again.GitOps.Commit != g.Commit || e.head() != g.Commit {
		t.Errorf("re-run = %+v, %v; want nothing committed at %s", again.GitOps, err, g.Commit)
	}

	_, err = r.Deploy(ctx, "dev", DeployOptions{Options: f.options()})
	if !errors.Is(err, ErrNoVerdict) || Classify(err) != ClassUsage {
		t.Errorf("Deploy without --no-wait = %v, want ErrNoVerdict (usage)", err)
	}
	if rm, ok := remedy.Of(err); !ok || rm.Kind != remedy.CommitNoWait {
		t.Errorf("remedy = %v, want CommitNoWait", rm.Kind)
	}
	f.noSecret(t, gitPass)
}

// TestDeployGitOpsRaced: pushes of others landing before each of
// Slipway's is ErrRaced after one retry (exit 3); an edit of Slipway's own
// file is ErrConflict. Neither leaves a commit of Slipway's behind.
func TestDeployGitOpsRaced(t *testing.T) {
	tests := []struct {
		name, file string
		want       error
		kind       remedy.Kind
	}{
		{"raced twice", "envs/dev/other.yaml", gitops.ErrRaced, remedy.GitOpsRaced},
		{"own file edited", "envs/dev/hello.yaml", gitops.ErrConflict, remedy.GitOpsConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, e := gitOpsFixture(t)
			f.push("dev", "1.2.3")
			n := 0
			e.beforePush = func() {
				n++
				e.write(tt.file, "kind: ConfigMap # edit "+string(rune('0'+n))+"\n")
			}
			_, err := f.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options(), NoWait: true})
			if !errors.Is(err, tt.want) || Classify(err) != ClassRefused {
				t.Fatalf("Deploy = %v, want %v (refused, exit 3)", err, tt.want)
			}
			if rm, ok := remedy.Of(err); !ok || rm.Kind != tt.kind {
				t.Errorf("remedy = %v, want %v", rm.Kind, tt.kind)
			}
			if log := e.git(e.bare, "log", "--format=%an", "main"); strings.Contains(log, "slipway") {
				t.Errorf("a commit of Slipway's landed: %q", log)
			}
			if strings.Contains(err.Error(), gitPass) {
				t.Errorf("the error shows the password: %v", err)
			}
			f.noSecret(t, gitPass)
		})
	}
}

// noSecret fails when any progress event shows secret.
func (f *fixture) noSecret(t *testing.T, secret string) {
	t.Helper()
	for _, ev := range f.events.Events() {
		if strings.Contains(ev.Msg, secret) {
			t.Errorf("an event shows the password: %q", ev.Msg)
		}
	}
}

// TestGitOpsPullSecretRefused: a registry with pullSecret would put its
// password in the environment repository; the deploy is refused and
// nothing is committed.
func TestGitOpsPullSecretRefused(t *testing.T) {
	f, e := gitOpsFixture(t)
	f.push("dev", "1.2.3")
	for i := range f.p.Registries {
		if f.p.Registries[i].Name == "dev" {
			f.p.Registries[i].PullSecret = true
		}
	}
	user, pass := config.RegistryEnvVars("dev")
	t.Setenv(user, "puller")
	t.Setenv(pass, "registry-pass-77")
	before := e.head()
	_, err := f.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options(), NoWait: true})
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "pullSecret") || strings.Contains(err.Error(), "registry-pass-77") {
		t.Fatalf("Deploy = %v, want a refusal naming pullSecret", err)
	}
	if e.head() != before {
		t.Error("a commit landed")
	}
}

// TestGitOpsStatus: status of a GitOps environment reads the repository's
// head and the trailers of the last commit of the app's file.
func TestGitOpsStatus(t *testing.T) {
	f, e := gitOpsFixture(t)
	digest := f.push("dev", "1.2.3")
	r := f.runner()
	ctx := context.Background()
	res, err := r.Deploy(ctx, "dev", DeployOptions{Options: f.options(), NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	e.write("envs/dev/other.yaml", "kind: ConfigMap\n") // a later commit of another file
	st, err := r.Status(ctx, []string{"dev"}, StatusOptions{Options: f.options()})
	if err != nil {
		t.Fatal(err)
	}
	g := st[0].GitOps
	if g == nil || g.Head != e.head() || g.Commit != res.GitOps.Commit || g.Version != "1.2.3" || g.Digest != digest || g.By != "alice" || g.Error != "" {
		t.Errorf("GitOps status = %+v, want head %s and commit %s of %s", g, e.head(), res.GitOps.Commit, digest)
	}
	if st[0].GitOps.Repo != e.url {
		t.Errorf("repo = %q", st[0].GitOps.Repo)
	}
}

// TestNoWaitNeedsGitOps: --no-wait on a direct environment is refused
// rather than ignored, before anything is deployed.
func TestNoWaitNeedsGitOps(t *testing.T) {
	f := newFixture(t)
	f.push("dev", "1.2.3")
	_, err := f.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options(), NoWait: true})
	if rm, ok := remedy.Of(err); !errors.Is(err, config.ErrInvalid) || !ok || rm.Kind != remedy.DropNoWait {
		t.Errorf("Deploy = %v, want --no-wait refused for a direct environment", err)
	}
	if n := f.connected("dev", "dev-ctx"); n != 0 {
		t.Errorf("connected %d times, want none", n)
	}
	// As the deploy command runs it: refused before building anything.
	ran, err := f.runner().DeployGoal(context.Background(), "showcase", DeployOptions{Options: f.options(), NoWait: true})
	if rm, ok := remedy.Of(err); !ok || rm.Kind != remedy.DropNoWait || len(ran.Steps) != 0 {
		t.Errorf("DeployGoal = %+v, %v; want DropNoWait before any step", ran.Steps, err)
	}
}
