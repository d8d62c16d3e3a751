package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
)

// ErrNoDockerfileBuilder is returned for image.dockerfile when neither
// docker with the buildx plugin nor buildah is installed.
var ErrNoDockerfileBuilder = errors.New("building a Dockerfile needs docker with the buildx plugin, or buildah; neither was found")

// Dockerfile builders.
const (
	BuilderBuildx  = "docker buildx"
	BuilderBuildah = "buildah"
)

// findDockerfileBuilder returns the builder to use: docker buildx when
// docker answers `docker buildx version`, else buildah when installed.
func findDockerfileBuilder(ctx context.Context) (string, error) {
	if docker, err := exec.LookPath("docker"); err == nil {
		if exec.CommandContext(ctx, docker, "buildx", "version").Run() == nil {
			return BuilderBuildx, nil
		}
	}
	if _, err := exec.LookPath("buildah"); err == nil {
		return BuilderBuildah, nil
	}
	return "", ErrNoDockerfileBuilder
}

// buildDockerfile builds image.dockerfile with docker buildx or buildah
// into a scratch OCI layout and copies the result into the output layout.
// Such builds are never considered up to date: the builder keeps its own
// cache.
func buildDockerfile(ctx context.Context, o BuildOptions) (Result, error) {
	rep := o.Progress
	builder, err := findDockerfileBuilder(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("building %s: %w", o.Image.Dockerfile, err)
	}
	epoch, err := buildTime(o.Meta.Created)
	if err != nil {
		return Result{}, err
	}
	platforms, err := parsePlatforms(o.Image.Platforms)
	if err != nil {
		return Result{}, err
	}
	rep.Report(progress.Event{Kind: progress.Start, Step: "build",
		Msg: fmt.Sprintf("building %s from %s with %s", describe(o.App, o.Meta.Version), o.Image.Dockerfile, builder)})

	tmp := filepath.Join(o.Output, "dockerfile-oci")
	if err := os.RemoveAll(tmp); err != nil {
		return Result{}, fmt.Errorf("clearing %s: %w", tmp, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(o.Output, 0o755); err != nil {
		return Result{}, fmt.Errorf("creating %s: %w", o.Output, err)
	}
	plats := make([]string, len(platforms))
	for i, p := range platforms {
		plats[i] = p.String()
	}
	// The Dockerfile is project content, held to the rule of layer sources.
	dockerfile, err := config.ResolveSource(o.Dir, o.Image.Dockerfile)
	if err != nil {
		return Result{}, fmt.Errorf("building from image.dockerfile %q: %w", o.Image.Dockerfile, err)
	}
	for _, argv := range dockerfileCommands(builder, dockerfileArgs{
		dockerfile: dockerfile, dir: o.Dir, out: tmp, platforms: plats,
		labels: dockerfileLabels(o, epoch), epoch: epoch.Unix(), name: "slipway-build-" + sanitizeName(o.App),
	}) {
		if err := run(ctx, o.Dir, rep, argv); err != nil {
			return Result{}, fmt.Errorf("building %s with %s: %w", o.Image.Dockerfile, builder, err)
		}
	}

	rec, err := importLayout(tmp, filepath.Join(o.Output, LayoutDir), platforms, o.Meta.Version)
	if err != nil {
		return Result{}, fmt.Errorf("importing %s build: %w", builder, err)
	}
	rec.App, rec.Version, rec.Revision, rec.Source = o.App, o.Meta.Version, o.Meta.Revision, o.Meta.Source
	rec.Created, rec.Builder = epoch, builder
	if err := writeRecord(o.Output, rec); err != nil {
		return Result{}, err
	}
	rep.Report(progress.Event{Kind: progress.Info, Step: "build", Msg: "built " + rec.Digest})
	return Result{Record: rec, Layout: filepath.Join(o.Output, LayoutDir)}, nil
}

// dockerfileLabels are the build's OCI annotations and, beside them,
// image.labels: a label cannot override an annotation Slipway sets.
func dockerfileLabels(o BuildOptions, epoch time.Time) map[string]string {
	labels := ociAnnotations(o.Meta, epoch)
	for k, v := range o.Image.Labels {
		if _, ok := labels[k]; !ok {
			labels[k] = v
		}
	}
	return labels
}

type dockerfileArgs struct {
	dockerfile string
	dir        string
	out        string
	platforms  []string
	labels     map[string]string
	epoch      int64
	name       string
}

// dockerfileCommands are the commands that build a into an OCI layout at
// a.out.
func dockerfileCommands(builder string, a dockerfileArgs) [][]string {
	var labels []string
	for _, k := range slices.Sorted(maps.Keys(a.labels)) {
		labels = append(labels, "--label", k+"="+a.labels[k])
	}
	plats := strings.Join(a.platforms, ",")
	epoch := strconv.FormatInt(a.epoch, 10)
	if builder == BuilderBuildx {
		argv := []string{"docker", "buildx", "build", "--platform", plats, "--file", a.dockerfile,
			"--provenance=false", "--sbom=false", "--build-arg", "SOURCE_DATE_EPOCH=" + epoch,
			"--output", "type=oci,dest=" + a.out + ",tar=false"}
		return [][]string{append(append(argv, labels...), a.dir)}
	}
	build := []string{"buildah", "build", "--platform", plats, "--file", a.dockerfile, "--timestamp", epoch}
	if len(a.platforms) > 1 {
		build = append(build, "--manifest", a.name)
		return [][]string{
			{"buildah", "manifest", "rm", a.name}, // a leftover list would collect old images; failure is fine
			append(append(build, labels...), a.dir),
			{"buildah", "manifest", "push", "--all", a.name, "oci:" + a.out},
		}
	}
	build = append(build, "--tag", a.name)
	return [][]string{
		append(append(build, labels...), a.dir),
		{"buildah", "push", a.name, "oci:" + a.out},
	}
}

func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "app"
	}
	return b.String()
}

// run runs argv in dir, reporting its output lines as progress. A failing
// "manifest rm" is ignored.
func run(ctx context.Context, dir string, rep progress.Reporter, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	tail := &tailWriter{rep: rep}
	cmd.Stdout, cmd.Stderr = tail, tail
	err := cmd.Run()
	tail.flush()
	if err != nil && len(argv) > 2 && argv[1] == "manifest" && argv[2] == "rm" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("running %s: %w\n%s", strings.Join(argv[:2], " "), err, tail.last())
	}
	return nil
}

// tailWriter reports each line as progress and keeps the last ones.
type tailWriter struct {
	mu    sync.Mutex
	rep   progress.Reporter
	buf   bytes.Buffer
	lines []string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	for {
		line, err := t.buf.ReadString('\n')
		if err == io.EOF {
			t.buf.WriteString(line)
			return len(p), nil
		}
		t.line(line)
	}
}

func (t *tailWriter) line(l string) {
	l = strings.TrimRight(l, "\r\n")
	t.rep.Report(progress.Event{Kind: progress.Info, Step: "build", Msg: l})
	t.lines = append(t.lines, l)
	if len(t.lines) > 20 {
		t.lines = t.lines[1:]
	}
}

func (t *tailWriter) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.buf.Len() > 0 {
		t.line(t.buf.String())
		t.buf.Reset()
	}
}

func (t *tailWriter) last() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// importLayout copies the image or index of the layout at src into the
// layout at dst, as its only entry, and records it.
func importLayout(src, dst string, platforms []v1.Platform, version string) (Record, error) {
	ii, err := layout.ImageIndexFromPath(src)
	if err != nil {
		return Record{}, err
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return Record{}, err
	}
	if len(im.Manifests) != 1 {
		return Record{}, fmt.Errorf("want one image or index in %s, found %d", src, len(im.Manifests))
	}
	lp := layout.Path(dst)
	if err := initLayout(lp); err != nil {
		return Record{}, err
	}
	keep := map[v1.Hash]bool{}
	top := im.Manifests[0]
	top.Annotations = nil
	var rec Record
	if top.MediaType.IsIndex() {
		if top, err = importIndex(ii, top, lp, platforms, keep, &rec); err != nil {
			return Record{}, err
		}
	} else if err := copyImage(ii, top, lp, keep, &rec); err != nil {
		return Record{}, err
	}
	if version != "" {
		top.Annotations = map[string]string{AnnotationRefName: version}
	}
	if err := writeIndexJSON(lp, top); err != nil {
		return Record{}, err
	}
	if err := collectGarbage(lp, keep); err != nil {
		return Record{}, err
	}
	rec.Digest, rec.MediaType = top.Digest.String(), string(top.MediaType)
	return rec, nil
}

// importIndex copies the index top of ii into lp with its images, or for
// one platform the one image in it, which it returns as the new top.
func importIndex(ii v1.ImageIndex, top v1.Descriptor, lp layout.Path, platforms []v1.Platform, keep map[v1.Hash]bool, rec *Record) (v1.Descriptor, error) {
	idx, err := ii.ImageIndex(top.Digest)
	if err != nil {
		return top, err
	}
	children, err := idx.IndexManifest()
	if err != nil {
		return top, err
	}
	if len(children.Manifests) == 1 && len(platforms) == 1 {
		// One platform: push the image itself, like native builds.
		top = children.Manifests[0]
		top.Annotations = nil
		if top.MediaType.IsIndex() {
			return top, nil
		}
		if err := copyImage(idx, top, lp, keep, rec); err != nil {
			return top, err
		}
		if top.Platform == nil {
			top.Platform = &platforms[0]
		}
		return top, nil
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return top, err
	}
	for _, c := range children.Manifests {
		if err := copyImage(idx, c, lp, keep, rec); err != nil {
			return top, err
		}
	}
	if err := writeBlob(lp, top.Digest, raw); err != nil {
		return top, err
	}
	keep[top.Digest] = true
	return top, nil
}

func copyImage(from v1.ImageIndex, d v1.Descriptor, lp layout.Path, keep map[v1.Hash]bool, rec *Record) error {
	img, err := from.Image(d.Digest)
	if err != nil {
		return err
	}
	if err := lp.WriteImage(img); err != nil {
		return err
	}
	if err := keepImage(img, keep); err != nil {
		return err
	}
	plat := ""
	if d.Platform != nil {
		plat = d.Platform.String()
	} else if cfg, err := img.ConfigFile(); err == nil && cfg.Platform() != nil {
		plat = cfg.Platform().String()
	}
	rec.Platforms = append(rec.Platforms, PlatformRecord{Platform: plat, Digest: d.Digest.String()})
	return nil
}
