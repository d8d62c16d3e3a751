package gitops

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/progress"
)

// epoch is the time of every commit Slipway makes in these tests.
var epoch = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// needGit skips a test without the git command, which serves file://
// remotes to go-git and plays the other writers here.
func needGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs the git command")
	}
}

// gitIn runs git in dir with no user or system configuration and returns
// its output.
func gitIn(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitRun(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func gitRun(t testing.TB, dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=Someone Else", "GIT_AUTHOR_EMAIL=else@example.test",
		"GIT_COMMITTER_NAME=Someone Else", "GIT_COMMITTER_EMAIL=else@example.test")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// remote is a bare repository that Slipway and other writers push to.
type remote struct {
	t   testing.TB
	dir string
	url string
}

// newRemote makes an empty bare repository served over file://.
func newRemote(t testing.TB) *remote {
	t.Helper()
	needGit(t)
	dir := filepath.Join(t.TempDir(), "env.git")
	gitIn(t, filepath.Dir(dir), "init", "-q", "--bare", "-b", "main", dir)
	return &remote{t: t, dir: dir, url: "file://" + dir}
}

// commit is another writer's commit on branch: files written (a "" content
// removes the file), then pushed. It returns the commit's hash.
func (rm *remote) commit(branch, msg string, files map[string]string) string {
	rm.t.Helper()
	work := rm.t.TempDir()
	gitIn(rm.t, work, "init", "-q")
	if _, err := gitRun(rm.t, work, "fetch", "-q", rm.url, branch); err == nil {
		gitIn(rm.t, work, "checkout", "-q", "-B", branch, "FETCH_HEAD")
	} else {
		gitIn(rm.t, work, "checkout", "-q", "--orphan", branch)
	}
	for p, content := range files {
		full := filepath.Join(work, filepath.FromSlash(p))
		if content == "" {
			gitIn(rm.t, work, "rm", "-q", p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			rm.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			rm.t.Fatal(err)
		}
		gitIn(rm.t, work, "add", p)
	}
	gitIn(rm.t, work, "commit", "-q", "--allow-empty", "-m", msg)
	gitIn(rm.t, work, "push", "-q", rm.url, "HEAD:refs/heads/"+branch)
	return gitIn(rm.t, work, "rev-parse", "HEAD")
}

// show is the content of path on branch, "" when it is not there.
func (rm *remote) show(branch, path string) string {
	rm.t.Helper()
	out, err := gitRun(rm.t, rm.dir, "show", branch+":"+path)
	if err != nil {
		return ""
	}
	return out
}

// head is the commit branch is at, "" when there is none.
func (rm *remote) head(branch string) string {
	out, err := gitRun(rm.t, rm.dir, "rev-parse", "--verify", "-q", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// log lists the subjects on branch, newest first.
func (rm *remote) log(branch string) []string {
	rm.t.Helper()
	return strings.Split(gitIn(rm.t, rm.dir, "log", "--format=%s", branch), "\n")
}

// message is the whole message of commit.
func (rm *remote) message(commit string) string {
	rm.t.Helper()
	return gitIn(rm.t, rm.dir, "log", "-1", "--format=%B", commit)
}

// open opens branch and path of rm as Slipway does, with a fixed clock.
func (rm *remote) open(branch, path string, mods ...func(*Options)) *Repo {
	rm.t.Helper()
	r, err := rm.tryOpen(branch, path, mods...)
	if err != nil {
		rm.t.Fatalf("Open: %v", err)
	}
	return r
}

func (rm *remote) tryOpen(branch, path string, mods ...func(*Options)) (*Repo, error) {
	opt := Options{URL: rm.url, Branch: branch, Path: path, Now: func() time.Time { return epoch }, Progress: progress.Discard}
	for _, m := range mods {
		m(&opt)
	}
	return Open(context.Background(), opt)
}

// deploy is the change a deploy of app at version makes.
func deploy(app, version string) Change {
	return Change{
		Files:    map[string][]byte{AppFile(app): []byte("app: " + app + "\nversion: " + version + "\n")},
		Message:  "deploy " + app + " " + version,
		Trailers: Trailers{App: app, Env: "prod", Version: version, Digest: aDigest, By: "ci", Reason: "release " + version},
	}
}

// mustCommitPush commits ch on r and pushes it.
func mustCommitPush(t testing.TB, r *Repo, ch Change) Pushed {
	t.Helper()
	ctx := context.Background()
	if _, err := r.Commit(ctx, ch); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	p, err := r.Push(ctx)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return p
}
