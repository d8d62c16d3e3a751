package gitops

import (
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// memTrees keeps trees in memory for the pure tree functions.
type memTrees struct{ s *memory.Storage }

func newMemTrees() *memTrees { return &memTrees{memory.NewStorage()} }

func (m *memTrees) load(h plumbing.Hash) (*object.Tree, error) { return object.GetTree(m.s, h) }

// build makes the tree of files (path -> content) and returns its hash.
func (m *memTrees) build(t *testing.T, files map[string]string) plumbing.Hash {
	t.Helper()
	edits := map[string]entry{}
	for p, c := range files {
		b := blob([]byte(c))
		if _, err := m.s.SetEncodedObject(b); err != nil {
			t.Fatal(err)
		}
		edits[p] = entry{Hash: b.Hash(), Mode: filemode.Regular}
	}
	return m.apply(t, plumbing.ZeroHash, edits)
}

func (m *memTrees) apply(t *testing.T, base plumbing.Hash, edits map[string]entry) plumbing.Hash {
	t.Helper()
	ed := &editor{load: m.load}
	h, err := ed.apply(base, edits)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ed.made {
		if _, err := m.s.SetEncodedObject(o); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// contents lists every file of tree as path -> content.
func (m *memTrees) contents(t *testing.T, tree plumbing.Hash) map[string]string {
	t.Helper()
	fs, err := files(m.load, tree, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for p, e := range fs {
		b, err := object.GetBlob(m.s, e.Hash)
		if err != nil {
			t.Fatal(err)
		}
		r, err := b.Reader()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = string(data)
	}
	return out
}

func fileEntry(m *memTrees, t *testing.T, content string) entry {
	b := blob([]byte(content))
	if _, err := m.s.SetEncodedObject(b); err != nil {
		t.Fatal(err)
	}
	return entry{Hash: b.Hash(), Mode: filemode.Regular}
}

func TestEditorApply(t *testing.T) {
	m := newMemTrees()
	base := m.build(t, map[string]string{
		"README.md": "r", "envs/prod/kustomization.yaml": "k", "envs/prod/other.yaml": "o",
		"envs/prod/hello.yaml": "v1", "envs/dev/hello.yaml": "d", "envs/prod-eu/hello.yaml": "eu",
	})
	tests := []struct {
		name  string
		edits map[string]entry
		want  map[string]string
	}{
		{"replace one file, keep the rest", map[string]entry{"envs/prod/hello.yaml": fileEntry(m, t, "v2")},
			map[string]string{"README.md": "r", "envs/prod/kustomization.yaml": "k", "envs/prod/other.yaml": "o", "envs/prod/hello.yaml": "v2", "envs/dev/hello.yaml": "d", "envs/prod-eu/hello.yaml": "eu"}},
		{"add a file in a new directory", map[string]entry{"envs/stage/hello.yaml": fileEntry(m, t, "s")},
			map[string]string{"README.md": "r", "envs/prod/kustomization.yaml": "k", "envs/prod/other.yaml": "o", "envs/prod/hello.yaml": "v1", "envs/dev/hello.yaml": "d", "envs/prod-eu/hello.yaml": "eu", "envs/stage/hello.yaml": "s"}},
		{"remove a file; an emptied directory goes", map[string]entry{"envs/dev/hello.yaml": {}},
			map[string]string{"README.md": "r", "envs/prod/kustomization.yaml": "k", "envs/prod/other.yaml": "o", "envs/prod/hello.yaml": "v1", "envs/prod-eu/hello.yaml": "eu"}},
		{"remove what is not there", map[string]entry{"envs/none/x.yaml": {}, "nothing.yaml": {}},
			map[string]string{"README.md": "r", "envs/prod/kustomization.yaml": "k", "envs/prod/other.yaml": "o", "envs/prod/hello.yaml": "v1", "envs/dev/hello.yaml": "d", "envs/prod-eu/hello.yaml": "eu"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.contents(t, m.apply(t, base, tt.edits))
			if !maps.Equal(got, tt.want) {
				t.Errorf("files = %v, want %v", got, tt.want)
			}
		})
	}
	// Setting what is there already gives the same tree, byte for byte.
	same := m.apply(t, base, map[string]entry{"envs/prod/hello.yaml": fileEntry(m, t, "v1")})
	if same != base {
		t.Errorf("an edit to the same content made tree %s, want %s", same, base)
	}
	// Removing every file leaves nothing.
	if h := m.apply(t, m.build(t, map[string]string{"a/b.yaml": "x"}), map[string]entry{"a/b.yaml": {}}); !h.IsZero() {
		t.Errorf("removing the only file left tree %s", h)
	}
}

func TestEditorRefusesFilesAsDirectories(t *testing.T) {
	m := newMemTrees()
	base := m.build(t, map[string]string{"envs/prod": "a file", "dir/x.yaml": "x"})
	for name, edits := range map[string]map[string]entry{
		"under a file":         {"envs/prod/hello.yaml": fileEntry(m, t, "v")},
		"over a directory":     {"dir": fileEntry(m, t, "v")},
		"removing a directory": {"dir": {}},
	} {
		ed := &editor{load: m.load}
		if _, err := ed.apply(base, edits); !errors.Is(err, ErrConflict) {
			t.Errorf("%s: err = %v, want ErrConflict", name, err)
		}
	}
}

func TestSortEntries(t *testing.T) {
	// git orders a tree's name as if it ended in '/': "a.b" < "a/" < "a0".
	es := []object.TreeEntry{{Name: "a0", Mode: filemode.Regular}, {Name: "a", Mode: filemode.Dir}, {Name: "a.b", Mode: filemode.Regular}, {Name: "B", Mode: filemode.Regular}}
	sortEntries(es)
	var names []string
	for _, e := range es {
		names = append(names, e.Name)
	}
	if want := []string{"B", "a.b", "a", "a0"}; !slices.Equal(names, want) {
		t.Errorf("order = %q, want %q", names, want)
	}
}

func TestLookupAndFiles(t *testing.T) {
	m := newMemTrees()
	root := m.build(t, map[string]string{"envs/prod/hello.yaml": "h", "envs/prod/sub/x.yaml": "x"})
	for p, want := range map[string]bool{"envs/prod/hello.yaml": true, "envs/prod": true, "": true, "envs/prod/hello.yaml/x": false, "nope": false} {
		e, err := lookup(m.load, root, p)
		if err != nil || e.exists() != want {
			t.Errorf("lookup(%q) = %v, %v; want found %v", p, e, err, want)
		}
	}
	if e, _ := lookup(m.load, plumbing.ZeroHash, ""); e.exists() {
		t.Error("lookup in no tree found something")
	}
	dir, _ := lookup(m.load, root, "envs/prod")
	fs, err := files(m.load, dir.Hash, 10)
	if err != nil || len(fs) != 2 || !fs["sub/x.yaml"].exists() {
		t.Errorf("files = %v, %v", fs, err)
	}
	if _, err := files(m.load, dir.Hash, 1); err == nil {
		t.Error("files beyond the bound: no error")
	}
}

func TestCleanPath(t *testing.T) {
	good := []string{"hello.yaml", "envs/prod", "a/b/c.yaml", ".hidden", "x..y"}
	for _, p := range good {
		if got, err := cleanPath("file", p, false); err != nil || got != p {
			t.Errorf("cleanPath(%q) = %q, %v", p, got, err)
		}
	}
	if got, err := cleanPath("path", ".", true); err != nil || got != "" {
		t.Errorf("cleanPath(., root) = %q, %v", got, err)
	}
	bad := []string{"", ".", "..", "../x", "a/../b", "/abs", "a/", "a//b", "./a", ".git/config", "a/.GIT/x", "a\\b", "a\x00b", "a\nb", "\u202ex",
		strings.Repeat("a", maxSegment+1), strings.Repeat("a/", maxSegments) + "a", strings.Repeat("ab/", 400)}
	for _, p := range bad {
		_, err := cleanPath("file", p, false)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("cleanPath(%q) = %v, want ErrInvalid", p, err)
		} else if len(err.Error()) > 400 {
			t.Errorf("cleanPath(%q): the error quotes too much: %d bytes", p, len(err.Error()))
		}
	}
}

func TestPrepare(t *testing.T) {
	lim := DefaultLimits
	c, err := prepare(Change{Files: map[string][]byte{"hello.yaml": []byte("x")}, Remove: []string{"old.yaml"}}, "envs/prod", lim)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.touched(); !slices.Equal(got, []string{"envs/prod/hello.yaml", "envs/prod/old.yaml"}) {
		t.Errorf("touched = %q", got)
	}
	if !strings.HasPrefix(c.message, "slipway: update envs/prod\n") {
		t.Errorf("default message = %q", c.message)
	}
	small := lim
	small.Object, small.Files = 4, 2
	for name, ch := range map[string]Change{
		"nothing":                  {},
		"too many files":           {Files: map[string][]byte{"a": nil, "b": nil, "c": nil}},
		"too large":                {Files: map[string][]byte{"a": []byte("12345")}},
		"written and removed":      {Files: map[string][]byte{"a": nil}, Remove: []string{"a"}},
		"a file and its directory": {Files: map[string][]byte{"a": nil, "a/b": nil}},
		"bad name":                 {Files: map[string][]byte{"../a": nil}},
		"bad message":              {Files: map[string][]byte{"a": nil}, Message: "x\x1b"},
		"bad trailer":              {Files: map[string][]byte{"a": nil}, Trailers: Trailers{Digest: "md5:1"}},
	} {
		if _, err := prepare(ch, "envs/prod", small); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}
