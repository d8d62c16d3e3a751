package gitops

import (
	"cmp"
	"context"
	"fmt"
	"path"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/slipwayhq/slipway/internal/progress"
)

// Result is a commit made on the Repo, not yet pushed.
type Result struct {
	// Commit is the new head: the new commit, or with no change the head
	// as it was.
	Commit string
	// Changed is false when the files already held what the change
	// writes: nothing was committed, and a re-run of a deploy that landed
	// commits nothing.
	Changed bool
}

// Commit commits ch on the head: its files written and removed under the
// environment's path, every other file as it was. Push sends it.
func (r *Repo) Commit(ctx context.Context, ch Change) (Result, error) {
	c, err := prepare(ch, r.dir, r.opt.Limits)
	if err != nil {
		return Result{}, err
	}
	return r.commit(c)
}

// commit makes c a commit on the head, unless the head already holds it.
func (r *Repo) commit(c change) (Result, error) {
	h, changed, err := r.build(r.head, c)
	if err != nil {
		return Result{}, err
	}
	if !changed {
		r.rep.Report(progress.Event{Kind: progress.Skip, Step: "gitops", Msg: "no change: " + r.where + " already holds it"})
		return Result{Commit: r.head.String(), Changed: false}, nil
	}
	if err := r.setBranch(h); err != nil {
		return Result{}, err
	}
	if len(r.pending) == 0 {
		r.onto = r.base
	}
	r.pending = append(r.pending, c)
	r.head = h
	r.rep.Report(progress.Event{Kind: progress.Info, Step: "gitops", Msg: "committed " + short(h)})
	return Result{Commit: h.String(), Changed: true}, nil
}

// build stores a commit of c on parent (zero: a first commit) and returns
// it; changed is false, and nothing is stored, when parent already holds
// every edit.
func (r *Repo) build(parent plumbing.Hash, c change) (h plumbing.Hash, changed bool, err error) {
	base, err := r.treeOf(parent)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	if same, err := r.holds(base, c.edits); err != nil || same {
		return parent, false, err
	}
	ed := &editor{load: r.loadTree}
	tree, err := ed.apply(base, c.edits)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("committing to %s: %w", r.where, err)
	}
	if tree.IsZero() { // every file removed: git's empty tree
		empty := &plumbing.MemoryObject{}
		if err := (&object.Tree{}).Encode(empty); err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("encoding a tree: %w", err)
		}
		ed.made, tree = append(ed.made, empty), empty.Hash()
	}
	sig := object.Signature{Name: r.opt.Committer.Name, Email: r.opt.Committer.Email, When: r.opt.Now()}
	commit := &object.Commit{Author: sig, Committer: sig, Message: c.message, TreeHash: tree}
	if !parent.IsZero() {
		commit.ParentHashes = []plumbing.Hash{parent}
	}
	obj := r.store.NewEncodedObject()
	if err := commit.Encode(obj); err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("encoding a commit: %w", err)
	}
	for _, o := range append(append(append([]plumbing.EncodedObject(nil), c.blobs...), ed.made...), obj) {
		if _, err := r.store.SetEncodedObject(o); err != nil {
			return plumbing.ZeroHash, false, fmt.Errorf("storing a commit: %w", err)
		}
	}
	return obj.Hash(), true, nil
}

// holds reports whether tree already holds every edit.
func (r *Repo) holds(tree plumbing.Hash, edits map[string]entry) (bool, error) {
	for p, want := range edits {
		got, err := lookup(r.loadTree, tree, p)
		if err != nil {
			return false, err
		}
		if got != want {
			return false, nil
		}
	}
	return true, nil
}

// setBranch points the local branch at h, which Push sends.
func (r *Repo) setBranch(h plumbing.Hash) error {
	if err := r.store.SetReference(plumbing.NewHashReference(r.branch, h)); err != nil {
		return fmt.Errorf("committing to %s: %w", r.where, err)
	}
	return nil
}

// Revert commits the files under the environment's path that commit
// changed back to what its first parent held: Slipway's answer to a
// failed verdict. names (relative to the path) limit it to those files,
// as a deploy's revert undoes only its app's file, whoever else's files
// the commit changed too; with none, every file under the path. commit
// must be on the branch's first-parent line within Limits.Depth commits
// of the head. t.Reverts is set to commit.
func (r *Repo) Revert(ctx context.Context, commit string, t Trailers, names ...string) (Result, error) {
	c, parent, err := r.find(ctx, commit)
	if err != nil {
		return Result{}, err
	}
	var edits map[string]entry
	if len(names) == 0 {
		edits, err = r.diff(c, parent)
	} else {
		edits, err = r.undo(c, parent, names)
	}
	if err != nil {
		return Result{}, err
	}
	if err := r.unchangedSince(c, edits); err != nil {
		return Result{}, err
	}
	t.Reverts = c.Hash.String()
	msg := fmt.Sprintf("Revert %s\n\nThis reverts commit %s.", subjectQuote(c), c.Hash)
	return r.commitEdits(edits, msg, t)
}

// unchangedSince refuses a revert of c when a later commit changed one of
// the files it would write: the revert would undo that commit too.
func (r *Repo) unchangedSince(c *object.Commit, edits map[string]entry) error {
	head, err := r.treeOf(r.head)
	if err != nil {
		return err
	}
	for p := range edits {
		then, err := lookup(r.loadTree, c.TreeHash, p)
		if err != nil {
			return err
		}
		now, err := lookup(r.loadTree, head, p)
		if err != nil {
			return err
		}
		if then != now {
			return fmt.Errorf("reverting %s: %w: a later commit changed %s; it is no longer what the commit wrote", short(c.Hash), ErrConflict, quote(p))
		}
	}
	return nil
}

// Restore commits the files under the environment's path back to what
// they were at commit to: names (relative to the path) only, or with none
// every file there, those added since removed. It is `rollback ENV` to an
// earlier revision. t.Restores is set to to.
func (r *Repo) Restore(ctx context.Context, to string, t Trailers, names ...string) (Result, error) {
	c, _, err := r.find(ctx, to)
	if err != nil {
		return Result{}, err
	}
	head, err := r.repo.CommitObject(r.head)
	if err != nil {
		return Result{}, fmt.Errorf("reading commit %s: %w", short(r.head), err)
	}
	var edits map[string]entry
	if len(names) == 0 {
		edits, err = r.diff(head, c)
	} else {
		edits, err = r.pick(c, names)
	}
	if err != nil {
		return Result{}, err
	}
	t.Restores = c.Hash.String()
	msg := fmt.Sprintf("Restore %s to %s", cmp.Or(r.dir, "the branch's root"), c.Hash.String()[:12])
	return r.commitEdits(edits, msg, t)
}

// commitEdits commits edits with msg and t.
func (r *Repo) commitEdits(edits map[string]entry, msg string, t Trailers) (Result, error) {
	full, err := Message(msg, t)
	if err != nil {
		return Result{}, err
	}
	return r.commit(change{edits: edits, message: full})
}

// diff returns the edits that make the files under the path in commit
// from what they are in to (nil: a commit before the first).
func (r *Repo) diff(from, to *object.Commit) (map[string]entry, error) {
	a, err := r.pathFiles(from)
	if err != nil {
		return nil, err
	}
	b, err := r.pathFiles(to)
	if err != nil {
		return nil, err
	}
	edits := map[string]entry{}
	for p, e := range a {
		if b[p] != e {
			edits[path.Join(r.dir, p)] = b[p]
		}
	}
	for p, e := range b {
		if _, ok := a[p]; !ok {
			edits[path.Join(r.dir, p)] = e
		}
	}
	return edits, nil
}

// undo returns the edits that bring those of names that commit c changed
// back to what parent (nil: a commit before the first) holds.
func (r *Repo) undo(c, parent *object.Commit, names []string) (map[string]entry, error) {
	now, err := r.pick(c, names)
	if err != nil {
		return nil, err
	}
	before := map[string]entry{}
	if parent != nil {
		if before, err = r.pick(parent, names); err != nil {
			return nil, err
		}
	}
	edits := map[string]entry{}
	for p, e := range now {
		if before[p] != e {
			edits[p] = before[p]
		}
	}
	return edits, nil
}

// pick returns the edits that bring names back to what commit c holds.
func (r *Repo) pick(c *object.Commit, names []string) (map[string]entry, error) {
	edits := map[string]entry{}
	for _, name := range names {
		p, err := cleanPath("file", name, false)
		if err != nil {
			return nil, err
		}
		full := path.Join(r.dir, p)
		if edits[full], err = lookup(r.loadTree, c.TreeHash, full); err != nil {
			return nil, err
		}
	}
	return edits, nil
}

// pathFiles lists the files under the path in commit c (nil: none).
func (r *Repo) pathFiles(c *object.Commit) (map[string]entry, error) {
	if c == nil {
		return map[string]entry{}, nil
	}
	dir, err := lookup(r.loadTree, c.TreeHash, r.dir)
	if err != nil {
		return nil, err
	}
	if !dir.exists() || dir.Mode.IsFile() {
		return map[string]entry{}, nil
	}
	return files(r.loadTree, dir.Hash, r.opt.Limits.Files)
}

// subjectQuote is the subject of c quoted for a message of Slipway's own:
// at most 64 bytes, or only the hash when it is not printable.
func subjectQuote(c *object.Commit) string {
	s := subject(c.Message)
	if s == "" || !printable(s, false) {
		return c.Hash.String()[:12]
	}
	return quote(s)
}
