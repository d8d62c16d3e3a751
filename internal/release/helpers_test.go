package release

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
)

// epoch is the time of the first commit of every test repository; each
// further commit is a minute later.
var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// testRepo builds a git repository in a temporary directory.
type testRepo struct {
	t   *testing.T
	dir string
	git *git.Repository
	wt  *git.Worktree
	n   int
}

func newTestRepo(t *testing.T) *testRepo {
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
	return &testRepo{t: t, dir: dir, git: r, wt: wt}
}

// write writes files (path -> content) into the working tree.
func (tr *testRepo) write(files map[string]string) {
	tr.t.Helper()
	for p, content := range files {
		full := filepath.Join(tr.dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tr.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			tr.t.Fatal(err)
		}
	}
}

// sig returns the signature of the next commit or tag.
func (tr *testRepo) sig() *object.Signature {
	tr.n++
	return &object.Signature{Name: "Test", Email: "test@example.com", When: epoch.Add(time.Duration(tr.n) * time.Minute)}
}

// commit writes files and commits them with msg. Without files it changes
// log.txt so that every commit changes something.
func (tr *testRepo) commit(msg string, files map[string]string, parents ...plumbing.Hash) plumbing.Hash {
	tr.t.Helper()
	if len(files) == 0 {
		old, _ := os.ReadFile(filepath.Join(tr.dir, "log.txt"))
		files = map[string]string{"log.txt": string(old) + msg + "\n"}
	}
	tr.write(files)
	for p := range files {
		if _, err := tr.wt.Add(p); err != nil {
			tr.t.Fatal(err)
		}
	}
	opts := &git.CommitOptions{Author: tr.sig(), AllowEmptyCommits: true}
	if len(parents) > 0 {
		opts.Parents = append([]plumbing.Hash{tr.head()}, parents...)
	}
	h, err := tr.wt.Commit(msg, opts)
	if err != nil {
		tr.t.Fatal(err)
	}
	return h
}

// linearHistory stores n commits, each holding one file with content(i),
// as a single packfile, without touching the working tree or any reference.
// It is much faster than commit for long histories.
func (tr *testRepo) linearHistory(n int, file string, content func(int) string) []plumbing.Hash {
	tr.t.Helper()
	mem := memory.NewStorage()
	store := func(o interface {
		Encode(plumbing.EncodedObject) error
	}) plumbing.Hash {
		obj := mem.NewEncodedObject()
		if err := o.Encode(obj); err != nil {
			tr.t.Fatal(err)
		}
		h, err := mem.SetEncodedObject(obj)
		if err != nil {
			tr.t.Fatal(err)
		}
		return h
	}
	var hs []plumbing.Hash
	for i := range n {
		blob := mem.NewEncodedObject()
		blob.SetType(plumbing.BlobObject)
		w, _ := blob.Writer()
		_, _ = w.Write([]byte(content(i)))
		_ = w.Close()
		bh, _ := mem.SetEncodedObject(blob)
		th := store(&object.Tree{Entries: []object.TreeEntry{{Name: file, Mode: filemode.Regular, Hash: bh}}})
		c := &object.Commit{Author: *tr.sig(), Message: "chore: step " + strconv.Itoa(i), TreeHash: th}
		c.Committer = c.Author
		if i > 0 {
			c.ParentHashes = []plumbing.Hash{hs[i-1]}
		}
		hs = append(hs, store(c))
	}
	var all []plumbing.Hash
	for h := range mem.Objects {
		all = append(all, h)
	}
	pw, err := tr.git.Storer.(storer.PackfileWriter).PackfileWriter()
	if err != nil {
		tr.t.Fatal(err)
	}
	if _, err := packfile.NewEncoder(pw, mem, false).Encode(all, 10); err != nil {
		tr.t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		tr.t.Fatal(err)
	}
	return hs
}

// setHead points the current branch at h.
func (tr *testRepo) setHead(h plumbing.Hash) {
	tr.t.Helper()
	head, err := tr.git.Storer.Reference(plumbing.HEAD)
	if err != nil {
		tr.t.Fatal(err)
	}
	if err := tr.git.Storer.SetReference(plumbing.NewHashReference(head.Target(), h)); err != nil {
		tr.t.Fatal(err)
	}
}

// head returns the commit HEAD points at.
func (tr *testRepo) head() plumbing.Hash {
	tr.t.Helper()
	ref, err := tr.git.Head()
	if err != nil {
		tr.t.Fatal(err)
	}
	return ref.Hash()
}

// lightweight creates a lightweight tag.
func (tr *testRepo) lightweight(name string, h plumbing.Hash) {
	tr.t.Helper()
	if _, err := tr.git.CreateTag(name, h, nil); err != nil {
		tr.t.Fatal(err)
	}
}

// annotated creates an annotated tag.
func (tr *testRepo) annotated(name string, h plumbing.Hash) {
	tr.t.Helper()
	if _, err := tr.git.CreateTag(name, h, &git.CreateTagOptions{Tagger: tr.sig(), Message: "release " + name}); err != nil {
		tr.t.Fatal(err)
	}
}

// branch creates a branch at HEAD and checks it out.
func (tr *testRepo) branch(name string) {
	tr.t.Helper()
	if err := tr.wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(name), Create: true}); err != nil {
		tr.t.Fatal(err)
	}
}

// checkout checks out an existing branch.
func (tr *testRepo) checkout(name string) {
	tr.t.Helper()
	if err := tr.wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(name)}); err != nil {
		tr.t.Fatal(err)
	}
}

// detach checks out a commit, detaching HEAD.
func (tr *testRepo) detach(h plumbing.Hash) {
	tr.t.Helper()
	if err := tr.wt.Checkout(&git.CheckoutOptions{Hash: h}); err != nil {
		tr.t.Fatal(err)
	}
}

// open opens the repository with the package's Open.
func (tr *testRepo) open() *Repo {
	tr.t.Helper()
	r, err := Open(tr.dir)
	if err != nil {
		tr.t.Fatal(err)
	}
	return r
}

// tags lists the local tag names.
func (tr *testRepo) tags() []string {
	tr.t.Helper()
	return refNames(tr.t, tr.git, "refs/tags/")
}

// refNames lists the references of r under prefix.
func refNames(t *testing.T, r *git.Repository, prefix string) []string {
	t.Helper()
	iter, err := r.References()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	_ = iter.ForEach(func(ref *plumbing.Reference) error {
		if n := ref.Name().String(); len(n) > len(prefix) && n[:len(prefix)] == prefix {
			names = append(names, n[len(prefix):])
		}
		return nil
	})
	return names
}

// isolateGitConfig points HOME and XDG_CONFIG_HOME at an empty directory and
// clears the committer variables, so that no real git config leaks in.
func isolateGitConfig(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	t.Setenv("GIT_COMMITTER_NAME", "")
	t.Setenv("GIT_COMMITTER_EMAIL", "")
	return home
}

// names returns the names of tags.
func names(tags []TagInfo) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		out = append(out, t.Name)
	}
	return out
}
