package gitops

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// Change is a commit of Slipway's own files under the environment's path.
type Change struct {
	// Files are the files to write, by slash-separated path relative to
	// the environment's path, with their whole content: by convention
	// AppFile(app), holding every manifest of the app.
	Files map[string][]byte
	// Remove are files to remove, relative to the environment's path.
	Remove []string
	// Message is the commit message before the trailers: a subject line,
	// then optionally a blank line and a body; "" is "slipway: update
	// PATH".
	Message string
	// Trailers are recorded in the commit.
	Trailers Trailers
}

// AppFile is the file under an environment's path that holds an app's
// manifests, and the only file of that app Slipway writes there.
func AppFile(app string) string { return app + ".yaml" }

// Bounds of paths, which reach trees and messages.
const (
	maxPath     = 1024
	maxSegment  = 255
	maxSegments = 32
)

// cleanPath checks p, a slash-separated path inside the repository, and
// returns it; with root, "" and "." are the repository's root, returned as
// "". The path must be written plainly: no empty, "." or ".." segment, no
// ".git" in any case, no leading or trailing '/', no backslash, only
// printable characters.
func cleanPath(what, p string, root bool) (string, error) {
	if root && (p == "" || p == ".") {
		return "", nil
	}
	bad := func(why string) error {
		return fmt.Errorf("checking %s %s: %w: %s", what, quote(p), ErrInvalid, why)
	}
	switch {
	case p == "":
		return "", bad("it is empty")
	case len(p) > maxPath:
		return "", bad(fmt.Sprintf("it is longer than %d bytes", maxPath))
	case !printable(p, false) || strings.Contains(p, "\\"):
		return "", bad("it holds a control character or a backslash")
	}
	segs := strings.Split(p, "/")
	if len(segs) > maxSegments {
		return "", bad(fmt.Sprintf("it is more than %d directories deep", maxSegments))
	}
	for _, s := range segs {
		switch {
		case s == "" || s == "." || s == "..":
			return "", bad("it must be a relative path of '/'-separated names, without '.' or '..'")
		case strings.EqualFold(s, ".git"):
			return "", bad("git's own .git cannot be written")
		case len(s) > maxSegment:
			return "", bad(fmt.Sprintf("a name is longer than %d bytes", maxSegment))
		}
	}
	return p, nil
}

// change is a Change made ready to apply: the entry each path from the
// repository's root is to hold (zero: removed), the blobs they need, and
// the whole commit message.
type change struct {
	edits   map[string]entry
	blobs   []plumbing.EncodedObject
	message string
}

// kustomizations are the names kustomize builds a directory from: the
// environment's own, never Slipway's to write.
var kustomizations = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// ownFile is name cleaned, when it may be Slipway's to write: not a
// kustomization file.
func ownFile(name string) (string, error) {
	p, err := cleanPath("file", name, false)
	if err != nil {
		return "", err
	}
	if slices.Contains(kustomizations, path.Base(p)) {
		return "", fmt.Errorf("checking file %s: %w: it is the directory's kustomization, which Slipway leaves to the environment's owners", quote(name), ErrInvalid)
	}
	return p, nil
}

// prepare checks ch against limits and makes it a change under dir (""
// is the root).
func prepare(ch Change, dir string, limits Limits) (change, error) {
	n := len(ch.Files) + len(ch.Remove)
	switch {
	case n == 0:
		return change{}, fmt.Errorf("checking a change: %w: it names no file", ErrInvalid)
	case n > limits.Files:
		return change{}, fmt.Errorf("checking a change: %w: %d files, more than %d", ErrInvalid, n, limits.Files)
	}
	out := change{edits: map[string]entry{}}
	for name, content := range ch.Files {
		p, err := ownFile(name)
		if err != nil {
			return change{}, err
		}
		if int64(len(content)) > limits.Object {
			return change{}, fmt.Errorf("checking file %s: %w: %d bytes, more than %d", quote(name), ErrInvalid, len(content), limits.Object)
		}
		b := blob(content)
		out.blobs = append(out.blobs, b)
		out.edits[path.Join(dir, p)] = entry{Hash: b.Hash(), Mode: filemode.Regular}
	}
	for _, name := range ch.Remove {
		p, err := ownFile(name)
		if err != nil {
			return change{}, err
		}
		if _, both := out.edits[path.Join(dir, p)]; both {
			return change{}, fmt.Errorf("checking file %s: %w: it is both written and removed", quote(name), ErrInvalid)
		}
		out.edits[path.Join(dir, p)] = entry{}
	}
	if err := nested(out.edits); err != nil {
		return change{}, err
	}
	msg := ch.Message
	if strings.TrimSpace(msg) == "" {
		msg = "slipway: update " + cmp.Or(dir, "the repository's root")
	}
	var err error
	if out.message, err = Message(msg, ch.Trailers); err != nil {
		return change{}, err
	}
	return out, nil
}

// nested refuses edits of which one is a directory of another: a file
// cannot also be a directory.
func nested(edits map[string]entry) error {
	for p := range edits {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := edits[d]; ok {
				return fmt.Errorf("checking file %s: %w: it is a file and a directory of %s", quote(d), ErrInvalid, quote(p))
			}
		}
	}
	return nil
}

// touched are the paths edits change, sorted.
func (c change) touched() []string {
	out := make([]string, 0, len(c.edits))
	for p := range c.edits {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}
