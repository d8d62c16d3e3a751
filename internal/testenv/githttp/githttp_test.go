package githttp_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttpauth "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/slipwayhq/slipway/internal/testenv/githttp"
)

// gitCmd runs the git command line in dir with no user or system
// configuration and no prompts, and returns its combined output.
func gitCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"HOME="+t.TempDir(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitCmd(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// bareRepo makes root/NAME.git, empty, with main as its HEAD.
func bareRepo(t *testing.T, root, name string) {
	t.Helper()
	mustGit(t, root, "init", "-q", "--bare", "-b", "main", name+".git")
}

func withCreds(base, user, pass string) string {
	return strings.Replace(base, "http://", "http://"+user+":"+pass+"@", 1)
}

// TestPushAndFetch pushes with go-git (as Slipway does) and the git command
// line, and fetches with both, through basic auth; a fetch without or with
// wrong credentials is refused, and so is any push to a server without a
// user.
func TestPushAndFetch(t *testing.T) {
	root := t.TempDir()
	base := githttp.Start(t, root, "slipway", "s3cret")
	bareRepo(t, root, "env")

	// go-git push of a first commit.
	work := t.TempDir()
	r, err := git.PlainInitWithOptions(work, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "a.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, _ := r.Worktree()
	if _, err := wt.Add("a.yaml"); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "t", Email: "t@example.test", When: time.Unix(1700000000, 0)}
	first, err := wt.Commit("first", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{base + "/env.git"}}); err != nil {
		t.Fatal(err)
	}
	err = r.Push(&git.PushOptions{RemoteName: "origin", Auth: &githttpauth.BasicAuth{Username: "slipway", Password: "s3cret"}})
	if err != nil {
		t.Fatalf("go-git push: %v", err)
	}

	// git CLI clone sees it; push a second commit.
	clone := filepath.Join(t.TempDir(), "c")
	mustGit(t, "/", "clone", "-q", withCreds(base, "slipway", "s3cret")+"/env.git", clone)
	if head := strings.TrimSpace(mustGit(t, clone, "rev-parse", "HEAD")); head != first.String() {
		t.Fatalf("cloned HEAD %s, want %s", head, first)
	}
	mustGit(t, clone, "commit", "-q", "--allow-empty", "-m", "second")
	mustGit(t, clone, "push", "-q", "origin", "main")
	second := strings.TrimSpace(mustGit(t, clone, "rev-parse", "HEAD"))

	// go-git fetch sees the CLI's commit.
	if err := r.Fetch(&git.FetchOptions{Auth: &githttpauth.BasicAuth{Username: "slipway", Password: "s3cret"}}); err != nil {
		t.Fatalf("go-git fetch: %v", err)
	}
	ref, err := r.Reference("refs/remotes/origin/main", true)
	if err != nil || ref.Hash().String() != second {
		t.Fatalf("origin/main after fetch = %v (%v), want %s", ref, err, second)
	}

	for _, tc := range []struct{ name, url string }{
		{"no credentials", base + "/env.git"},
		{"wrong password", withCreds(base, "slipway", "wrong") + "/env.git"},
		{"wrong user", withCreds(base, "other", "s3cret") + "/env.git"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := gitCmd(t, "/", "ls-remote", tc.url)
			if err == nil || !strings.Contains(out, "Authentication failed") && !strings.Contains(out, "401") &&
				!strings.Contains(out, "could not read Username") {
				t.Fatalf("ls-remote %s: err %v, output:\n%s", tc.name, err, out)
			}
		})
	}

	// A server without a user serves fetches to anyone and no pushes.
	anon := githttp.Start(t, root, "", "")
	mustGit(t, "/", "ls-remote", anon+"/env.git")
	mustGit(t, clone, "commit", "-q", "--allow-empty", "-m", "third")
	if out, err := gitCmd(t, clone, "push", anon+"/env.git", "main"); err == nil {
		t.Fatalf("anonymous push succeeded:\n%s", out)
	}
}

// TestRefusals checks what never reaches git-http-backend: paths outside a
// top-level NAME.git's smart-HTTP endpoints, and unauthenticated requests.
func TestRefusals(t *testing.T) {
	root := t.TempDir()
	bareRepo(t, root, "env")
	srv := httptest.NewServer(&githttp.Server{Root: root, User: "u", Pass: "p", Backend: "/nonexistent"})
	defer srv.Close()
	for _, tc := range []struct {
		name, path string
		auth       bool
		want       int
	}{
		{"no auth", "/env.git/info/refs?service=git-upload-pack", false, http.StatusUnauthorized},
		{"no auth, bad path", "/../etc/passwd", false, http.StatusUnauthorized},
		{"dot-dot", "/../env.git/info/refs", true, http.StatusNotFound},
		{"nested", "/a/env.git/info/refs", true, http.StatusNotFound},
		{"hidden name", "/.env.git/info/refs", true, http.StatusNotFound},
		{"dumb protocol", "/env.git/HEAD", true, http.StatusNotFound},
		{"objects", "/env.git/objects/info/packs", true, http.StatusNotFound},
		{"config", "/env.git/config", true, http.StatusNotFound},
		// Passes the checks, so reaches the (missing) backend.
		{"allowed", "/env.git/info/refs?service=git-upload-pack", true, http.StatusInternalServerError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
			req.URL.Opaque = "//" + req.URL.Host + strings.SplitN(tc.path, "?", 2)[0] // keep the dots unresolved
			if tc.auth {
				req.SetBasicAuth("u", "p")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
		})
	}
}

// TestBackendEnv runs a stand-in backend that prints its environment:
// REMOTE_USER is set only for an authenticated user, the credentials never
// reach the backend, and a chunked body arrives with its length.
func TestBackendEnv(t *testing.T) {
	dir := t.TempDir()
	backend := filepath.Join(dir, "backend")
	script := "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\nenv\necho BODY=$(cat)\n"
	if err := os.WriteFile(backend, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	get := func(t *testing.T, s *githttp.Server, body string, chunked bool) (int, string) {
		t.Helper()
		srv := httptest.NewServer(s)
		defer srv.Close()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/env.git/git-receive-pack", strings.NewReader(body))
		if chunked {
			req.ContentLength = -1
			req.Body = io.NopCloser(strings.NewReader(body))
		}
		req.SetBasicAuth("slipway", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, resp.Body)
		return resp.StatusCode, b.String()
	}

	t.Run("authenticated", func(t *testing.T) {
		code, out := get(t, &githttp.Server{Root: dir, User: "slipway", Pass: "s3cret", Backend: backend}, "hello", true)
		if code != http.StatusOK {
			t.Fatalf("status %d:\n%s", code, out)
		}
		for _, want := range []string{"REMOTE_USER=slipway\n", "CONTENT_LENGTH=5\n", "BODY=hello\n", "GIT_PROJECT_ROOT=" + dir + "\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("backend env lacks %q:\n%s", want, out)
			}
		}
		for _, bad := range []string{"s3cret", "HTTP_AUTHORIZATION", "c2xpcHdheTpzM2NyZXQ"} {
			if strings.Contains(out, bad) {
				t.Errorf("backend env holds %q:\n%s", bad, out)
			}
		}
	})
	t.Run("anonymous server", func(t *testing.T) {
		code, out := get(t, &githttp.Server{Root: dir, Backend: backend}, "x", false)
		if code != http.StatusOK || strings.Contains(out, "REMOTE_USER") {
			t.Fatalf("status %d, REMOTE_USER set or request refused:\n%s", code, out)
		}
	})
	t.Run("body too large", func(t *testing.T) {
		s := &githttp.Server{Root: dir, User: "slipway", Pass: "s3cret", Backend: backend, MaxBody: 4}
		if code, out := get(t, s, "hello", true); code != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked: status %d, want 413:\n%s", code, out)
		}
		if _, out := get(t, s, "hello", false); strings.Contains(out, "BODY=hello") {
			t.Fatalf("sized: the backend read the whole oversized body:\n%s", out)
		}
	})
}

func TestListenRefusesAllButLoopback(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "localhost:0", "[::1]:0", "127.0.0.2:0", "127.0.0.1"} {
		if ln, err := githttp.Listen(addr); !errors.Is(err, githttp.ErrNotLoopback) {
			if ln != nil {
				ln.Close()
			}
			t.Errorf("Listen(%q) = %v, want ErrNotLoopback", addr, err)
		}
	}
	ln, err := githttp.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}
