package gitops

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/slipwayhq/slipway/internal/gitremote"
)

// Entry is one commit that changed the environment's path.
type Entry struct {
	Commit string    `json:"commit"`
	When   time.Time `json:"when"`
	// Author is the commit's author name, at most 64 bytes.
	Author string `json:"author"`
	// Subject is the first line of its message, at most 200 bytes.
	Subject  string   `json:"subject"`
	Trailers Trailers `json:"trailers"`
	// RevertedBy is the later commit whose Slipway-Reverts names this one.
	RevertedBy string `json:"revertedBy,omitempty"`
}

// maxSubject bounds an Entry's subject.
const maxSubject = 200

// History lists, newest first, at most n commits on the branch's
// first-parent line that changed the environment's path (with names, only
// those that changed one of these files, relative to the path). It reads
// at most Limits.Depth commits, fetching more history as it needs it, and
// returns what it found within them.
func (r *Repo) History(ctx context.Context, n int, names ...string) ([]Entry, error) {
	if n < 1 {
		return nil, fmt.Errorf("reading history of %s: %w: asked for %d commits", r.where, ErrInvalid, n)
	}
	watch := []string{r.dir}
	if len(names) > 0 {
		watch = watch[:0]
		for _, name := range names {
			p, err := cleanPath("file", name, false)
			if err != nil {
				return nil, err
			}
			watch = append(watch, path.Join(r.dir, p))
		}
	}
	var out []Entry
	reverted := map[string]string{} // commit -> the commit reverting it
	err := r.walk(ctx, func(c, parent *object.Commit) (bool, error) {
		changed, err := r.changed(c, parent, watch)
		if err != nil || !changed {
			return err == nil, err
		}
		e := entryOf(c)
		e.RevertedBy = reverted[e.Commit]
		if e.Trailers.Reverts != "" && reverted[e.Trailers.Reverts] == "" {
			reverted[e.Trailers.Reverts] = e.Commit
		}
		out = append(out, e)
		return len(out) < n, nil
	})
	return out, err
}

// entryOf reads an Entry from c, every value from the repository bounded.
func entryOf(c *object.Commit) Entry {
	return Entry{
		Commit:   c.Hash.String(),
		When:     c.Committer.When,
		Author:   gitremote.Cut(c.Author.Name, maxQuote),
		Subject:  gitremote.Cut(subject(c.Message), maxSubject),
		Trailers: ParseTrailers(c.Message),
	}
}

// subject is the first line of a commit message, of its first 4 KiB.
func subject(msg string) string {
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	line, _, _ := strings.Cut(strings.TrimLeft(msg, "\n"), "\n")
	return strings.TrimSpace(line)
}

// changed reports whether c changed any of paths against its first parent
// (nil: against nothing).
func (r *Repo) changed(c, parent *object.Commit, paths []string) (bool, error) {
	for _, p := range paths {
		now, err := lookup(r.loadTree, c.TreeHash, p)
		if err != nil {
			return false, err
		}
		var then entry
		if parent != nil {
			if then, err = lookup(r.loadTree, parent.TreeHash, p); err != nil {
				return false, err
			}
		}
		if now != then {
			return true, nil
		}
	}
	return false, nil
}

// find returns the commit named by hash, on the first-parent line from
// the head within Limits.Depth commits, and its first parent (nil for a
// first commit).
func (r *Repo) find(ctx context.Context, hash string) (c, parent *object.Commit, err error) {
	if !hashValue.MatchString(hash) {
		return nil, nil, fmt.Errorf("finding commit %s: %w: not a full commit hash", quote(hash), ErrInvalid)
	}
	want := plumbing.NewHash(hash)
	err = r.walk(ctx, func(cc, pp *object.Commit) (bool, error) {
		if cc.Hash == want {
			c, parent = cc, pp
			return false, nil
		}
		return true, nil
	})
	if err == nil && c == nil {
		err = fmt.Errorf("finding commit %s: %w: it is not among the last %d commits of %s", hash[:12], ErrNotFound, r.opt.Limits.Depth, r.where)
	}
	return c, parent, err
}

// walk calls f with each commit on the first-parent line from the head,
// newest first, and its first parent (nil for a first commit), until f
// returns false. It fetches more history when it reaches the edge of what
// it has, and stops after Limits.Depth commits.
func (r *Repo) walk(ctx context.Context, f func(c, parent *object.Commit) (bool, error)) error {
	h := r.head
	for i := 0; !h.IsZero() && i < r.opt.Limits.Depth; i++ {
		c, err := r.repo.CommitObject(h)
		if err != nil {
			return fmt.Errorf("reading commit %s: %w", short(h), err)
		}
		var parent *object.Commit
		if len(c.ParentHashes) > 0 {
			if parent, err = r.commitDeepening(ctx, c.ParentHashes[0], i+1); errors.Is(err, errEdge) {
				return nil
			} else if err != nil {
				return err
			}
		}
		if more, err := f(c, parent); err != nil || !more {
			return err
		}
		h = plumbing.ZeroHash
		if parent != nil {
			h = parent.Hash
		}
	}
	return nil
}

// errEdge means the history goes deeper than Limits.Depth.
var errEdge = errors.New("history deeper than the limit")

// commitDeepening returns commit h, i commits below the head, fetching
// more history while it is missing: four times as deep each time, at most
// Limits.Depth and the parent of the last of those commits.
func (r *Repo) commitDeepening(ctx context.Context, h plumbing.Hash, i int) (*object.Commit, error) {
	limit := r.opt.Limits.Depth + 1
	for {
		c, err := r.repo.CommitObject(h)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, fmt.Errorf("reading commit %s: %w", short(h), err)
		}
		if r.depth >= limit {
			return nil, errEdge
		}
		depth := min(max(r.depth*4, i+2), limit)
		if err := r.deepen(ctx, depth); err != nil {
			return nil, err
		}
		r.depth = depth
	}
}
