package gitops

import (
	"context"
	"fmt"
	"path"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Descends says whether commit is a later commit than ancestor on the
// branch's first-parent line, within Limits.Depth commits of the head as
// last fetched: what an engine adapter asks to call a commit the engine
// moved on to "superseding" ours rather than older. A commit that is not
// on that line, or is ancestor itself, does not descend; Open anew to see
// commits pushed since.
func (r *Repo) Descends(ctx context.Context, commit, ancestor string) (bool, error) {
	for _, h := range []string{commit, ancestor} {
		if !hashValue.MatchString(h) {
			return false, fmt.Errorf("comparing commits: %w: %s is not a full commit hash", ErrInvalid, quote(h))
		}
	}
	c, a := plumbing.NewHash(commit), plumbing.NewHash(ancestor)
	seen, found := false, false
	err := r.walk(ctx, func(cc, _ *object.Commit) (bool, error) {
		switch cc.Hash {
		case c:
			seen = true
		case a:
			found = true
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return false, fmt.Errorf("comparing %s with %s: %w", commit[:12], ancestor[:12], err)
	}
	return seen && found, nil
}

// SameFile says whether the file name, relative to the environment's
// path, is the same in commits a and b (the same content and mode, or
// missing from both): whether a newer commit still holds an app's file as
// an older one wrote it. Both commits must be on the branch's
// first-parent line within Limits.Depth commits of the head.
func (r *Repo) SameFile(ctx context.Context, a, b, name string) (bool, error) {
	p, err := cleanPath("file", name, false)
	if err != nil {
		return false, err
	}
	full := path.Join(r.dir, p)
	var got [2]entry
	for i, h := range []string{a, b} {
		c, _, err := r.find(ctx, h)
		if err != nil {
			return false, fmt.Errorf("comparing %s: %w", quote(full), err)
		}
		if got[i], err = lookup(r.loadTree, c.TreeHash, full); err != nil {
			return false, fmt.Errorf("comparing %s: %w", quote(full), err)
		}
	}
	return got[0] == got[1], nil
}
