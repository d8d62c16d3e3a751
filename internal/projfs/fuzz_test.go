package projfs

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzPaths: whatever path a hostile checkout or setting names, WriteFile
// never writes outside the root, ReadFile never reads the file outside,
// and Resolve returns a path inside the root or an error.
func FuzzPaths(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../x", "link", "link/x", "linkdir/x", "/etc/passwd", "a/../../x", "./link", "a//b/", "a\x00b", ".."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		root, outside := tree(t)
		real, err := filepath.EvalSymlinks(root)
		must(t, err)
		if b, err := ReadFile(root, rel, 1<<10); err == nil && string(b) == secret {
			t.Fatalf("ReadFile(%q) read the file outside the project", rel)
		}
		if p, err := Resolve(root, rel); err == nil && !within(real, p) {
			t.Fatalf("Resolve(%q) = %s, outside %s", rel, p, real)
		}
		_ = WriteFile(root, rel, []byte("x"), 0o644)
		if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != secret {
			t.Fatalf("WriteFile(%q) changed the file outside", rel)
		}
		if des, _ := os.ReadDir(filepath.Join(outside, "dir")); len(des) > 0 {
			t.Fatalf("WriteFile(%q) wrote %s outside", rel, des[0].Name())
		}
		if des, _ := os.ReadDir(outside); len(des) != 2 {
			t.Fatalf("WriteFile(%q) left %d entries outside", rel, len(des))
		}
	})
}
