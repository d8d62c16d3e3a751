package gitops

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/slipwayhq/slipway/internal/gitremote"
)

// The tree side of a commit, as pure functions of trees read through a
// loader: what a path holds, what a subtree holds, and a tree with some
// paths changed. New objects are returned, not stored.

// loader reads the tree object with hash h.
type loader func(h plumbing.Hash) (*object.Tree, error)

// entry is what a path holds: an object and its mode. The zero entry is
// nothing.
type entry struct {
	Hash plumbing.Hash
	Mode filemode.FileMode
}

func (e entry) exists() bool { return !e.Hash.IsZero() }

// lookup returns what the tree root (zero: empty) holds at the
// slash-separated path p ("" is root itself, as a tree).
func lookup(load loader, root plumbing.Hash, p string) (entry, error) {
	cur := entry{Hash: root, Mode: filemode.Dir}
	if p == "" || root.IsZero() {
		if root.IsZero() {
			return entry{}, nil
		}
		return cur, nil
	}
	for _, name := range strings.Split(p, "/") {
		if cur.Mode != filemode.Dir {
			return entry{}, nil
		}
		t, err := load(cur.Hash)
		if err != nil {
			return entry{}, err
		}
		i := slices.IndexFunc(t.Entries, func(e object.TreeEntry) bool { return e.Name == name })
		if i < 0 {
			return entry{}, nil
		}
		cur = entry{Hash: t.Entries[i].Hash, Mode: t.Entries[i].Mode}
	}
	return cur, nil
}

// files returns every entry that is not a tree under the tree dir (zero:
// none), by slash-separated path relative to it. Visiting more than max
// entries, directories counted (a few trees named again and again at
// each level make millions of paths), is an error wrapping ErrTooLarge;
// an entry whose name is not one part of a path ("", ".", "..", or with a
// slash or NUL, which git's own checks refuse but a server may take) is
// an error wrapping ErrConflict: joined to a path, it would name a file
// elsewhere.
func files(load loader, dir plumbing.Hash, max int) (map[string]entry, error) {
	out := map[string]entry{}
	if dir.IsZero() {
		return out, nil
	}
	type todo struct {
		hash   plumbing.Hash
		prefix string
	}
	stack := []todo{{dir, ""}}
	visited := 0
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		t, err := load(d.hash)
		if err != nil {
			return nil, err
		}
		for _, e := range t.Entries {
			if visited++; visited > max {
				return nil, fmt.Errorf("listing files: %w: more than %d entries", gitremote.ErrTooLarge, max)
			}
			if !pathPart(e.Name) {
				return nil, fmt.Errorf("listing files: %w: %s holds an entry named %s, which is not a file name", ErrConflict, quote(cmp.Or(d.prefix, ".")), quote(e.Name))
			}
			p := path.Join(d.prefix, e.Name)
			if e.Mode == filemode.Dir {
				stack = append(stack, todo{e.Hash, p})
				continue
			}
			out[p] = entry{e.Hash, e.Mode}
		}
	}
	return out, nil
}

// pathPart reports whether name can be one part of a slash-separated path.
func pathPart(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// editor makes trees with some paths changed, keeping the tree objects it
// makes.
type editor struct {
	load loader
	made []plumbing.EncodedObject
}

// apply returns the tree that is base (zero: empty) with edits applied:
// each slash-separated path set to its entry, or removed for a zero entry;
// a tree left empty is removed, so the result is zero when nothing is
// left. A path that crosses a file, or an edit of a whole tree, is an
// error wrapping ErrConflict.
func (e *editor) apply(base plumbing.Hash, edits map[string]entry) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !base.IsZero() {
		t, err := e.load(base)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = slices.Clone(t.Entries)
	}
	direct, sub := splitEdits(edits)
	for name, want := range direct {
		i := slices.IndexFunc(entries, func(te object.TreeEntry) bool { return te.Name == name })
		if i >= 0 && entries[i].Mode == filemode.Dir {
			return plumbing.ZeroHash, fmt.Errorf("writing %s: %w: it is a directory in the repository", quote(name), ErrConflict)
		}
		entries = setEntry(entries, i, name, want)
	}
	for name, edits := range sub {
		i := slices.IndexFunc(entries, func(te object.TreeEntry) bool { return te.Name == name })
		child := plumbing.ZeroHash
		if i >= 0 {
			if entries[i].Mode != filemode.Dir {
				return plumbing.ZeroHash, fmt.Errorf("writing under %s: %w: it is a file in the repository", quote(name), ErrConflict)
			}
			child = entries[i].Hash
		}
		h, err := e.apply(child, edits)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = setEntry(entries, i, name, entry{Hash: h, Mode: filemode.Dir})
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	sortEntries(entries)
	obj := &plumbing.MemoryObject{}
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encoding a tree: %w", err)
	}
	e.made = append(e.made, obj)
	return obj.Hash(), nil
}

// splitEdits parts edits into those of names in this tree and those under
// each of its subtrees, relative to it.
func splitEdits(edits map[string]entry) (direct map[string]entry, sub map[string]map[string]entry) {
	direct, sub = map[string]entry{}, map[string]map[string]entry{}
	for p, want := range edits {
		first, rest, nested := strings.Cut(p, "/")
		if !nested {
			direct[first] = want
			continue
		}
		if sub[first] == nil {
			sub[first] = map[string]entry{}
		}
		sub[first][rest] = want
	}
	return direct, sub
}

// setEntry puts want at index i of entries (i < 0: a new entry named name)
// or, for a zero want, removes entry i.
func setEntry(entries []object.TreeEntry, i int, name string, want entry) []object.TreeEntry {
	switch {
	case !want.exists() && i >= 0:
		return slices.Delete(entries, i, i+1)
	case !want.exists():
		return entries
	case i >= 0:
		entries[i] = object.TreeEntry{Name: name, Mode: want.Mode, Hash: want.Hash}
		return entries
	}
	return append(entries, object.TreeEntry{Name: name, Mode: want.Mode, Hash: want.Hash})
}

// sortEntries puts entries in git's order: by name, a tree's name compared
// as if it ended in '/'.
func sortEntries(entries []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	slices.SortFunc(entries, func(a, b object.TreeEntry) int { return strings.Compare(key(a), key(b)) })
}

// blob returns the blob object holding content.
func blob(content []byte) plumbing.EncodedObject {
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	_, _ = obj.Write(content) // a MemoryObject's Write cannot fail
	return obj
}

// quote quotes at most maxQuote bytes of a name or value from the
// repository or the caller, for messages.
func quote(s string) string { return fmt.Sprintf("%q", gitremote.Cut(s, maxQuote)) }
