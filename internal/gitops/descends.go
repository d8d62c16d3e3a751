package gitops

import (
	"context"
	"fmt"

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
