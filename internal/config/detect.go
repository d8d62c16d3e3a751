package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Kind is what builds a project, as init finds it: it decides the tasks
// and layers init scaffolds.
type Kind string

// The kinds of project init knows.
const (
	KindGo     Kind = "go"     // go.mod
	KindGradle Kind = "gradle" // build.gradle[.kts], settings.gradle[.kts] or gradlew
	KindMaven  Kind = "maven"  // pom.xml
	KindStatic Kind = "static" // index.html at the root or in public/, dist/ or site/
	KindOther  Kind = ""       // none of these: the scaffold says what to fill in
)

// Detected is what a project's listing shows about how it is built.
type Detected struct {
	Kind Kind `json:"kind"`
	// Mains are a Go module's main package directories, "." or
	// "cmd/NAME", the root first, then by name.
	Mains []string `json:"mains,omitempty"`
	// Wrapper: the project has its build tool's wrapper (gradlew, mvnw).
	Wrapper bool `json:"wrapper,omitempty"`
	// Site is the directory holding a static site's index.html, "." for
	// the root.
	Site string `json:"site,omitempty"`
}

// siteDirs are where a static site's index.html is looked for, in order.
var siteDirs = []string{".", "public", "dist", "site"}

// Detect says how the project whose listing is files is built. files are
// slash-separated paths relative to the project, directories ending in
// "/", as ListProject returns them. The first kind that matches wins: a
// Go module, then Gradle, then Maven, then a static site.
func Detect(files []string) Detected {
	has := func(p string) bool { return slices.Contains(files, p) }
	switch {
	case has("go.mod"):
		return Detected{Kind: KindGo, Mains: goMains(files)}
	case has("build.gradle") || has("build.gradle.kts") || has("settings.gradle") || has("settings.gradle.kts") || has("gradlew"):
		return Detected{Kind: KindGradle, Wrapper: has("gradlew")}
	case has("pom.xml"):
		return Detected{Kind: KindMaven, Wrapper: has("mvnw")}
	}
	for _, d := range siteDirs {
		if has(path.Join(d, "index.html")) {
			return Detected{Kind: KindStatic, Site: d}
		}
	}
	return Detected{Kind: KindOther}
}

// goMains finds main packages by the names of their files: main.go at the
// root (other files there may be a library's), and any directory under
// cmd/ with Go files that are not tests (Go's layout for commands) whose
// name is a plain word (see commandName).
func goMains(files []string) []string {
	var mains []string
	if slices.Contains(files, "main.go") {
		mains = append(mains, ".")
	}
	var cmds []string
	for _, f := range files {
		rest, ok := strings.CutPrefix(f, "cmd/")
		name, file, nested := strings.Cut(rest, "/")
		if !ok || !nested || strings.Contains(file, "/") || !strings.HasSuffix(file, ".go") || strings.HasSuffix(file, "_test.go") || !commandName.MatchString(name) {
			continue
		}
		if p := "cmd/" + name; !slices.Contains(cmds, p) {
			cmds = append(cmds, p)
		}
	}
	slices.Sort(cmds)
	return append(mains, cmds...)
}

// commandName is a directory name under cmd/ that init writes into
// ciBuild's shell command and slipway.yaml as it is: letters, digits, .,
// _ and -, not first. Other names, which a shell or YAML would read as more
// than a name, are never taken for a command.
var commandName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// maxDirEntries bounds the entries ListProject reads from one directory:
// detection needs a few names, not all of a huge one.
const maxDirEntries = 4096

// ListProject lists what Detect looks at in dir: the root's entries, and
// those of cmd/'s directories and of the static site directories.
// Directories end in "/"; symlinks are listed but never followed.
func ListProject(dir string) ([]string, error) {
	root, err := listDir(dir, "")
	if err != nil {
		return nil, err
	}
	out := slices.Clone(root)
	var subdirs []string
	for _, d := range siteDirs[1:] {
		if slices.Contains(root, d+"/") {
			subdirs = append(subdirs, d)
		}
	}
	if slices.Contains(root, "cmd/") {
		cmd, err := listDir(dir, "cmd")
		if err != nil {
			return nil, err
		}
		out = append(out, cmd...)
		for _, e := range cmd {
			if strings.HasSuffix(e, "/") {
				subdirs = append(subdirs, strings.TrimSuffix(e, "/"))
			}
		}
	}
	for _, d := range subdirs {
		entries, err := listDir(dir, d)
		if err != nil {
			return nil, err
		}
		out = append(out, entries...)
	}
	return out, nil
}

// listDir lists at most maxDirEntries entries of rel under dir, as
// slash-separated paths relative to dir.
func listDir(dir, rel string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", filepath.Join(dir, rel), err)
	}
	defer f.Close()
	entries, err := f.ReadDir(maxDirEntries)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("listing %s: %w", filepath.Join(dir, rel), err)
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		name := path.Join(rel, e.Name())
		if e.IsDir() { // a symlink to a directory is not one here
			name += "/"
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}
