package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/projfs"
)

// TestProjectBoundary holds that a layer copies only from inside the
// project: no path, template or symlink leads out, and .git and .slipway
// never go in.
func TestProjectBoundary(t *testing.T) {
	noSourceDateEpoch(t)
	outside := t.TempDir()
	writeProject(t, outside, map[string]file{"secret/passwd": {content: "root:x:0:0"}})
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{
		"bin/hello":           {content: "hi"},
		"up":                  {link: ".."},
		"etc":                 {link: filepath.Join(outside, "secret")},
		"dist/linux_amd64":    {link: filepath.Join(outside, "secret")},
		"dist/inside":         {link: "../bin"},
		"to-git":              {link: ".git"},
		".git/config":         {content: "[remote] url = https://user:token@example.com/x.git"},
		".slipway/build.json": {content: "{}"},
	})
	tests := []struct {
		name string
		from string
		want string
	}{
		{"dot-dot", "../" + filepath.Base(outside) + "/secret/passwd", "outside the project"},
		{"dot-dot in the middle", "bin/../../x", "outside the project"},
		{"absolute", "/etc/passwd", "relative to the project"},
		{"a template that climbs", "{{if .OS}}..{{end}}/x", "outside the project"},
		{"a template with a loop", "{{range 1000000000}}a{{end}}", "may use {{.OS}}"},
		{"a template calling a function", `{{printf "%s" "../x"}}`, "may use {{.OS}}"},
		{"a symlink to the parent", "up/x", "up is a symlink to"},
		{"a symlink out, as the source", "etc", "etc is a symlink to"},
		{"a symlink out, inside the path", "etc/passwd", "etc is a symlink to"},
		{"a symlink out, through a template", "dist/{{.OS}}_{{.Arch}}", "dist/linux_amd64 is a symlink to"},
		{".git named", ".git", ".git never goes into an image"},
		{".git inside", ".git/config", ".git never goes into an image"},
		{".slipway named", ".slipway/build.json", ".slipway never goes into an image"},
		{"a symlink to .git", "to-git/config", ".git never goes into an image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(dir)
			o.Image.Layers = []config.Layer{{From: tt.from, To: "/x"}}
			_, err := Build(context.Background(), o)
			if err == nil || !errors.Is(err, ErrLayer) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrLayer saying %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, OutputDir, LayoutDir)); err == nil {
				t.Error("a refused build wrote a layout")
			}
		})
	}

	// A symlink that stays inside the project is followed as a source.
	o := testOptions(dir)
	o.Image.Layers = []config.Layer{{From: "dist/inside", To: "/app"}}
	got := names(lastLayer(t, layoutImage(t, build(t, o), "")))
	if want := []string{"app/", "app/hello"}; !reflect.DeepEqual(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
}

// TestWalkNeverFollowsOut holds that symlinks inside a layer's tree are
// stored as links, whatever they point to, and that .git and .slipway
// directories are skipped at any depth.
func TestWalkNeverFollowsOut(t *testing.T) {
	noSourceDateEpoch(t)
	outside := t.TempDir()
	writeProject(t, outside, map[string]file{"big/file": {content: "outside"}})
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{
		"app/main":                {content: "main"},
		"app/out":                 {link: filepath.Join(outside, "big")},
		"app/up":                  {link: "../.."},
		"app/module/.git/HEAD":    {content: "x"},
		"app/module/.slipway/x":   {content: "x"},
		"app/module/.slipwayrc":   {content: "a name that only starts like .slipway"},
		"app/module/code.go":      {content: "package x"},
		"app/module/.gitignore":   {content: "x"},
		"app/module/.git-keep/ok": {content: "not .git"},
	})
	o := testOptions(dir)
	o.Image.Layers = []config.Layer{{From: "app", To: "/srv"}}
	l := lastLayer(t, layoutImage(t, build(t, o), ""))
	var got []string
	for _, e := range l {
		s := e.hdr.Name
		if e.hdr.Linkname != "" {
			s += " -> " + e.hdr.Linkname
		}
		got = append(got, s)
	}
	want := []string{"srv/", "srv/main", "srv/module/", "srv/module/.git-keep/", "srv/module/.git-keep/ok",
		"srv/module/.gitignore", "srv/module/.slipwayrc", "srv/module/code.go",
		"srv/out -> " + filepath.Join(outside, "big"), "srv/up -> ../.."}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries\n got %q\nwant %q", got, want)
	}
}

// TestSecretsLeftOut holds that files that look like secrets stay out of
// the image, with a warning that names them, unless image.allowSecrets
// names them.
func TestSecretsLeftOut(t *testing.T) {
	noSourceDateEpoch(t)
	dir := t.TempDir()
	files := map[string]file{"app/main": {content: "main"}}
	secrets := []string{
		"app/.env", "app/.env.production", "app/.envrc", "app/tls/server.pem", "app/tls/server.key",
		"app/id_rsa", "app/id_rsa.pub", "app/keys/id_ed25519", "app/.npmrc", "app/.netrc",
		"app/home/.docker/config.json", "app/kubeconfig", "app/prod.kubeconfig", "app/home/.kube/config",
	}
	for _, s := range secrets {
		files[s] = file{content: "secret"}
	}
	files["app/home/.docker/daemon.json"] = file{content: "not a secret"}
	files["app/certs/ca.pem"] = file{content: "a public CA, wanted"}
	writeProject(t, dir, files)

	o := testOptions(dir)
	o.Image.Layers = []config.Layer{{From: "app", To: "/srv"}}
	o.Image.AllowSecrets = []string{"app/certs/ca.pem"}
	var events []progress.Event
	o.Progress = progress.Func(func(e progress.Event) { events = append(events, e) })
	res := build(t, o)
	got := names(lastLayer(t, layoutImage(t, res, "")))
	want := []string{"srv/", "srv/certs/", "srv/certs/ca.pem", "srv/home/", "srv/home/.docker/", "srv/home/.docker/daemon.json",
		"srv/home/.kube/", "srv/keys/", "srv/main", "srv/tls/"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries\n got %q\nwant %q", got, want)
	}
	if len(res.Warnings) != 1 {
		t.Fatalf("warnings: %q", res.Warnings)
	}
	for _, s := range []string{"left out 14 files that look like secrets", "app/.env,", "image.allowSecrets"} {
		if !strings.Contains(res.Warnings[0], s) {
			t.Errorf("the warning %q does not say %q", res.Warnings[0], s)
		}
	}
	warned := false
	for _, e := range events {
		warned = warned || (e.Kind == progress.Warn && strings.Contains(e.Msg, "look like secrets"))
	}
	if !warned {
		t.Error("no warning was reported as progress")
	}

	// The up-to-date build warns again.
	res = build(t, o)
	if !res.UpToDate || len(res.Warnings) != 1 {
		t.Errorf("up to date %v, warnings %q", res.UpToDate, res.Warnings)
	}

	// A layer that names a secret-looking file itself is refused.
	o.Image.Layers = []config.Layer{{From: "app/tls/server.key", To: "/srv/server.key"}}
	if _, err := Build(context.Background(), o); !errors.Is(err, ErrSecretFile) || !strings.Contains(err.Error(), "image.allowSecrets") {
		t.Errorf("err = %v, want ErrSecretFile naming image.allowSecrets", err)
	}
	o.Image.AllowSecrets = []string{"/app/tls/server.key"}
	build(t, o)
}

// TestOutputStaysInside holds that build and push neither write nor read
// through a committed symlink in the output directory, nor read a FIFO or
// device there: a .slipway that leads out of the project is refused
// before anything is written or read.
func TestOutputStaysInside(t *testing.T) {
	noSourceDateEpoch(t)
	_, client := testRegistry(t, nil)
	tests := []struct {
		name  string
		files map[string]file // with outside/ standing for the outside directory
	}{
		{"the output directory", map[string]file{".slipway": {link: "outside"}}},
		{"the layout", map[string]file{".slipway/oci": {link: "outside"}}},
		{"the blobs", map[string]file{".slipway/oci/blobs/sha256": {link: "outside"}}},
		{"the record", map[string]file{".slipway/build.json": {link: "outside/build.json"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir, outside := filepath.Join(base, "app"), filepath.Join(base, "outside")
			writeProject(t, outside, map[string]file{"build.json": {content: `{"digest": "sha256:0"}`}})
			files := map[string]file{"bin/hello": {content: "hi"}}
			for p, f := range tt.files {
				f.link = strings.Replace(f.link, "outside", outside, 1)
				files[p] = f
			}
			writeProject(t, dir, files)

			_, err := Build(context.Background(), testOptions(dir))
			if !errors.Is(err, projfs.ErrSymlink) {
				t.Errorf("Build: err = %v, want ErrSymlink", err)
			}
			_, err = Push(context.Background(), PushOptions{Dir: dir, Registry: client})
			if !errors.Is(err, projfs.ErrSymlink) {
				t.Errorf("Push: err = %v, want ErrSymlink", err)
			}
			if _, err := ReadRecord(filepath.Join(dir, OutputDir)); err == nil {
				t.Error("ReadRecord read a record through a symlink")
			}
			des, _ := os.ReadDir(outside)
			if len(des) != 1 {
				t.Errorf("the build wrote outside the project: %d entries there", len(des))
			}
		})
	}
}
