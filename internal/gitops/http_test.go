package gitops

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/testenv/githttp"
)

// httpRemote serves a new empty bare repository over smart HTTP with
// basic auth (user slipway, password s3cret-pass) and returns its URL and
// a remote for reading it.
func httpRemote(t *testing.T) (string, *remote) {
	t.Helper()
	needGit(t)
	root := t.TempDir()
	base := githttp.Start(t, root, "slipway", "s3cret-pass")
	dir := filepath.Join(root, "env.git")
	gitIn(t, root, "init", "-q", "--bare", "-b", "main", dir)
	return base + "/env.git", &remote{t: t, dir: dir, url: "file://" + dir}
}

// basic gives user and password through SLIPWAY_GIT_USERNAME and
// SLIPWAY_GIT_PASSWORD.
func basic(user, pass string) gitremote.Auth {
	env := map[string]string{gitremote.EnvGitUsername: user, gitremote.EnvGitPassword: pass}
	return gitremote.Auth{Getenv: func(k string) string { return env[k] }, Helper: noCreds.Helper}
}

// TestOverSmartHTTP deploys through git's own smart HTTP server with basic
// auth: a first commit, then two writers racing, as over file://.
func TestOverSmartHTTP(t *testing.T) {
	url, rm := httpRemote(t)
	open := func() *Repo {
		r, err := Open(context.Background(), Options{URL: url, Path: "envs/prod", Auth: basic("slipway", "s3cret-pass")})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return r
	}
	first := mustCommitPush(t, open(), deploy("alpha", "1.0.0"))
	if rm.head("main") != first.Commit || rm.show("main", "envs/prod/alpha.yaml") == "" {
		t.Fatalf("the first push did not land: %+v", first)
	}
	a, b := open(), open()
	mustCommitPush(t, a, deploy("alpha", "1.1.0"))
	pb := mustCommitPush(t, b, deploy("beta", "1.0.0"))
	if !pb.Rebased || rm.head("main") != pb.Commit {
		t.Errorf("the second writer: %+v, remote at %s", pb, rm.head("main"))
	}
	if got := rm.log("main"); len(got) != 3 {
		t.Errorf("log = %q", got)
	}
	hist, err := open().History(context.Background(), 10, AppFile("alpha"))
	if err != nil || len(hist) != 2 || hist[0].Trailers.Version != "1.1.0" {
		t.Errorf("History = %+v, %v", hist, err)
	}
}

// TestCredentialsNeverShow: a URL with credentials is refused without
// showing them, and refused credentials are named by where they come
// from, never by value.
func TestCredentialsNeverShow(t *testing.T) {
	for _, u := range []string{
		"https://ann:hunter2-secret@git.example.com/env.git",
		"https://hunter2-secret@git.example.com/env.git",
		"http://x-access-token:hunter2-secret@127.0.0.1:1/env.git",
		"ssh://git:hunter2-secret@git.example.com/env.git",
	} {
		_, err := Open(context.Background(), Options{URL: u, Auth: noCreds})
		if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), gitremote.EnvGitToken) {
			t.Errorf("Open(%s) = %v, want ErrInvalid without the secret", gitremote.RedactURL(u), err)
		}
	}
	for _, u := range []string{"ssh://git@git.example.com/env.git", "git@git.example.com:team/env.git"} {
		if err := checkURL(u); err != nil {
			t.Errorf("checkURL(%s) = %v; an ssh user is no credential", u, err)
		}
	}

	url, _ := httpRemote(t)
	for name, auth := range map[string]gitremote.Auth{
		"wrong password": basic("slipway", "hunter2-secret"),
		"none":           noCreds,
	} {
		_, err := Open(context.Background(), Options{URL: url, Auth: auth})
		if !errors.Is(err, gitremote.ErrAuth) {
			t.Fatalf("%s: Open = %v, want ErrAuth", name, err)
		}
		if msg := err.Error(); strings.Contains(msg, "hunter2") || !strings.Contains(msg, gitremote.EnvGitToken) || !strings.Contains(msg, url) {
			t.Errorf("%s: the error shows a secret or says nothing useful: %s", name, msg)
		}
	}
}
