package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/slipwayhq/slipway/internal/config"
)

// Fingerprint identifies an input file. A file is what its path, size,
// mode and content hash say; its mtime only tells whether the hash recorded
// last time can be trusted without reading the file again. Directories carry
// only their mode: their mtime changes with their entries, which are
// fingerprinted themselves.
type Fingerprint struct {
	Path   string      `json:"path"`
	Size   int64       `json:"size,omitempty"`
	MTime  int64       `json:"mtime,omitempty"` // nanoseconds since the Unix epoch
	Mode   fs.FileMode `json:"mode"`
	Link   string      `json:"link,omitempty"`
	SHA256 string      `json:"sha256,omitempty"` // content of regular files
}

// identity is the fingerprint without its mtime: equal identities mean
// equal inputs, however the files were touched.
func (f Fingerprint) identity() Fingerprint {
	f.MTime = 0
	return f
}

// hashContent fills in fp's content hash, reusing the one known from the
// last build when the file's size, mtime and mode are unchanged.
func hashContent(fp *Fingerprint, src string, known map[string]Fingerprint) error {
	if !fp.Mode.IsRegular() || fp.SHA256 != "" {
		return nil
	}
	if k, ok := known[fp.Path]; ok && k.SHA256 != "" && k.Size == fp.Size && k.MTime == fp.MTime && k.Mode == fp.Mode {
		fp.SHA256 = k.SHA256
		return nil
	}
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", fp.Path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s: %w", fp.Path, err)
	}
	fp.SHA256 = hex.EncodeToString(h.Sum(nil))
	return nil
}

// entry is one tar entry of a layer.
type entry struct {
	name string      // path in the image without the leading slash; dirs without trailing slash
	src  string      // file on disk; "" for a directory Slipway creates
	mode fs.FileMode // type bits and permissions as they go into the tar
	size int64
	link string
	fp   *Fingerprint // nil for directories Slipway creates
}

// source is what one layer copies: everything below one path.
type source struct {
	from    string // as written in slipway.yaml after templating, slash-separated
	abs     string
	to      string // clean absolute path in the image
	intoDir bool   // to ended in /: a file goes into that directory
	mode    *fs.FileMode
	exclude []string
}

// walker collects layer entries, skipping excluded paths, .git, .slipway,
// the output directory, and files that look like secrets.
type walker struct {
	dir     string // project root, absolute, symlinks resolved
	output  string // output directory, absolute, symlinks resolved
	ignore  *matcher
	secrets *matcher // files that look like secrets
	allowed *matcher // image.allowSecrets: those that belong in the image
	skipped []string // secret-looking files left out, relative to dir
}

// SecretPatterns are the files left out of every layer unless
// image.allowSecrets names them: environment files, private keys and
// certificates, SSH keys, package-manager and netrc credentials, Docker and
// Kubernetes client configurations.
var SecretPatterns = []string{
	".env", ".env.*", ".envrc",
	"*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore",
	"id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
	".npmrc", ".pypirc", ".netrc", ".git-credentials",
	"**/.docker/config.json",
	"kubeconfig", "kubeconfig.*", "*.kubeconfig", "**/.kube/config",
}

// looksSecret reports whether the file at rel (relative to the project)
// looks like a secret and image.allowSecrets does not name it.
func (w *walker) looksSecret(rel string) bool {
	return w.secrets.match(rel, false) && !w.allowed.match(rel, false)
}

// MissingSourceError is a layer source that does not exist: most often
// the task that makes it (a ci.yaml task, run before build) has not run.
// It matches fs.ErrNotExist.
type MissingSourceError struct {
	// From is the source as written, for the platform, relative to the
	// project.
	From string
}

func (e *MissingSourceError) Error() string { return "no such file or directory" }

// Is makes the error match fs.ErrNotExist.
func (e *MissingSourceError) Is(target error) bool { return target == fs.ErrNotExist }

// ErrSecretFile is returned when a layer names a file that looks like a
// secret as its source.
var ErrSecretFile = errors.New("the file looks like a secret")

// newWalker makes a walker for the project in dir.
func newWalker(dir, output string, ignore *matcher, allow []string) (*walker, error) {
	w := &walker{dir: realPath(dir), output: realPath(output), ignore: ignore}
	var err error
	if w.secrets, err = newMatcher("secret patterns", SecretPatterns); err != nil {
		return nil, err
	}
	if w.allowed, err = newMatcher("image.allowSecrets", allow); err != nil {
		return nil, err
	}
	return w, nil
}

// realPath resolves p's symlinks when it exists.
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// neverPacked reports whether a walk leaves name out whatever the patterns.
func neverPacked(name string) bool {
	for _, n := range config.NeverPacked {
		if name == n {
			return true
		}
	}
	return false
}

// collect lists the entries of a layer in tar order: parents first, then
// each directory's entries by name.
func (w *walker) collect(s source) ([]entry, error) {
	own, err := newMatcher("layer exclude", s.exclude)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(s.abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &MissingSourceError{From: s.from}
	}
	if err != nil {
		return nil, fmt.Errorf("reading layer source: %w", err)
	}
	to := strings.TrimPrefix(s.to, "/")
	if !fi.IsDir() && (s.intoDir || to == "") {
		to = path.Join(to, path.Base(s.from))
	}
	entries := parentDirs(to)
	if !fi.IsDir() {
		if rel := w.rel(s.abs); w.looksSecret(rel) {
			return nil, fmt.Errorf("copying %s: %w; name it in image.allowSecrets to put it in the image on purpose", rel, ErrSecretFile)
		}
		e, err := w.entry(s.abs, to, fi, s.mode)
		if err != nil {
			return nil, err
		}
		return append(entries, e), nil
	}
	if to != "" {
		e, err := w.entry(s.abs, to, fi, nil)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	err = filepath.WalkDir(s.abs, w.visit(s, own, to, &entries))
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// visit adds to entries what the walk of directory source s meets and
// packs at to, leaving out what own (the layer's excludes), the ignore
// file and image.exclude name; files that look like secrets are skipped.
func (w *walker) visit(s source, own *matcher, to string, entries *[]entry) fs.WalkDirFunc {
	return func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading layer source: %w", err)
		}
		if p == s.abs {
			return nil
		}
		if neverPacked(d.Name()) || p == w.output {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		relSrc, err := filepath.Rel(s.abs, p)
		if err != nil {
			return err
		}
		relSrc = filepath.ToSlash(relSrc)
		if own.match(relSrc, d.IsDir()) || w.ignore.match(w.rel(p), d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if rel := w.rel(p); !d.IsDir() && w.looksSecret(rel) {
			w.skipped = append(w.skipped, rel)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading layer source: %w", err)
		}
		e, err := w.entry(p, path.Join(to, relSrc), info, s.mode)
		if err != nil {
			return err
		}
		*entries = append(*entries, e)
		return nil
	}
}

// parentDirs are the directory entries above to, outermost first.
func parentDirs(to string) []entry {
	if to == "" {
		return nil
	}
	var entries []entry
	parts := strings.Split(to, "/")
	for i := 1; i < len(parts); i++ {
		entries = append(entries, entry{name: strings.Join(parts[:i], "/"), mode: fs.ModeDir | 0o755})
	}
	return entries
}

// rel is p relative to the project root, slash-separated.
func (w *walker) rel(p string) string {
	r, err := filepath.Rel(w.dir, p)
	if err != nil {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(r)
}

func (w *walker) entry(p, name string, fi fs.FileInfo, force *fs.FileMode) (entry, error) {
	if strings.HasPrefix(path.Base(name), whiteoutPrefix) {
		return entry{}, fmt.Errorf("copying %s to /%s: %w", w.rel(p), name, ErrWhiteoutName)
	}
	m := fi.Mode()
	e := entry{name: name, src: p}
	fp := &Fingerprint{Path: w.rel(p), Mode: m}
	switch {
	case m.IsRegular():
		e.size = fi.Size()
		e.mode = gitMode(m)
		if force != nil {
			e.mode = *force
		}
		fp.Mode = gitMode(m)
		fp.Size, fp.MTime = fi.Size(), fi.ModTime().UnixNano()
	case m.IsDir():
		e.mode = fs.ModeDir | 0o755
		fp.Mode = e.mode
	case m&fs.ModeSymlink != 0:
		link, err := os.Readlink(p)
		if err != nil {
			return entry{}, fmt.Errorf("reading symlink: %w", err)
		}
		e.mode, e.link = fs.ModeSymlink|0o777, link
		fp.Link, fp.MTime = link, fi.ModTime().UnixNano()
	default:
		return entry{}, fmt.Errorf("copying %s: %w (%s)", w.rel(p), ErrUnsupportedFile, m.Type())
	}
	e.fp = fp
	return e, nil
}

// gitMode is a regular file's mode as git stores it: 0755 when anyone may
// execute it, else 0644. So the digest does not depend on the umask or the
// owner of the checkout, and the image's user, whoever it is, can read every
// file. A layer's mode: overrides it.
func gitMode(m fs.FileMode) fs.FileMode {
	if m&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// ErrUnsupportedFile is returned for devices, sockets and pipes in a layer.
var ErrUnsupportedFile = errors.New("unsupported file type")

// whiteoutPrefix starts the names that, in an image layer, delete a file
// of the layers below (OCI image spec, "Whiteouts").
const whiteoutPrefix = ".wh."

// ErrWhiteoutName is returned for a file whose name in the image starts
// with .wh.: runtimes would delete a file of the base image instead of
// adding it.
var ErrWhiteoutName = errors.New("names starting with .wh. delete files in an image layer; rename it, or leave it out with image.exclude")

// fingerprints lists the fingerprints of entries.
func fingerprints(entries []entry) []Fingerprint {
	fps := make([]Fingerprint, 0, len(entries))
	for _, e := range entries {
		if e.fp != nil {
			fps = append(fps, *e.fp)
		}
	}
	return fps
}

// hashJSON is the hex SHA-256 of v's JSON encoding.
func hashJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encoding %T: %v", v, err)) // only plain data is hashed
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
