package image

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
)

func TestBuildReproducible(t *testing.T) {
	noSourceDateEpoch(t)
	files := map[string]file{
		"bin/hello":        {content: "#!/bin/sh\necho hello\n", mode: 0o755},
		"web/index.html":   {content: "<h1>hi</h1>"},
		"web/css/site.css": {content: "body{}"},
		"web/a-b/x":        {content: "dash sorts before slash"},
		"web/current":      {link: "index.html"},
	}
	dirA := t.TempDir()
	writeProject(t, dirA, files)
	o := testOptions(dirA)
	o.Image.Layers = append(o.Image.Layers, config.Layer{From: "web", To: "/srv/www"})

	first := build(t, o)
	if first.UpToDate {
		t.Fatal("first build is up to date")
	}

	var events []progress.Event
	o.Progress = progress.Func(func(e progress.Event) { events = append(events, e) })
	again := build(t, o)
	if !again.UpToDate || again.Digest != first.Digest {
		t.Errorf("second build: up to date %v digest %s; want true %s", again.UpToDate, again.Digest, first.Digest)
	}
	if last := events[len(events)-1]; last.Kind != progress.Info || !strings.Contains(last.Msg, "up to date") {
		t.Errorf("last event %+v, want a Skip saying up to date", last)
	}

	// Touch every file: the contents are unchanged, so it is still up to
	// date (a compiler that rewrites identical output does not cost a build).
	later := time.Now().Add(time.Hour)
	err := filepath.WalkDir(dirA, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return os.Chtimes(p, later, later)
	})
	if err != nil {
		t.Fatal(err)
	}
	touched := build(t, o)
	if !touched.UpToDate || touched.Digest != first.Digest {
		t.Errorf("after touching: up to date %v digest %s; want true %s", touched.UpToDate, touched.Digest, first.Digest)
	}
	// The new times are remembered: the next check reads no file.
	rec, err := ReadRecord(filepath.Join(dirA, OutputDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, fp := range rec.Files {
		if fp.Mode.IsRegular() && fp.MTime != later.UnixNano() {
			t.Errorf("%s: recorded mtime %d, want %d", fp.Path, fp.MTime, later.UnixNano())
		}
	}
	// Changed content under the same name is a rebuild.
	writeProject(t, dirA, map[string]file{"web/index.html": {content: "<h1>changed</h1>"}})
	if changed := build(t, o); changed.UpToDate || changed.Digest == first.Digest {
		t.Errorf("after a change: up to date %v digest %s", changed.UpToDate, changed.Digest)
	}

	// Elsewhere, from scratch: the same digest.
	dirB := filepath.Join(t.TempDir(), "deeper", "copy")
	writeProject(t, dirB, files)
	o.Dir = dirB
	elsewhere := build(t, o)
	if elsewhere.Digest != first.Digest {
		t.Errorf("copy elsewhere: digest %s, want %s", elsewhere.Digest, first.Digest)
	}
	if !reflect.DeepEqual(elsewhere.Platforms, first.Platforms) {
		t.Errorf("platforms differ: %+v vs %+v", elsewhere.Platforms, first.Platforms)
	}
}

func TestBuildChangesDigest(t *testing.T) {
	noSourceDateEpoch(t)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "v1", mode: 0o755}})
	o := testOptions(dir)
	base := build(t, o).Digest

	tests := []struct {
		name   string
		change func(o *BuildOptions)
	}{
		{"content", func(o *BuildOptions) {
			writeProject(t, dir, map[string]file{"bin/hello": {content: "v2", mode: 0o755}})
		}},
		{"version", func(o *BuildOptions) { o.Meta.Version = "1.2.4" }},
		{"revision", func(o *BuildOptions) { o.Meta.Revision = strings.Repeat("f", 40) }},
		{"created", func(o *BuildOptions) { o.Meta.Created = o.Meta.Created.Add(time.Second) }},
		{"env", func(o *BuildOptions) { o.Image.Env = map[string]string{"A": "1"} }},
		{"mode", func(o *BuildOptions) { o.Image.Layers[0].Mode = "0700" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeProject(t, dir, map[string]file{"bin/hello": {content: "v1", mode: 0o755}})
			o := testOptions(dir)
			tt.change(&o)
			res := build(t, o)
			if res.UpToDate || res.Digest == base {
				t.Errorf("up to date %v, digest %s unchanged", res.UpToDate, res.Digest)
			}
		})
	}
}

func TestUpToDateReadsNoContents(t *testing.T) {
	noSourceDateEpoch(t)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "aaaa", mode: 0o755}})
	o := testOptions(dir)
	first := build(t, o)

	// Same size and time, other bytes: only a content read could notice.
	p := filepath.Join(dir, "bin", "hello")
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("bbbb"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if res := build(t, o); !res.UpToDate || res.Digest != first.Digest {
		t.Errorf("up to date %v; want a stat-only check", res.UpToDate)
	}

	// Adding a file to a layer's directory is noticed.
	o.Image.Layers = []config.Layer{{From: "bin", To: "/app"}}
	second := build(t, o)
	writeProject(t, dir, map[string]file{"bin/new": {content: "x"}})
	if res := build(t, o); res.UpToDate || res.Digest == second.Digest {
		t.Error("a new file did not cause a rebuild")
	}

	// A lost layout is rebuilt.
	if err := os.RemoveAll(filepath.Join(dir, OutputDir, LayoutDir)); err != nil {
		t.Fatal(err)
	}
	if res := build(t, o); res.UpToDate {
		t.Error("up to date without a layout")
	}
}

func TestSourceDateEpoch(t *testing.T) {
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "hi", mode: 0o755}})
	o := testOptions(dir)

	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	res := build(t, o)
	want := time.Unix(1700000000, 0).UTC()
	img := layoutImage(t, res, "")
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Created.Time.Equal(want) || cfg.Config.Labels[AnnotationCreated] != "2023-11-14T22:13:20Z" {
		t.Errorf("created %s label %s; want %s", cfg.Created.Time, cfg.Config.Labels[AnnotationCreated], want)
	}
	for _, e := range lastLayer(t, img) {
		if !e.hdr.ModTime.Equal(want) {
			t.Errorf("%s mtime %s, want %s", e.hdr.Name, e.hdr.ModTime, want)
		}
	}
	for _, h := range cfg.History {
		if !h.Created.Time.Equal(want) {
			t.Errorf("history %q created %s", h.CreatedBy, h.Created)
		}
	}

	t.Setenv("SOURCE_DATE_EPOCH", "1700000001")
	if other := build(t, o); other.Digest == res.Digest {
		t.Error("another SOURCE_DATE_EPOCH gave the same digest")
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	if _, err := Build(context.Background(), o); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("bad SOURCE_DATE_EPOCH: err = %v", err)
	}
}

func TestPlatforms(t *testing.T) {
	noSourceDateEpoch(t)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{
		"dist/linux_amd64/hello":    {content: "amd64 binary", mode: 0o755},
		"dist/linux_arm64/hello":    {content: "arm64 binary", mode: 0o755},
		"dist/linux_arm_v7/hello":   {content: "armv7 binary", mode: 0o755},
		"assets/shared.txt":         {content: "same everywhere"},
		"dist/linux_riscv64/.keep/": {},
	})
	o := testOptions(dir)
	o.Image.Platforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}
	o.Image.Layers = []config.Layer{
		{From: "assets", To: "/srv"},
		{From: "dist/{{.OS}}_{{.Arch}}{{if .Variant}}_{{.Variant}}{{end}}/hello", To: "/app/hello"},
	}
	res := build(t, o)
	if res.MediaType != string(types.OCIImageIndex) || len(res.Platforms) != 3 {
		t.Fatalf("media type %s, %d platforms; want an index of 3", res.MediaType, len(res.Platforms))
	}
	want := map[string]string{"linux/amd64": "amd64 binary", "linux/arm64": "arm64 binary", "linux/arm/v7": "armv7 binary"}
	var shared []string
	for _, p := range res.Platforms {
		img := layoutImage(t, res, p.Platform)
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Platform().String(); got != p.Platform {
			t.Errorf("config platform %s, want %s", got, p.Platform)
		}
		es := lastLayer(t, img)
		if body := es[len(es)-1].body; body != want[p.Platform] {
			t.Errorf("%s: /app/hello = %q, want %q", p.Platform, body, want[p.Platform])
		}
		ls, _ := img.Layers()
		d, _ := ls[0].Digest()
		shared = append(shared, d.String())
	}
	if shared[0] != shared[1] || shared[1] != shared[2] {
		t.Errorf("the platform-independent layer differs: %v", shared)
	}

	// The layout's only entry is the index, named by the version.
	idx, err := readIndexJSON(layoutPath(res))
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest.String() != res.Digest ||
		idx.Manifests[0].Annotations[AnnotationRefName] != "1.2.3" {
		t.Errorf("index.json = %+v", idx)
	}

	o.Image.Platforms = []string{"linux/riscv64"}
	_, err = Build(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "linux/riscv64") || !strings.Contains(err.Error(), "dist/linux_riscv64/hello") {
		t.Errorf("missing platform binary: err = %v", err)
	}
}

func TestBuildSinglePlatformLayout(t *testing.T) {
	noSourceDateEpoch(t)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "hi", mode: 0o755}})
	res := build(t, testOptions(dir))
	if res.MediaType != string(types.OCIManifestSchema1) || res.Platforms[0].Digest != res.Digest {
		t.Errorf("record %+v; want the image manifest itself", res.Record)
	}
	idx, err := readIndexJSON(layoutPath(res))
	if err != nil {
		t.Fatal(err)
	}
	d := idx.Manifests[0]
	if len(idx.Manifests) != 1 || d.Digest.String() != res.Digest || d.Platform == nil || d.Platform.String() != "linux/amd64" {
		t.Errorf("index.json = %+v", idx)
	}
	m, err := layoutImage(t, res, "").Manifest()
	if err != nil {
		t.Fatal(err)
	}
	wantAnn := map[string]string{
		AnnotationVersion:  "1.2.3",
		AnnotationRevision: testRevision,
		AnnotationSource:   "https://example.com/hello.git",
		AnnotationCreated:  "2024-05-06T07:08:09Z",
	}
	if !reflect.DeepEqual(m.Annotations, wantAnn) {
		t.Errorf("annotations %v, want %v", m.Annotations, wantAnn)
	}
	if m.Layers[0].MediaType != types.OCILayer || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("media types %s %s", m.Layers[0].MediaType, m.Config.MediaType)
	}
	// The previous build's blobs are collected.
	writeProject(t, dir, map[string]file{"bin/hello": {content: "changed", mode: 0o755}})
	build(t, testOptions(dir))
	blobs, err := os.ReadDir(filepath.Join(res.Layout, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 3 { // manifest, config, one layer
		t.Errorf("%d blobs after a rebuild, want 3", len(blobs))
	}
}

func TestExcludes(t *testing.T) {
	noSourceDateEpoch(t)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{
		IgnoreFile:               {content: "# build junk\n*.log\n!keep.log\ntmp/\n**/secret.txt\n/root-only.txt\n"},
		"app/main.txt":           {content: "main"},
		"app/debug.log":          {content: "x"},
		"app/keep.log":           {content: "kept"},
		"app/tmp/x":              {content: "x"},
		"app/sub/tmp":            {content: "a file named tmp stays"},
		"app/sub/secret.txt":     {content: "x"},
		"app/sub/README.md":      {content: "x"},
		"app/docs/guide.txt":     {content: "x"},
		"app/root-only.txt":      {content: "not at the root: stays"},
		"app/.git/config":        {content: "x"},
		"app/sub/.git":           {content: "gitdir: elsewhere"},
		"root-only.txt":          {content: "x"},
		".git/HEAD":              {content: "x"},
		OutputDir + "/stale.txt": {content: "x"},
	})
	tests := []struct {
		name  string
		layer config.Layer
		image []string
		want  []string
	}{
		{
			name:  "ignore file, image and layer excludes",
			layer: config.Layer{From: "app", To: "/srv", Exclude: []string{"*.md", "/docs"}},
			image: []string{"app/sub/tmp-not-there"},
			want: []string{"srv/", "srv/keep.log", "srv/main.txt", "srv/root-only.txt",
				"srv/sub/", "srv/sub/tmp"},
		},
		{
			name:  "whole project never includes .git or the output",
			layer: config.Layer{From: ".", To: "/", Exclude: []string{"app/"}},
			want:  []string{IgnoreFile},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(dir)
			o.Image.Layers = []config.Layer{tt.layer}
			o.Image.Exclude = tt.image
			got := names(lastLayer(t, layoutImage(t, build(t, o), "")))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries\n got %q\nwant %q", got, tt.want)
			}
		})
	}

	o := testOptions(dir)
	o.Image.Exclude = []string{"[unclosed"}
	if _, err := Build(context.Background(), o); err == nil {
		t.Error("bad pattern: no error")
	}
}

func TestModesAndSymlinks(t *testing.T) {
	noSourceDateEpoch(t)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{
		"bin/hello":          {content: "hi", mode: 0o750},
		"bin/tool":           {content: "tool", mode: fs.ModeSetuid | 0o755},
		"conf/app.yaml":      {content: "a: 1", mode: 0o600},
		"conf/current.yaml":  {link: "app.yaml"},
		"conf/abs":           {link: "/etc/passwd"},
		"conf/private/":      {},
		"link-to-bin-hello":  {link: "bin/hello"},
		"scripts/run.sh":     {content: "#!/bin/sh", mode: 0o644},
		"scripts/lib/x.sh":   {content: "x", mode: 0o644},
		"scripts/lib/y.conf": {content: "y", mode: 0o600},
	})
	if err := os.Chmod(filepath.Join(dir, "conf/private"), 0o700); err != nil {
		t.Fatal(err)
	}
	o := testOptions(dir)
	o.Image.Layers = []config.Layer{
		{From: "bin", To: "/usr/local/bin"},
		{From: "conf", To: "/etc/app"},
		{From: "link-to-bin-hello", To: "/hello"},
		{From: "scripts", To: "/opt/scripts", Mode: "0755"},
		{From: "bin/hello", To: "/usr/bin/"},
		{From: "bin/hello", To: "/"},
	}
	img := layoutImage(t, build(t, o), "")
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		name string
		typ  byte
		mode int64
		link string
	}
	wants := [][]want{
		{{"usr/", '5', 0o755, ""}, {"usr/local/", '5', 0o755, ""}, {"usr/local/bin/", '5', 0o755, ""},
			{"usr/local/bin/hello", '0', 0o755, ""}, {"usr/local/bin/tool", '0', 0o755, ""}},
		{{"etc/", '5', 0o755, ""}, {"etc/app/", '5', 0o755, ""}, {"etc/app/abs", '2', 0o777, "/etc/passwd"},
			{"etc/app/app.yaml", '0', 0o644, ""}, {"etc/app/current.yaml", '2', 0o777, "app.yaml"},
			{"etc/app/private/", '5', 0o755, ""}},
		{{"hello", '0', 0o755, ""}},
		{{"opt/", '5', 0o755, ""}, {"opt/scripts/", '5', 0o755, ""}, {"opt/scripts/lib/", '5', 0o755, ""},
			{"opt/scripts/lib/x.sh", '0', 0o755, ""}, {"opt/scripts/lib/y.conf", '0', 0o755, ""},
			{"opt/scripts/run.sh", '0', 0o755, ""}},
		{{"usr/", '5', 0o755, ""}, {"usr/bin/", '5', 0o755, ""}, {"usr/bin/hello", '0', 0o755, ""}},
		{{"hello", '0', 0o755, ""}},
	}
	if len(ls) != len(wants) {
		t.Fatalf("%d layers, want %d", len(ls), len(wants))
	}
	for i, l := range ls {
		es := layerEntries(t, l)
		var got []want
		for _, e := range es {
			got = append(got, want{e.hdr.Name, e.hdr.Typeflag, e.hdr.Mode, e.hdr.Linkname})
			if e.hdr.Uid != 0 || e.hdr.Gid != 0 || e.hdr.Uname != "" || e.hdr.Gname != "" {
				t.Errorf("%s owned by %d:%d %q:%q", e.hdr.Name, e.hdr.Uid, e.hdr.Gid, e.hdr.Uname, e.hdr.Gname)
			}
		}
		if !reflect.DeepEqual(got, wants[i]) {
			t.Errorf("layer %d\n got %v\nwant %v", i+1, got, wants[i])
		}
	}
}

func TestLayerErrors(t *testing.T) {
	noSourceDateEpoch(t)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "hi"}, "bin/.wh.hello": {content: "gone"}})
	tests := []struct {
		name  string
		layer config.Layer
		want  string
	}{
		{"relative to", config.Layer{From: "bin/hello", To: "app/hello"}, "absolute path"},
		{"absolute from", config.Layer{From: "/etc/passwd", To: "/x"}, "relative to the project"},
		{"bad mode", config.Layer{From: "bin/hello", To: "/x", Mode: "rwx"}, "octal"},
		{"bad template", config.Layer{From: "bin/{{.Nope}}", To: "/x"}, "Nope"},
		{"missing", config.Layer{From: "bin/absent", To: "/x"}, "bin/absent"},
		{"whiteout name in the image", config.Layer{From: "bin/hello", To: "/etc/.wh.passwd"}, "bin/hello to /etc/.wh.passwd: names starting with .wh."},
		{"whiteout name in the project", config.Layer{From: "bin", To: "/app"}, "bin/.wh.hello to /app/.wh.hello: names starting with .wh."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(dir)
			o.Image.Layers = []config.Layer{tt.layer}
			_, err := Build(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "layer 1") {
				t.Errorf("err = %v, want it to name layer 1 and say %q", err, tt.want)
			}
		})
	}
	o := testOptions(dir)
	o.Image.Platforms = []string{"linux"}
	if _, err := Build(context.Background(), o); err == nil {
		t.Error("platform without arch: no error")
	}
}

func TestDockerfileWithoutBuilder(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	o := testOptions(t.TempDir())
	o.Image.Dockerfile = "Dockerfile"
	_, err := Build(context.Background(), o)
	if !errors.Is(err, ErrNoDockerfileBuilder) {
		t.Fatalf("err = %v, want ErrNoDockerfileBuilder", err)
	}
	for _, w := range []string{"buildx", "buildah"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q does not name %s", err, w)
		}
	}
}

func TestDockerfileCommands(t *testing.T) {
	a := dockerfileArgs{dockerfile: "/p/Dockerfile", dir: "/p", out: "/p/.slipway/dockerfile-oci",
		platforms: []string{"linux/amd64"}, labels: map[string]string{"b": "2", "a": "1"}, epoch: 42, name: "slipway-build-hello"}
	tests := []struct {
		builder   string
		platforms []string
		want      []string
	}{
		{BuilderBuildx, []string{"linux/amd64", "linux/arm64"}, []string{
			"docker buildx build --platform linux/amd64,linux/arm64 --file /p/Dockerfile --provenance=false --sbom=false --build-arg SOURCE_DATE_EPOCH=42 --output type=oci,dest=/p/.slipway/dockerfile-oci,tar=false --label a=1 --label b=2 /p",
		}},
		{BuilderBuildah, []string{"linux/amd64"}, []string{
			"buildah build --platform linux/amd64 --file /p/Dockerfile --timestamp 42 --tag slipway-build-hello --label a=1 --label b=2 /p",
			"buildah push slipway-build-hello oci:/p/.slipway/dockerfile-oci",
		}},
		{BuilderBuildah, []string{"linux/amd64", "linux/arm64"}, []string{
			"buildah manifest rm slipway-build-hello",
			"buildah build --platform linux/amd64,linux/arm64 --file /p/Dockerfile --timestamp 42 --manifest slipway-build-hello --label a=1 --label b=2 /p",
			"buildah manifest push --all slipway-build-hello oci:/p/.slipway/dockerfile-oci",
		}},
	}
	for _, tt := range tests {
		a.platforms = tt.platforms
		var got []string
		for _, argv := range dockerfileCommands(tt.builder, a) {
			got = append(got, strings.Join(argv, " "))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %v:\n got %q\nwant %q", tt.builder, tt.platforms, got, tt.want)
		}
	}
}

// BenchmarkUpToDate measures the no-op build of a tree of 2000 files.
func BenchmarkUpToDate(b *testing.B) {
	b.Setenv("SOURCE_DATE_EPOCH", "")
	dir := b.TempDir()
	files := map[string]file{}
	for i := 0; i < 2000; i++ {
		files[filepath.Join("assets", strconv.Itoa(i%20), strconv.Itoa(i)+".bin")] = file{content: strings.Repeat("x", 1024)}
	}
	writeProject(b, dir, files)
	o := testOptions(dir)
	o.Image.Layers = []config.Layer{{From: "assets", To: "/srv"}}
	build(b, o)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !build(b, o).UpToDate {
			b.Fatal("not up to date")
		}
	}
}

func TestUnchangedLayersAreReused(t *testing.T) {
	noSourceDateEpoch(t)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{
		"assets/big.txt": {content: strings.Repeat("asset ", 1000)},
		"bin/hello":      {content: "v1", mode: 0o755},
	})
	o := testOptions(dir)
	o.Image.Layers = []config.Layer{{From: "assets", To: "/srv"}, {From: "bin/hello", To: "/app/hello"}}
	var written []string
	o.Progress = progress.Func(func(e progress.Event) {
		if e.Kind == progress.Info && strings.HasPrefix(e.Msg, "layer ") {
			written = append(written, e.Msg)
		}
	})
	build(t, o)
	if len(written) != 2 {
		t.Fatalf("first build wrote %v", written)
	}
	written = nil
	writeProject(t, dir, map[string]file{"bin/hello": {content: "v2", mode: 0o755}})
	build(t, o)
	if len(written) != 1 || !strings.HasPrefix(written[0], "layer 2 ") {
		t.Errorf("rebuild wrote %v, want only layer 2", written)
	}
}
