package gitops

import (
	"context"
	"errors"
	"fmt"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/slipwayhq/slipway/internal/gitremote"
)

// writeTree stores a tree of entries, their names unchecked, in repo.
func writeTree(t *testing.T, repo *git.Repository, entries []object.TreeEntry) plumbing.Hash {
	t.Helper()
	obj := repo.Storer.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// writeBlob stores s in repo.
func writeBlob(t *testing.T, repo *git.Repository, s string) plumbing.Hash {
	t.Helper()
	h, err := repo.Storer.SetEncodedObject(blob([]byte(s)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// commitTree makes a commit of root on parent and points main at it.
func commitTree(t *testing.T, repo *git.Repository, parent, root plumbing.Hash, msg string) string {
	t.Helper()
	sig := object.Signature{Name: "Someone", Email: "s@example.test", When: epoch}
	c := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: root, ParentHashes: []plumbing.Hash{parent}}
	obj := repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		t.Fatal(err)
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference("refs/heads/main", h)); err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// TestTreeEntryNamesStayParts: a commit whose envs/prod tree holds an entry
// named ".." (git takes it unless the server checks objects) holding
// dev/api.yaml: a revert of every file under envs/prod refuses it, rather
// than undo envs/dev/api.yaml; a revert of the app's file alone goes on.
func TestTreeEntryNamesStayParts(t *testing.T) {
	rm := newRemote(t)
	p := rm.commit("main", "setup", map[string]string{"envs/prod/hello.yaml": "v0", "envs/dev/api.yaml": "dev api"})
	repo, err := git.PlainOpen(rm.dir)
	if err != nil {
		t.Fatal(err)
	}
	parent, err := repo.CommitObject(plumbing.NewHash(p))
	if err != nil {
		t.Fatal(err)
	}
	root, _ := repo.TreeObject(parent.TreeHash)
	dev, err := root.Tree("envs/dev")
	if err != nil {
		t.Fatal(err)
	}
	decoy := writeTree(t, repo, []object.TreeEntry{{Name: "api.yaml", Mode: filemode.Regular, Hash: writeBlob(t, repo, "decoy")}})
	dotdot := writeTree(t, repo, []object.TreeEntry{{Name: "dev", Mode: filemode.Dir, Hash: decoy}})
	prod := writeTree(t, repo, []object.TreeEntry{
		{Name: "..", Mode: filemode.Dir, Hash: dotdot},
		{Name: "hello.yaml", Mode: filemode.Regular, Hash: writeBlob(t, repo, "v1")},
	})
	envs := writeTree(t, repo, []object.TreeEntry{{Name: "dev", Mode: filemode.Dir, Hash: dev.Hash}, {Name: "prod", Mode: filemode.Dir, Hash: prod}})
	x := commitTree(t, repo, parent.Hash, writeTree(t, repo, []object.TreeEntry{{Name: "envs", Mode: filemode.Dir, Hash: envs}}),
		"deploy hello\n\nSlipway-Digest: "+aDigest+"\n")

	ctx := context.Background()
	if _, err := rm.open("main", "envs/prod").Revert(ctx, x, Trailers{}); !errors.Is(err, ErrConflict) {
		t.Errorf("Revert of every file: %v, want ErrConflict", err)
	}
	r := rm.open("main", "envs/prod")
	if _, err := r.Revert(ctx, x, Trailers{}, "hello.yaml"); err != nil {
		t.Fatalf("Revert of hello.yaml: %v", err)
	}
	if _, err := r.Push(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rm.show("main", "envs/dev/api.yaml"); got != "dev api" {
		t.Errorf("envs/dev/api.yaml = %q after a revert under envs/prod", got)
	}
	if got := rm.show("main", "envs/prod/hello.yaml"); got != "v0" {
		t.Errorf("envs/prod/hello.yaml = %q, want v0", got)
	}
}

// TestTreeWalkBounded: a few KB of trees that name each other (16
// directories at each of 8 levels: 16^8 paths, no file) under the path:
// listing every file stops at Limits.Files entries, and a revert or
// restore of the app's file alone does not list them.
func TestTreeWalkBounded(t *testing.T) {
	rm := newRemote(t)
	p := rm.commit("main", "setup", map[string]string{"envs/prod/hello.yaml": "v0", "envs/prod/kustomization.yaml": "k"})
	repo, err := git.PlainOpen(rm.dir)
	if err != nil {
		t.Fatal(err)
	}
	level := writeTree(t, repo, nil)
	for range 8 {
		var es []object.TreeEntry
		for i := range 16 {
			es = append(es, object.TreeEntry{Name: fmt.Sprintf("d%02d", i), Mode: filemode.Dir, Hash: level})
		}
		level = writeTree(t, repo, es)
	}
	parent, _ := repo.CommitObject(plumbing.NewHash(p))
	root, _ := repo.TreeObject(parent.TreeHash)
	old, err := root.Tree("envs/prod")
	if err != nil {
		t.Fatal(err)
	}
	prod := writeTree(t, repo, append([]object.TreeEntry{{Name: "cache", Mode: filemode.Dir, Hash: level}}, old.Entries...))
	envs := writeTree(t, repo, []object.TreeEntry{{Name: "prod", Mode: filemode.Dir, Hash: prod}})
	commitTree(t, repo, parent.Hash, writeTree(t, repo, []object.TreeEntry{{Name: "envs", Mode: filemode.Dir, Hash: envs}}), "add a cache\n")

	ours := mustCommitPush(t, rm.open("main", "envs/prod"), deploy("hello", "1.0.0"))
	ctx := context.Background()
	if _, err := rm.open("main", "envs/prod").Revert(ctx, ours.Commit, Trailers{}); !errors.Is(err, gitremote.ErrTooLarge) {
		t.Errorf("Revert of every file: %v, want ErrTooLarge", err)
	}
	if _, err := rm.open("main", "envs/prod").Restore(ctx, p, Trailers{}); !errors.Is(err, gitremote.ErrTooLarge) {
		t.Errorf("Restore of every file: %v, want ErrTooLarge", err)
	}
	res, err := rm.open("main", "envs/prod").Revert(ctx, ours.Commit, Trailers{}, "hello.yaml")
	if err != nil || !res.Changed {
		t.Errorf("Revert of hello.yaml: %+v, %v", res, err)
	}
}

// TestKustomizationIsNotSlipways: a change may not write or remove the
// directory's kustomization file, whatever the app is called.
func TestKustomizationIsNotSlipways(t *testing.T) {
	rm := newRemote(t)
	rm.commit("main", "setup", map[string]string{"envs/prod/kustomization.yaml": "resources: [hello.yaml]\n", "envs/prod/hello.yaml": "h"})
	for _, name := range append(kustomizations, "sub/kustomization.yaml") {
		for _, ch := range []Change{
			{Files: map[string][]byte{name: []byte("kind: ConfigMap\n")}},
			{Remove: []string{name}},
		} {
			if _, err := rm.open("main", "envs/prod").Commit(context.Background(), ch); !errors.Is(err, ErrInvalid) {
				t.Errorf("a change of %s (%d written, %d removed): %v, want ErrInvalid", name, len(ch.Files), len(ch.Remove), err)
			}
		}
	}
	if got := rm.show("main", "envs/prod/kustomization.yaml"); got != "resources: [hello.yaml]\n" {
		t.Errorf("kustomization.yaml = %q", got)
	}
}
