package testutil

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// GitEpoch is the time of the first commit of every GitRepo; each further
// commit or tag is a minute later.
var GitEpoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// GitRepo is a git repository in a temporary directory whose commits and
// tags have a fixed author and times, so that their hashes repeat.
type GitRepo struct {
	T        testing.TB
	Dir      string
	Git      *git.Repository
	Worktree *git.Worktree
	n        int
}

// NewGitRepo makes an empty repository in a new temporary directory.
func NewGitRepo(t testing.TB) *GitRepo {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	return &GitRepo{T: t, Dir: dir, Git: r, Worktree: wt}
}

// Write writes files (slash-separated path -> content) into the working
// tree.
func (r *GitRepo) Write(files map[string]string) {
	r.T.Helper()
	for p, content := range files {
		full := filepath.Join(r.Dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.T.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.T.Fatal(err)
		}
	}
}

// Signature is the author of the next commit or tag.
func (r *GitRepo) Signature() *object.Signature {
	r.n++
	return &object.Signature{Name: "Test", Email: "test@example.com", When: GitEpoch.Add(time.Duration(r.n) * time.Minute)}
}

// Commit writes files and commits them with msg; with parents, it is a
// merge of HEAD and them. Without files it changes log.txt, so that every
// commit changes something.
func (r *GitRepo) Commit(msg string, files map[string]string, parents ...plumbing.Hash) plumbing.Hash {
	r.T.Helper()
	if len(files) == 0 {
		old, _ := os.ReadFile(filepath.Join(r.Dir, "log.txt"))
		files = map[string]string{"log.txt": string(old) + msg + "\n"}
	}
	r.Write(files)
	for p := range files {
		if _, err := r.Worktree.Add(p); err != nil {
			r.T.Fatal(err)
		}
	}
	opts := &git.CommitOptions{Author: r.Signature(), AllowEmptyCommits: true}
	if len(parents) > 0 {
		opts.Parents = append([]plumbing.Hash{r.Head()}, parents...)
	}
	h, err := r.Worktree.Commit(msg, opts)
	if err != nil {
		r.T.Fatal(err)
	}
	return h
}

// Head is the commit HEAD points at.
func (r *GitRepo) Head() plumbing.Hash {
	r.T.Helper()
	ref, err := r.Git.Head()
	if err != nil {
		r.T.Fatal(err)
	}
	return ref.Hash()
}

// IsolateGitConfig points HOME and XDG_CONFIG_HOME at an empty directory
// and clears the committer variables, so that no real git config leaks
// in; it returns that HOME.
func IsolateGitConfig(t testing.TB) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_COMMITTER_NAME", "")
	t.Setenv("GIT_COMMITTER_EMAIL", "")
	return home
}
