package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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

// Scaffold writes slipway.yaml, pod.yml and ci.yaml into dir and returns the
// paths written. It writes nothing when any file exists, unless Force.
func Scaffold(dir string, o ScaffoldOptions) ([]string, error) {
	o.App = cmp.Or(o.App, AppName(dir))
	o.Registry = cmp.Or(o.Registry, "127.0.0.1:5000/team")
	o.Port = cmp.Or(o.Port, 8080)
	host, _, _ := strings.Cut(o.Registry, "/")
	data := map[string]any{
		"App": o.App, "Registry": o.Registry, "Port": o.Port,
		"Insecure": strings.HasPrefix(host, "127.") || strings.HasPrefix(host, "localhost"),
	}
	files := []struct{ name, tmpl string }{
		{ProjectFile, "init/slipway.yaml.tmpl"},
		{PodFile, "init/pod.yml.tmpl"},
		{CIFile, "init/ci.yaml.tmpl"},
	}
	var existing []string
	out := make([][]byte, len(files))
	for i, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, f.name)); err == nil && !o.Force {
			existing = append(existing, f.name)
		}
		b, err := templates.Render(f.tmpl, data)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	if len(existing) > 0 {
		return nil, remedy.With(fmt.Errorf("initialising %s: %w: %s", dir, ErrExists, strings.Join(existing, ", ")), remedy.Remedy{Kind: remedy.OverwriteInit})
	}
	// What is written must load: check before touching the disk.
	p, err := ParseProject(ProjectFile, out[0])
	if err != nil {
		return nil, fmt.Errorf("initialising %s: %w", dir, err)
	}
	if _, err := ParseCI(CIFile, out[2], p); err != nil {
		return nil, fmt.Errorf("initialising %s: %w", dir, err)
	}
	var written []string
	for i, f := range files {
		// Never through a symlink, which Force would otherwise follow.
		if err := projfs.WriteFile(dir, f.name, out[i], 0o644); err != nil {
			return written, fmt.Errorf("initialising %s: %w", dir, err)
		}
		written = append(written, f.name)
	}
	added, err := ignoreOutput(dir)
	if err != nil {
		return written, err
	}
	if added {
		written = append(written, ".gitignore")
	}
	return written, nil
}

// OutputIgnore is the .gitignore line for Slipway's output directory.
const OutputIgnore = ".slipway/"

// ignoreOutput adds OutputIgnore to dir/.gitignore unless a line already
// ignores .slipway, so that builds never dirty the working tree. It reports
// whether it wrote.
func ignoreOutput(dir string) (bool, error) {
	data, err := projfs.ReadFile(dir, ".gitignore", maxGitignore)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("initialising %s: %w", dir, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		switch strings.TrimSpace(line) {
		case ".slipway", ".slipway/", "/.slipway", "/.slipway/", ".slipway/*", "/.slipway/*":
			return false, nil
		}
	}
	if len(data) > 0 && !strings.HasSuffix(string(data), "\n") {
		data = append(data, '\n')
	}
	data = append(data, OutputIgnore+"\n"...)
	if err := projfs.WriteFile(dir, ".gitignore", data, 0o644); err != nil {
		return false, fmt.Errorf("initialising %s: %w", dir, err)
	}
	return true, nil
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
