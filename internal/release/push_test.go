package release

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"

	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/testutil"
)

func TestMain(m *testing.M) {
	// go-git pushes to local repositories through git-receive-pack; without
	// git installed, serve them in process instead.
	if _, err := exec.LookPath("git"); err != nil {
		client.InstallProtocol("file", server.DefaultServer)
	}
	m.Run()
}

// bareRemote creates an empty bare repository and adds it to tr as remote
// name with a file:// URL.
func bareRemote(t *testing.T, tr *testRepo, name string) (string, *git.Repository) {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Git.CreateRemote(&config.RemoteConfig{Name: name, URLs: []string{"file://" + filepath.ToSlash(dir)}}); err != nil {
		t.Fatal(err)
	}
	return dir, r
}

func TestPushTag(t *testing.T) {
	testutil.IsolateGitConfig(t)
	tr := newTestRepo(t)
	tr.Commit("feat: a", nil)
	_, remote := bareRemote(t, tr, "origin")
	r := tr.open()
	head, _ := r.Head()
	if err := r.CreateTag("v1.0.0", head, "Release v1.0.0", Signature{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.PushTag(ctx, "origin", "v1.0.0", gitremote.Auth{}); err != nil {
		t.Fatalf("PushTag: %v", err)
	}
	if got := refNames(t, remote, "refs/tags/"); len(got) != 1 || got[0] != "v1.0.0" {
		t.Errorf("remote tags = %q, want [v1.0.0]", got)
	}
	if got := refNames(t, remote, "refs/heads/"); len(got) != 0 {
		t.Errorf("remote branches = %q, want none", got)
	}
	ref, _ := remote.Tag("v1.0.0")
	if obj, err := remote.TagObject(ref.Hash()); err != nil || obj.Target.String() != head.Hash {
		t.Errorf("remote tag object = %v, %v", obj, err)
	}

	// Pushing again is a no-op, and "" means origin.
	if err := r.PushTag(ctx, "", "v1.0.0", gitremote.Auth{}); err != nil {
		t.Errorf("second PushTag: %v", err)
	}
	if err := r.PushTag(ctx, "origin", "v9.9.9", gitremote.Auth{}); err == nil {
		t.Error("PushTag of a tag that does not exist: no error")
	}
	if err := r.PushTag(ctx, "upstream", "v1.0.0", gitremote.Auth{}); err == nil || !strings.Contains(err.Error(), "git remote add upstream") {
		t.Errorf("PushTag to an unknown remote: error %v", err)
	}

	// A path works as a remote too.
	other := t.TempDir()
	if _, err := git.PlainInit(other, true); err != nil {
		t.Fatal(err)
	}
	if err := r.PushTag(ctx, other, "v1.0.0", gitremote.Auth{}); err != nil {
		t.Errorf("PushTag to a path: %v", err)
	}
}

func TestPushTagConflict(t *testing.T) {
	testutil.IsolateGitConfig(t)
	tr := newTestRepo(t)
	tr.Commit("feat: a", nil)
	dir, _ := bareRemote(t, tr, "origin")

	// Someone else releases v1.0.0 from another commit first.
	other := newTestRepo(t)
	other.Commit("feat: theirs", nil)
	other.annotated("v1.0.0", other.Head())
	if _, err := other.Git.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{dir}}); err != nil {
		t.Fatal(err)
	}
	if err := other.open().PushTag(context.Background(), "origin", "v1.0.0", gitremote.Auth{}); err != nil {
		t.Fatal(err)
	}

	r := tr.open()
	head, _ := r.Head()
	if err := r.CreateTag("v1.0.0", head, "", Signature{}); err != nil {
		t.Fatal(err)
	}
	err := r.PushTag(context.Background(), "origin", "v1.0.0", gitremote.Auth{})
	if !errors.Is(err, ErrTagExists) || !strings.Contains(err.Error(), "git fetch --tags") {
		t.Errorf("PushTag over someone else's tag: error %v, want ErrTagExists", err)
	}
}

func TestPushTagAuthFailure(t *testing.T) {
	const token = "s3cr3t-t0ken"
	// A remote that takes none of the credentials tried.
	srv := httptest.NewServer(testutil.BasicAuth("alice", "right")(http.NotFoundHandler()))
	defer srv.Close()

	tr := newTestRepo(t)
	tr.Commit("feat: a", nil)
	r := tr.open()
	head, _ := r.Head()
	if err := r.CreateTag("v1.0.0", head, "", Signature{Name: "a", Email: "b"}); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL + "/org/repo.git")
	u.User = url.UserPassword("bob", "url-p4ssword")
	if _, err := tr.Git.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{u.String()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Git.CreateRemote(&config.RemoteConfig{Name: "plain", URLs: []string{srv.URL + "/org/repo.git"}}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{gitremote.EnvGitToken: token}
	auth := gitremote.Auth{Getenv: func(k string) string { return env[k] }}

	for _, remote := range []string{"origin", "plain"} {
		err := r.PushTag(context.Background(), remote, "v1.0.0", auth)
		if !errors.Is(err, gitremote.ErrAuth) {
			t.Fatalf("PushTag to %s with bad credentials: error %v, want ErrAuth", remote, err)
		}
		msg := err.Error()
		for _, secret := range []string{token, "url-p4ssword", "bob@"} {
			if strings.Contains(msg, secret) {
				t.Errorf("error shows %q: %s", secret, msg)
			}
		}
		if !strings.Contains(msg, srv.URL+"/org/repo.git") || !strings.Contains(msg, gitremote.EnvGitToken) {
			t.Errorf("error does not name the remote URL and what to set: %s", msg)
		}
	}
}

func TestClassifyPushErrors(t *testing.T) {
	tests := []struct {
		err            string
		auth, rejected bool
	}{
		{"ssh: handshake failed: ssh: unable to authenticate, attempted methods [none publickey]", true, false},
		{"git@github.com: Permission denied (publickey).", true, false},
		{"non-fast-forward update: refs/tags/v1.0.0", false, true},
		{"failed to update refs/tags/v1.0.0: reference already exists", false, true},
		{"failed to update refs/tags/v1.0.0: cannot lock ref 'refs/tags/v1.0.0'", false, true},
		{"failed to update refs/tags/v1.0.0: pre-receive hook declined", false, false},
		{"dial tcp: connection refused", false, false},
	}
	for _, tt := range tests {
		err := errors.New(tt.err)
		if got := gitremote.IsAuthError(err); got != tt.auth {
			t.Errorf("IsAuthError(%q) = %v", tt.err, got)
		}
		if got := isRejected(err); got != tt.rejected {
			t.Errorf("isRejected(%q) = %v", tt.err, got)
		}
	}
	if !gitremote.IsAuthError(fmt.Errorf("x: %w", transport.ErrAuthorizationFailed)) {
		t.Error("IsAuthError(ErrAuthorizationFailed) = false")
	}
}

func TestSourceURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"git@github.com:acme/hello.git", "https://github.com/acme/hello"},
		{"ssh://git@git.example.com:2222/acme/hello.git", "https://git.example.com/acme/hello"},
		{"https://bob:s3cret@github.com/acme/hello.git", "https://github.com/acme/hello"},
		{"https://github.com/acme/hello", "https://github.com/acme/hello"},
		{"file:///srv/git/hello.git", ""},
		{"../remote.git", ""},
		{"/srv/git/hello.git", ""},
	} {
		if got := sourceURL(tc.in); got != tc.want {
			t.Errorf("sourceURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
