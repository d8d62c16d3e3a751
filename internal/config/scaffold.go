package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/slipwayhq/slipway/internal/projfs"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/templates"
)

// ErrExists is matched when init would overwrite files without force.
var ErrExists = errors.New("files already exist")

// ScaffoldOptions say what `slipway init` writes.
type ScaffoldOptions struct {
	App      string // default: from the directory name
	Registry string // dev registry address (default 127.0.0.1:5000/team)
	Port     int    // default 8080
	Force    bool   // overwrite existing files
}

// Scaffolded is what Scaffold found and wrote.
type Scaffolded struct {
	// Written are the files written, relative to the project.
	Written []string `json:"written"`
	Detected
	// Main is the Go package ciBuild builds, "." or "./cmd/NAME".
	Main string `json:"main,omitempty"`
	// FillIn are the settings left for the team to fill in.
	FillIn []FillIn `json:"fillIn,omitempty"`
}

// FillIn is a setting the scaffold could not know.
type FillIn struct {
	File  string `json:"file"`
	Field string `json:"field"`
	// What is what the setting must say.
	What string `json:"what"`
}

// Scaffold looks at the project in dir (see Detect) and writes
// slipway.yaml, pod.yml and ci.yaml whose tasks and layers build it
// (for a static site also serve/main.go, its file server), and adds the
// build's output and Slipway's to .gitignore. It writes nothing when any
// file exists, unless Force.
func Scaffold(dir string, o ScaffoldOptions) (Scaffolded, error) {
	o.App = cmp.Or(o.App, AppName(dir))
	o.Registry = cmp.Or(o.Registry, "127.0.0.1:5000/team")
	o.Port = cmp.Or(o.Port, 8080)
	listing, err := ListProject(dir)
	if err != nil {
		return Scaffolded{}, fmt.Errorf("initialising %s: %w", dir, err)
	}
	d := newScaffoldData(o, Detect(listing))
	files, err := d.render()
	if err != nil {
		return Scaffolded{}, fmt.Errorf("initialising %s: %w", dir, err)
	}
	var existing []string
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(f.name))); err == nil && !o.Force {
			existing = append(existing, f.name)
		}
	}
	if len(existing) > 0 {
		return Scaffolded{}, remedy.With(fmt.Errorf("initialising %s: %w: %s", dir, ErrExists, strings.Join(existing, ", ")), remedy.Remedy{Kind: remedy.OverwriteInit})
	}
	res := Scaffolded{Detected: d.Detected, Main: d.Main, FillIn: d.fillIn()}
	for _, f := range files {
		// Never through a symlink, which Force would otherwise follow.
		if err := projfs.WriteFile(dir, f.name, f.data, 0o644); err != nil {
			return res, fmt.Errorf("initialising %s: %w", dir, err)
		}
		res.Written = append(res.Written, f.name)
	}
	added, err := ignoreOutput(dir, d.Out)
	if err != nil {
		return res, err
	}
	if added {
		res.Written = append(res.Written, ".gitignore")
	}
	return res, nil
}

// scaffoldFile is a file Scaffold writes.
type scaffoldFile struct {
	name string
	data []byte
}

// render renders the files for d and checks that what is written loads.
func (d scaffoldData) render() ([]scaffoldFile, error) {
	files := []scaffoldFile{{name: ProjectFile}, {name: PodFile}, {name: CIFile}}
	for i, f := range files {
		b, err := templates.Render("init/"+f.name+".tmpl", d)
		if err != nil {
			return nil, err
		}
		files[i].data = b
	}
	if d.Kind == KindStatic {
		b, err := fs.ReadFile(templates.FS, "init/serve.go.txt")
		if err != nil {
			return nil, fmt.Errorf("reading the file server's source: %w", err)
		}
		files = append(files, scaffoldFile{name: serveSource, data: b})
	}
	// What is written must load: check before touching the disk.
	p, err := ParseProject(ProjectFile, files[0].data)
	if err != nil {
		return nil, fmt.Errorf("scaffolding %s: %w", ProjectFile, err)
	}
	if _, err := ParseCI(CIFile, files[2].data, p); err != nil {
		return nil, fmt.Errorf("scaffolding %s: %w", CIFile, err)
	}
	return files, nil
}

// serveSource is where a static site's scaffold puts its file server.
const serveSource = "serve/main.go"

// scaffoldPlatform is an os/arch pair the scaffold builds for.
type scaffoldPlatform struct{ OS, Arch string }

func (p scaffoldPlatform) String() string { return p.OS + "/" + p.Arch }

// scaffoldData is what the init templates are rendered from.
type scaffoldData struct {
	App, Registry string
	Port          int
	Insecure      bool
	Detected
	// Platforms are the image's, each built by a line of ciBuild.
	Platforms []scaffoldPlatform
	// Out is the directory ciBuild writes and the layer reads.
	Out string
	// Main is the Go package ciBuild builds.
	Main string
	// JVM: Gradle or Maven, run as Tool BuildArgs, writing jars to Jars.
	JVM                       bool
	Tool, BuildArgs, TestArgs string
	Jars                      string
	// SiteExclude leaves the project's own files out of a site at the root.
	SiteExclude []string
}

// newScaffoldData decides the scaffold of a project found to be det.
func newScaffoldData(o ScaffoldOptions, det Detected) scaffoldData {
	host, _, _ := strings.Cut(o.Registry, "/")
	d := scaffoldData{
		App: o.App, Registry: o.Registry, Port: o.Port,
		Insecure:  strings.HasPrefix(host, "127.") || strings.HasPrefix(host, "localhost"),
		Detected:  det,
		Platforms: []scaffoldPlatform{{"linux", "amd64"}},
		Out:       "dist",
	}
	switch det.Kind {
	case KindGo:
		d.Main = goMain(det.Mains, o.App)
	case KindGradle:
		d.JVM, d.Tool, d.BuildArgs, d.TestArgs, d.Jars = true, "gradle", "assemble", "test", "build/libs"
		if det.Wrapper {
			d.Tool = "./gradlew"
		}
	case KindMaven:
		d.JVM, d.Tool, d.BuildArgs, d.TestArgs, d.Jars = true, "mvn", "-B -DskipTests package", "-B test", "target"
		if det.Wrapper {
			d.Tool = "./mvnw"
		}
	case KindStatic:
		// Beside its source, never in a directory a site may be in.
		d.Out = path.Dir(serveSource) + "/bin"
		if det.Site == "." {
			d.SiteExclude = []string{"/" + ProjectFile, "/" + CIFile, "/" + PodFile, "/" + path.Dir(serveSource) + "/", "/.gitignore", "/.slipwayignore"}
		}
	}
	return d
}

// goMain is the main package ciBuild builds: the command named after the
// app, else the root's, else the first command; ./cmd/APP when there is
// none (and fillIn says so).
func goMain(mains []string, app string) string {
	switch {
	case slices.Contains(mains, "cmd/"+app):
		return "./cmd/" + app
	case len(mains) == 0:
		return "./cmd/" + app
	case mains[0] == ".":
		return "."
	}
	return "./" + mains[0]
}

// fillIn lists the settings of d's scaffold left to fill in.
func (d scaffoldData) fillIn() []FillIn {
	switch {
	case d.Kind == KindOther:
		return []FillIn{
			{File: CIFile, Field: "tasks.ciBuild", What: fmt.Sprintf("the command that builds the app into %s/OS_ARCH/%s (or change image.layers in %s)", d.Out, d.App, ProjectFile)},
			{File: CIFile, Field: "tasks.ciTest", What: "the command that runs the tests"},
		}
	case d.Kind == KindGo && len(d.Mains) == 0:
		return []FillIn{{File: CIFile, Field: "tasks.ciBuild", What: fmt.Sprintf("no main package was found (main.go, or cmd/NAME/*.go): it builds %s as it stands", d.Main)}}
	}
	return nil
}

// OutputIgnore is the .gitignore line for Slipway's output directory.
const OutputIgnore = ".slipway/"

// ignoreOutput adds OutputIgnore, and the line for out (the build's output
// directory), to dir/.gitignore unless a line already ignores each, so
// that builds never dirty the working tree. It reports whether it wrote.
func ignoreOutput(dir, out string) (bool, error) {
	data, err := projfs.ReadFile(dir, ".gitignore", maxGitignore)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("initialising %s: %w", dir, err)
	}
	var add []string
	for _, name := range []string{strings.TrimSuffix(OutputIgnore, "/"), out} {
		if !ignores(string(data), name) {
			add = append(add, name+"/")
		}
	}
	if len(add) == 0 {
		return false, nil
	}
	if len(data) > 0 && !strings.HasSuffix(string(data), "\n") {
		data = append(data, '\n')
	}
	data = append(data, strings.Join(add, "\n")+"\n"...)
	if err := projfs.WriteFile(dir, ".gitignore", data, 0o644); err != nil {
		return false, fmt.Errorf("initialising %s: %w", dir, err)
	}
	return true, nil
}

// ignores reports whether a line of the .gitignore text ignores the
// directory name at the root, in one of the usual ways of writing it.
func ignores(text, name string) bool {
	for _, line := range strings.Split(text, "\n") {
		switch strings.TrimSpace(line) {
		case name, name + "/", "/" + name, "/" + name + "/", name + "/*", "/" + name + "/*":
			return true
		}
	}
	return false
}

// maxGitignore bounds the .gitignore read: real ones are a few kilobytes.
const maxGitignore = 1 << 20

var notLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// AppName turns a directory's name into a valid app name.
func AppName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	name := notLabel.ReplaceAllString(strings.ToLower(filepath.Base(abs)), "-")
	name = strings.Trim(name, "-")
	if len(name) > maxAppLen {
		name = strings.Trim(name[:maxAppLen], "-")
	}
	if name == "" {
		return "app"
	}
	return name
}
