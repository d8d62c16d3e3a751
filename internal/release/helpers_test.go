package release

import (
	"strconv"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/slipwayhq/slipway/internal/testutil"
)

// testRepo is a testutil.GitRepo with what the release tests add.
type testRepo struct {
	*testutil.GitRepo
	t *testing.T
}

func newTestRepo(t *testing.T) *testRepo {
	t.Helper()
	return &testRepo{GitRepo: testutil.NewGitRepo(t), t: t}
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
		c := &object.Commit{Author: *tr.Signature(), Message: "chore: step " + strconv.Itoa(i), TreeHash: th}
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
	pw, err := tr.Git.Storer.(storer.PackfileWriter).PackfileWriter()
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
	head, err := tr.Git.Storer.Reference(plumbing.HEAD)
	if err != nil {
		tr.t.Fatal(err)
	}
	if err := tr.Git.Storer.SetReference(plumbing.NewHashReference(head.Target(), h)); err != nil {
		tr.t.Fatal(err)
	}
}

// lightweight creates a lightweight tag.
func (tr *testRepo) lightweight(name string, h plumbing.Hash) {
	tr.t.Helper()
	if _, err := tr.Git.CreateTag(name, h, nil); err != nil {
		tr.t.Fatal(err)
	}
}

// annotated creates an annotated tag.
func (tr *testRepo) annotated(name string, h plumbing.Hash) {
	tr.t.Helper()
	if _, err := tr.Git.CreateTag(name, h, &git.CreateTagOptions{Tagger: tr.Signature(), Message: "release " + name}); err != nil {
		tr.t.Fatal(err)
	}
}

// branch creates a branch at HEAD and checks it out.
func (tr *testRepo) branch(name string) {
	tr.t.Helper()
	if err := tr.Worktree.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(name), Create: true}); err != nil {
		tr.t.Fatal(err)
	}
}

// checkout checks out an existing branch.
func (tr *testRepo) checkout(name string) {
	tr.t.Helper()
	if err := tr.Worktree.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(name)}); err != nil {
		tr.t.Fatal(err)
	}
}

// detach checks out a commit, detaching HEAD.
func (tr *testRepo) detach(h plumbing.Hash) {
	tr.t.Helper()
	if err := tr.Worktree.Checkout(&git.CheckoutOptions{Hash: h}); err != nil {
		tr.t.Fatal(err)
	}
}

// open opens the repository with the package's Open.
func (tr *testRepo) open() *Repo {
	tr.t.Helper()
	r, err := Open(tr.Dir)
	if err != nil {
		tr.t.Fatal(err)
	}
	return r
}

// tags lists the local tag names.
func (tr *testRepo) tags() []string {
	tr.t.Helper()
	return refNames(tr.t, tr.Git, "refs/tags/")
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

// names returns the names of tags.
func names(tags []TagInfo) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		out = append(out, t.Name)
	}
	return out
}
