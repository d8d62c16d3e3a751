package projfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Sentinels, matched with errors.Is on the *Error each function returns.
var (
	// ErrOutside: the path, or a symlink on it, leads out of the root.
	ErrOutside = errors.New("outside the project")
	// ErrSymlink: a part of a path Slipway reads or writes as its own is a
	// symlink.
	ErrSymlink = errors.New("a symlink")
	// ErrNotRegular: the file is a directory, a FIFO, a device or a socket
	// where a regular file belongs (or the reverse, for a directory).
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file is over the limit its reader allows.
	ErrTooLarge = errors.New("too large")
)

// MaxKey bounds the files of key and CA settings: a PEM key is a few
// kilobytes, the whole Mozilla CA bundle about 220 KiB.
const MaxKey = 1 << 20

// Error is what the functions of this package return: what they did, to
// which path, and why they stopped. It never holds a file's content.
type Error struct {
	Op   string // "reading", "writing", "checking", "resolving"
	Path string // the path as the caller named it
	// At is the part of Path that is a symlink or of the wrong kind, when
	// not Path itself.
	At string
	// Kind is what the file is, for ErrNotRegular ("a named pipe"); Want
	// what it should be (default "a regular file").
	Kind, Want string
	// Target is where a symlink leads, for ErrOutside.
	Target string
	// Size and Limit are the file's size and the most read, for ErrTooLarge.
	Size, Limit int64
	Err         error
}

func (e *Error) Error() string {
	var pe *fs.PathError
	if e.At == "" && errors.As(e.Err, &pe) {
		return pe.Op + " " + Show(pe.Path) + ": " + pe.Err.Error() // the system's words for the path
	}
	return e.Op + " " + Show(e.Path) + ": " + e.Reason()
}

// Reason is the message without the operation and path, for callers that
// name the file themselves (a configuration problem names the field).
func (e *Error) Reason() string {
	at, it := Show(e.Path), "it"
	if e.At != "" {
		at, it = Show(e.At), Show(e.At)
	}
	switch e.Err {
	case ErrSymlink:
		return at + " is a symlink, and Slipway never reads or writes its own files through one (it could lead out of the project); remove the link"
	case ErrNotRegular:
		want := e.Want
		if want == "" {
			want = "a regular file"
		}
		return fmt.Sprintf("%s is %s, not %s", it, e.Kind, want)
	case ErrTooLarge:
		return fmt.Sprintf("the file is %s; Slipway reads files of at most %s here", Bytes(e.Size), Bytes(e.Limit))
	case ErrOutside:
		if e.Target != "" {
			return fmt.Sprintf("%s is a symlink to %s, outside the project", at, Show(e.Target))
		}
		return "the path leads outside the project"
	}
	return e.Err.Error()
}

// Unwrap returns the sentinel or the file system's error.
func (e *Error) Unwrap() error { return e.Err }

// maxShown is the most of a path an error shows.
const maxShown = 64

// Show returns p for a message: at most 64 bytes of it (its start and its
// end, which for a path say the most), and quoted when it holds anything
// but printable characters, so a hostile name cannot reach the terminal
// as control sequences.
func Show(p string) string {
	s := p
	if len(s) > maxShown {
		head, tail := 24, len(s)-(maxShown-24-len("…"))
		for head > 0 && !utf8.RuneStart(s[head]) {
			head--
		}
		for tail < len(s) && !utf8.RuneStart(s[tail]) {
			tail++
		}
		s = s[:head] + "…" + s[tail:]
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\ufffd' {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}

// Bytes writes a size in bytes as people read it in messages: 12 bytes,
// 4 KiB, 1.5 MiB.
func Bytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// kind names a file mode for messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}

// local returns rel cleaned, in the system's form, when it names a place
// strictly below the root.
func local(op, rel string) (string, error) {
	p := filepath.Clean(filepath.FromSlash(rel))
	if strings.ContainsRune(rel, 0) || !filepath.IsLocal(p) || p == "." {
		return "", &Error{Op: op, Path: rel, Err: ErrOutside}
	}
	return p, nil
}

// walk checks each existing part of p (cleaned, local) under r: none may be
// a symlink. It returns the last part's information, nil when a part does
// not exist (what is missing cannot be a link).
func walk(r *os.Root, op, rel, p string) (fs.FileInfo, error) {
	parts := strings.Split(p, string(filepath.Separator))
	cur := ""
	for i, seg := range parts {
		cur = filepath.Join(cur, seg)
		fi, err := r.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, &Error{Op: op, Path: rel, Err: err}
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil, &Error{Op: op, Path: rel, At: filepath.ToSlash(cur), Err: ErrSymlink}
		}
		if i < len(parts)-1 && !fi.IsDir() {
			return nil, &Error{Op: op, Path: rel, At: filepath.ToSlash(cur), Kind: kind(fi.Mode()), Want: "a directory", Err: ErrNotRegular}
		}
		if i == len(parts)-1 {
			return fi, nil
		}
	}
	return nil, nil
}

// open checks rel as a local path and opens root; the os.Root keeps every
// later step inside it even if a part is swapped for a link after walk
// looked at it. It returns rel cleaned, for walk.
func open(op, root, rel string) (*os.Root, string, error) {
	p, err := local(op, rel)
	if err != nil {
		return nil, "", err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, "", &Error{Op: op, Path: rel, Err: err}
	}
	return r, p, nil
}

// ReadFile reads rel, a path relative to root that must stay below it, as
// one of Slipway's own project files: no part of it may be a symlink, it
// must be a regular file, and it is read only up to limit bytes (a larger
// one is refused with ErrTooLarge). A missing file's error matches
// fs.ErrNotExist.
func ReadFile(root, rel string, limit int64) ([]byte, error) {
	const op = "reading"
	r, p, err := open(op, root, rel)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fi, err := walk(r, op, rel, p)
	if err != nil {
		return nil, err
	}
	if fi == nil {
		return nil, &Error{Op: op, Path: rel, Err: fs.ErrNotExist}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Op: op, Path: rel, Kind: kind(fi.Mode()), Err: ErrNotRegular}
	}
	f, err := r.OpenFile(p, openFlags, 0)
	if err != nil {
		return nil, &Error{Op: op, Path: rel, Err: err}
	}
	defer f.Close()
	return readBounded(f, op, rel, limit)
}

// ReadRegular reads path, which may lie anywhere and may be reached
// through symlinks (a CA bundle in /etc/ssl/certs often is one), refusing
// anything but a regular file and reading at most limit bytes.
func ReadRegular(path string, limit int64) ([]byte, error) {
	const op = "reading"
	if err := StatRegular(path, limit); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, &Error{Op: op, Path: path, Err: err}
	}
	defer f.Close()
	return readBounded(f, op, path, limit)
}

// StatRegular checks, without opening it, that path (through symlinks) is
// a regular file of at most limit bytes, for files another library reads.
// A missing file's error matches fs.ErrNotExist.
func StatRegular(path string, limit int64) error {
	const op = "reading"
	fi, err := os.Stat(path)
	if err != nil {
		return &Error{Op: op, Path: path, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return &Error{Op: op, Path: path, Kind: kind(fi.Mode()), Err: ErrNotRegular}
	}
	if fi.Size() > limit {
		return &Error{Op: op, Path: path, Size: fi.Size(), Limit: limit, Err: ErrTooLarge}
	}
	return nil
}

// readBounded reads f, checked again once open (the path may have changed
// since it was looked at), to at most limit bytes. Files under /proc say
// they are empty and regular, so the read itself is bounded too.
func readBounded(f *os.File, op, name string, limit int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, &Error{Op: op, Path: name, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Op: op, Path: name, Kind: kind(fi.Mode()), Err: ErrNotRegular}
	}
	if fi.Size() > limit {
		return nil, &Error{Op: op, Path: name, Size: fi.Size(), Limit: limit, Err: ErrTooLarge}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &Error{Op: op, Path: name, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, &Error{Op: op, Path: name, Size: max(fi.Size(), int64(len(data))), Limit: limit, Err: ErrTooLarge}
	}
	return data, nil
}

// WriteFile writes data to rel under root as one of Slipway's own project
// files: no part of the path may be a symlink, an existing file must be a
// regular one, and the data goes to a temporary file in the same
// directory that is then renamed over rel, so the file is never seen half
// written and never written through a link. Missing directories are made.
func WriteFile(root, rel string, data []byte, perm fs.FileMode) error {
	const op = "writing"
	r, p, err := open(op, root, rel)
	if err != nil {
		return err
	}
	defer r.Close()
	fi, err := walk(r, op, rel, p)
	if err != nil {
		return err
	}
	if fi != nil && !fi.Mode().IsRegular() {
		return &Error{Op: op, Path: rel, Kind: kind(fi.Mode()), Err: ErrNotRegular}
	}
	dir := filepath.Dir(p)
	if dir != "." {
		if err := r.MkdirAll(dir, 0o755); err != nil {
			return &Error{Op: op, Path: rel, Err: err}
		}
	}
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	tmp := filepath.Join(dir, "."+filepath.Base(p)+"."+hex.EncodeToString(nonce[:])+".tmp")
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return &Error{Op: op, Path: rel, Err: err}
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		_ = r.Remove(tmp)
		return &Error{Op: op, Path: rel, Err: err}
	}
	if err := r.Rename(tmp, p); err != nil {
		_ = r.Remove(tmp)
		return &Error{Op: op, Path: rel, Err: err}
	}
	return nil
}

// CheckPath checks that no part of rel under root is a symlink, for a
// directory whose files are then read by name (a module of a monorepo).
// Missing parts are no error.
func CheckPath(root, rel string) error {
	const op = "checking"
	r, p, err := open(op, root, rel)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = walk(r, op, rel, p)
	return err
}

// CheckTree checks rel under root, when it exists, as a directory of
// Slipway's own output: reached through no symlink, and holding no
// symlink or special file at any depth. Code that then reads and writes
// the tree with functions that follow links (go-containerregistry's
// layout among them) stays inside it.
func CheckTree(root, rel string) error {
	const op = "checking"
	r, p, err := open(op, root, rel)
	if err != nil {
		return err
	}
	defer r.Close()
	fi, err := walk(r, op, rel, p)
	if err != nil || fi == nil {
		return err
	}
	if !fi.IsDir() {
		return &Error{Op: op, Path: rel, Kind: kind(fi.Mode()), Want: "a directory", Err: ErrNotRegular}
	}
	return fs.WalkDir(r.FS(), filepath.ToSlash(p), func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return &Error{Op: op, Path: rel, At: name, Err: err}
		}
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			return &Error{Op: op, Path: rel, At: name, Err: ErrSymlink}
		case !t.IsDir() && !t.IsRegular():
			return &Error{Op: op, Path: rel, At: name, Kind: kind(t), Want: "a regular file or directory", Err: ErrNotRegular}
		}
		return nil
	})
}

// Resolve returns the real path of rel under root for a setting that may
// name a file of the project (a key, a CA bundle): rel must stay below
// root once cleaned, and every symlink on it must lead to a place inside
// root. Unlike ReadFile it follows such links: the file is the team's,
// not Slipway's. Parts that do not exist are taken as written.
func Resolve(root, rel string) (string, error) {
	const op = "resolving"
	p, err := local(op, rel)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(root)
	if err == nil {
		real, err = filepath.Abs(real)
	}
	if err != nil {
		return "", &Error{Op: op, Path: rel, Err: err}
	}
	cur := real
	parts := strings.Split(p, string(filepath.Separator))
	for i, seg := range parts {
		next := filepath.Join(cur, seg)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.Join(append([]string{next}, parts[i+1:]...)...), nil
		}
		if err != nil {
			return "", &Error{Op: op, Path: rel, Err: err}
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			at := filepath.ToSlash(filepath.Join(parts[:i+1]...))
			target, err := filepath.EvalSymlinks(next)
			if err != nil {
				return "", &Error{Op: op, Path: rel, At: at, Err: err}
			}
			if !within(real, target) {
				return "", &Error{Op: op, Path: rel, At: at, Target: target, Err: ErrOutside}
			}
			next = target
		}
		cur = next
	}
	return cur, nil
}

// within reports whether path is root or lies below it.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}
