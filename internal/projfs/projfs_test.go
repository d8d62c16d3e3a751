package projfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const secret = "SLIPWAY_TEST_SECRET=hunter2"

// tree makes a project under a fresh directory with a file outside it
// holding secret, and returns the project root and the outside directory.
//
//	outside/secret, outside/dir/
//	root/ok.txt, root/sub/ok.txt, root/emptydir/
//	root/link -> ../outside/secret      root/linkdir -> ../outside/dir
//	root/inlink -> ok.txt               root/big (2 KiB)
func tree(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(outside, "dir"), filepath.Join(root, "sub"), filepath.Join(root, "emptydir")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(outside, "secret"), []byte(secret), 0o600))
	must(t, os.WriteFile(filepath.Join(root, "ok.txt"), []byte("ok"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "sub", "ok.txt"), []byte("sub"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "big"), make([]byte, 2048), 0o644))
	for link, target := range map[string]string{"link": "../outside/secret", "linkdir": "../outside/dir", "inlink": "ok.txt"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Skipf("cannot make symlinks here: %v", err)
		}
	}
	return root, outside
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// noSecret fails when err's message holds the outside file's content.
func noSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error quotes the file: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	root, _ := tree(t)
	tests := []struct {
		rel     string
		limit   int64
		want    string
		wantErr error
	}{
		{rel: "ok.txt", limit: 10, want: "ok"},
		{rel: "sub/ok.txt", limit: 10, want: "sub"},
		{rel: "sub/../ok.txt", limit: 10, want: "ok"},
		{rel: "missing", limit: 10, wantErr: fs.ErrNotExist},
		{rel: "sub/missing/x", limit: 10, wantErr: fs.ErrNotExist},
		{rel: "link", limit: 10, wantErr: ErrSymlink},
		{rel: "linkdir/x", limit: 10, wantErr: ErrSymlink},
		{rel: "inlink", limit: 10, wantErr: ErrSymlink}, // even inside: Slipway's own files are never links
		{rel: "emptydir", limit: 10, wantErr: ErrNotRegular},
		{rel: "ok.txt/x", limit: 10, wantErr: ErrNotRegular},
		{rel: "big", limit: 1024, wantErr: ErrTooLarge},
		{rel: "big", limit: 2048, want: string(make([]byte, 2048))},
		{rel: "../outside/secret", limit: 100, wantErr: ErrOutside},
		{rel: "/etc/passwd", limit: 100, wantErr: ErrOutside},
		{rel: "", limit: 100, wantErr: ErrOutside},
		{rel: ".", limit: 100, wantErr: ErrOutside},
		{rel: "ok\x00.txt", limit: 100, wantErr: ErrOutside},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			got, err := ReadFile(root, tt.rel, tt.limit)
			noSecret(t, err)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("ReadFile(%q) error = %v, want %v", tt.rel, err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("ReadFile(%q) = %q, want %q", tt.rel, got, tt.want)
			}
		})
	}
}

func TestReadRegular(t *testing.T) {
	root, outside := tree(t)
	tests := []struct {
		name, path string
		want       string
		wantErr    error
	}{
		{"a file", filepath.Join(outside, "secret"), secret, nil},
		{"through a symlink", filepath.Join(root, "inlink"), "ok", nil},
		{"a directory", root, "", ErrNotRegular},
		{"missing", filepath.Join(root, "missing"), "", fs.ErrNotExist},
		{"too large", filepath.Join(root, "big"), "", ErrTooLarge},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, struct {
			name, path string
			want       string
			wantErr    error
		}{"a device", "/dev/zero", "", ErrNotRegular})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadRegular(tt.path, 1024)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("ReadRegular(%s) error = %v, want %v", tt.path, err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("ReadRegular(%s) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	tests := []struct {
		rel     string
		wantErr error
	}{
		{rel: "new.txt"},
		{rel: "ok.txt"},
		{rel: "a/b/c.txt"},
		{rel: "link", wantErr: ErrSymlink},
		{rel: "linkdir/x", wantErr: ErrSymlink},
		{rel: "linkdir/new/x", wantErr: ErrSymlink},
		{rel: "inlink", wantErr: ErrSymlink},
		{rel: "emptydir", wantErr: ErrNotRegular},
		{rel: "../outside/secret", wantErr: ErrOutside},
		{rel: "/tmp/x", wantErr: ErrOutside},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			root, outside := tree(t)
			err := WriteFile(root, tt.rel, []byte("written"), 0o644)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("WriteFile(%q) error = %v, want %v", tt.rel, err, tt.wantErr)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != secret {
				t.Errorf("the file outside now holds %q", b)
			}
			if des, _ := os.ReadDir(filepath.Join(outside, "dir")); len(des) > 0 {
				t.Errorf("wrote %s outside the project", des[0].Name())
			}
			if tt.wantErr == nil {
				b, err := os.ReadFile(filepath.Join(root, tt.rel))
				if err != nil || string(b) != "written" {
					t.Errorf("after WriteFile %s holds %q (%v)", tt.rel, b, err)
				}
			}
			dir := filepath.Dir(filepath.Join(root, filepath.FromSlash(tt.rel)))
			des, _ := os.ReadDir(dir)
			for _, de := range des {
				if strings.HasSuffix(de.Name(), ".tmp") {
					t.Errorf("left the temporary file %s", de.Name())
				}
			}
		})
	}
}

func TestCheckTree(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(root string) error
		wantErr error
	}{
		{"missing", func(string) error { return nil }, nil},
		{"clean", func(root string) error {
			return os.WriteFile(filepath.Join(root, "out", "oci", "index.json"), nil, 0o644)
		}, nil},
		{"the directory is a link", func(root string) error {
			if err := os.RemoveAll(filepath.Join(root, "out")); err != nil {
				return err
			}
			return os.Symlink("..", filepath.Join(root, "out"))
		}, ErrSymlink},
		{"a link inside", func(root string) error {
			return os.Symlink("/etc", filepath.Join(root, "out", "oci", "blobs"))
		}, ErrSymlink},
		{"a file", func(root string) error {
			if err := os.RemoveAll(filepath.Join(root, "out")); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(root, "out"), nil, 0o644)
		}, ErrNotRegular},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			must(t, os.MkdirAll(filepath.Join(root, "out", "oci"), 0o755))
			if tt.name == "missing" {
				must(t, os.RemoveAll(filepath.Join(root, "out")))
			}
			if err := tt.setup(root); err != nil {
				t.Skipf("setting up: %v", err)
			}
			err := CheckTree(root, "out")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("CheckTree error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	root, _ := tree(t)
	real, err := filepath.EvalSymlinks(root)
	must(t, err)
	tests := []struct {
		rel     string
		want    string
		wantErr error
	}{
		{rel: "ok.txt", want: filepath.Join(real, "ok.txt")},
		{rel: "inlink", want: filepath.Join(real, "ok.txt")},
		{rel: "missing/x", want: filepath.Join(real, "missing", "x")},
		{rel: "link", wantErr: ErrOutside},
		{rel: "linkdir/x", wantErr: ErrOutside},
		{rel: "../outside/secret", wantErr: ErrOutside},
		{rel: "/etc/passwd", wantErr: ErrOutside},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			got, err := Resolve(root, tt.rel)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Resolve(%q) error = %v, want %v", tt.rel, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Resolve(%q) = %q, want %q", tt.rel, got, tt.want)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Op: "reading", Path: ".drone.yml", Err: ErrSymlink}, "reading .drone.yml: .drone.yml is a symlink, and Slipway never reads or writes its own files through one (it could lead out of the project); remove the link"},
		{&Error{Op: "checking", Path: ".slipway", At: ".slipway/oci", Kind: "a named pipe", Want: "a directory", Err: ErrNotRegular}, "checking .slipway: .slipway/oci is a named pipe, not a directory"},
		{&Error{Op: "reading", Path: "ca.pem", Size: 3 << 20, Limit: 1 << 20, Err: ErrTooLarge}, "reading ca.pem: the file is 3.0 MiB; Slipway reads files of at most 1.0 MiB here"},
		{&Error{Op: "resolving", Path: "k/x.key", At: "k", Target: "/run/secrets", Err: ErrOutside}, "resolving k/x.key: k is a symlink to /run/secrets, outside the project"},
		{&Error{Op: "reading", Path: "a\x1b]0;pwned\x07", Err: fs.ErrNotExist}, `reading "a\x1b]0;pwned\a": file does not exist`},
		{&Error{Op: "reading", Path: strings.Repeat("é", 100), Err: fs.ErrNotExist}, "reading " + strings.Repeat("é", 12) + "…" + strings.Repeat("é", 18) + ": file does not exist"},
		{&Error{Op: "resolving", Path: "k", At: "k", Target: "/home/ci/workspace/a-very-long-directory-name/another-one/outside/environ", Err: ErrOutside},
			"resolving k: k is a symlink to /home/ci/workspace/a-ver…tory-name/another-one/outside/environ, outside the project"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q\nwant      %q", got, tt.want)
		}
	}
}

func TestCheckPath(t *testing.T) {
	root, _ := tree(t)
	tests := []struct {
		rel     string
		wantErr error
	}{
		{"sub", nil},
		{"sub/ok.txt", nil},
		{"missing/x", nil},
		{"linkdir", ErrSymlink},
		{"linkdir/x", ErrSymlink},
		{"../x", ErrOutside},
	}
	for _, tt := range tests {
		if err := CheckPath(root, tt.rel); !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
			t.Errorf("CheckPath(%q) = %v, want %v", tt.rel, err, tt.wantErr)
		}
	}
}
