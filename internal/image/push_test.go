package image

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// requestLog records method and path of every request.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.reqs = append(l.reqs, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.reqs
	l.reqs = nil
	return r
}

func TestPushAndPull(t *testing.T) {
	noSourceDateEpoch(t)
	reqs := &requestLog{}
	_, client := testRegistry(t, reqs.wrap)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{
		"bin/hello":   {content: "hello binary", mode: 0o755},
		"web/a.html":  {content: "<p>a</p>"},
		"web/b/c.css": {content: "c{}"},
	})
	o := testOptions(dir)
	o.Image.Layers = append(o.Image.Layers, config.Layer{From: "web", To: "/srv"})
	built := build(t, o)

	var mu sync.Mutex
	var kinds []progress.Kind
	var lastDone int64
	res, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client, Progress: progress.Func(func(e progress.Event) {
		mu.Lock()
		defer mu.Unlock()
		kinds = append(kinds, e.Kind)
		if e.Kind == progress.Update {
			if e.Unit != "B" {
				t.Errorf("update unit %q", e.Unit)
			}
			lastDone = e.Done
		}
	})})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := client.Repo("hello")
	if res.Digest != built.Digest || res.Reference != repo.String()+"@"+built.Digest {
		t.Errorf("result %+v, want digest %s", res, built.Digest)
	}
	wantTags := []string{repo.String() + ":1.2.3", repo.String() + ":git-0123456"}
	if strings.Join(res.Tags, " ") != strings.Join(wantTags, " ") {
		t.Errorf("tags %v, want %v", res.Tags, wantTags)
	}
	if res.BlobsUploaded != 3 || res.BlobsSkipped != 0 || res.Bytes == 0 || res.UpToDate {
		t.Errorf("first push: %+v; want 3 blobs uploaded", res)
	}
	if kinds[0] != progress.Start || kinds[len(kinds)-1] != progress.Info || lastDone == 0 {
		t.Errorf("progress kinds %v last done %d", kinds, lastDone)
	}

	// Pull back by each tag: same digest, same files.
	for _, tag := range wantTags {
		ref, err := client.ParseReference(tag)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref, client.RemoteOptions(context.Background())...)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		if d.String() != built.Digest {
			t.Errorf("%s: digest %s, want %s", tag, d, built.Digest)
		}
		files := map[string]string{}
		ls, _ := img.Layers()
		for _, l := range ls {
			for _, e := range layerEntries(t, l) {
				files[e.hdr.Name] = e.body
			}
		}
		if files["app/hello"] != "hello binary" || files["srv/b/c.css"] != "c{}" {
			t.Errorf("%s: files %v", tag, files)
		}
	}

	// Again: up to date, nothing uploaded, a couple of HEADs.
	reqs.take()
	again, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client})
	if err != nil {
		t.Fatal(err)
	}
	if !again.UpToDate || again.BlobsUploaded != 0 || again.Bytes != 0 {
		t.Errorf("second push: %+v; want up to date with no uploads", again)
	}
	var heads int
	for _, r := range reqs.take() {
		switch {
		case strings.HasPrefix(r, "HEAD "):
			heads++
		case r == "GET /v2/":
		default:
			t.Errorf("up-to-date push made %s", r)
		}
	}
	if heads > 2 {
		t.Errorf("up-to-date push made %d HEAD requests", heads)
	}
}

func TestPushMovesGitTagOnly(t *testing.T) {
	noSourceDateEpoch(t)
	reqs := &requestLog{}
	_, client := testRegistry(t, reqs.wrap)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "hi", mode: 0o755}})
	build(t, testOptions(dir))
	if _, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client}); err != nil {
		t.Fatal(err)
	}
	// Point the git tag elsewhere; the next push only puts it back.
	repo, _ := client.Repo("hello")
	other, _ := random.Image(10, 1)
	if err := remote.Write(repo.Tag("git-0123456"), other, client.RemoteOptions(context.Background())...); err != nil {
		t.Fatal(err)
	}
	reqs.take()
	res, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client})
	if err != nil {
		t.Fatal(err)
	}
	if res.UpToDate || res.BlobsUploaded != 0 {
		t.Errorf("result %+v", res)
	}
	for _, r := range reqs.take() {
		if strings.HasPrefix(r, "PUT ") && r != "PUT /v2/team/hello/manifests/git-0123456" {
			t.Errorf("unexpected %s", r)
		}
	}
	d, err := remote.Head(repo.Tag("git-0123456"), client.RemoteOptions(context.Background())...)
	if err != nil || d.Digest.String() != res.Digest {
		t.Errorf("git tag at %v, %v; want %s", d, err, res.Digest)
	}
}

func TestPushTagConflict(t *testing.T) {
	noSourceDateEpoch(t)
	_, client := testRegistry(t, nil)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "first", mode: 0o755}})
	first := build(t, testOptions(dir))
	if _, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client}); err != nil {
		t.Fatal(err)
	}
	writeProject(t, dir, map[string]file{"bin/hello": {content: "second", mode: 0o755}})
	second := build(t, testOptions(dir))

	_, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client})
	var tc *registry.TagConflictError
	if !errors.Is(err, registry.ErrTagConflict) || !errors.As(err, &tc) {
		t.Fatalf("err = %v, want ErrTagConflict", err)
	}
	for _, w := range []string{first.Digest, second.Digest, ":1.2.3"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q lacks %q", err, w)
		}
	}
	if r, _ := remedy.Of(err); r.Kind != remedy.ForceTag {
		t.Errorf("remedy = %+v, want ForceTag", r)
	}
	repo, _ := client.Repo("hello")
	if d, _ := remote.Head(repo.Tag("1.2.3"), client.RemoteOptions(context.Background())...); d.Digest.String() != first.Digest {
		t.Errorf("refused push moved the tag to %s", d.Digest)
	}

	res, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := remote.Head(repo.Tag("1.2.3"), client.RemoteOptions(context.Background())...); d.Digest.String() != second.Digest || res.Digest != second.Digest {
		t.Errorf("forced push: tag at %s, want %s", d.Digest, second.Digest)
	}
}

func TestPushFailureLeavesNoTag(t *testing.T) {
	noSourceDateEpoch(t)
	_, client := testRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "hi", mode: 0o755}})
	build(t, testOptions(dir))
	if _, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client}); err == nil {
		t.Fatal("push to a failing registry succeeded")
	}
	repo, _ := client.Repo("hello")
	for _, tag := range []string{"1.2.3", "git-0123456"} {
		_, err := remote.Head(repo.Tag(tag), client.RemoteOptions(context.Background())...)
		if !errors.Is(client.Classify(err, registry.SideTarget), registry.ErrNotFound) {
			t.Errorf("tag %s after a failed push: %v", tag, err)
		}
	}
}

// TestPushBeforeTagStops: a BeforeTag error (a signing key that would not
// decrypt) stops the push with the image in the registry by digest only.
func TestPushBeforeTagStops(t *testing.T) {
	noSourceDateEpoch(t)
	_, client := testRegistry(t, nil)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "hi", mode: 0o755}})
	b := build(t, testOptions(dir))
	refuse := errors.New("loading the signing key: wrong password")
	_, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client, BeforeTag: func() error { return refuse }})
	if !errors.Is(err, refuse) {
		t.Fatalf("err = %v; want the BeforeTag error", err)
	}
	repo, _ := client.Repo("hello")
	opts := client.RemoteOptions(context.Background())
	if _, err := remote.Head(repo.Digest(b.Digest), opts...); err != nil {
		t.Errorf("the image is not in the registry by digest: %v", err)
	}
	for _, tag := range []string{"1.2.3", "git-0123456"} {
		_, err := remote.Head(repo.Tag(tag), opts...)
		if !errors.Is(client.Classify(err, registry.SideTarget), registry.ErrNotFound) {
			t.Errorf("tag %s after BeforeTag refused: %v", tag, err)
		}
	}
}

func TestPushAuthError(t *testing.T) {
	noSourceDateEpoch(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("SLIPWAY_REGISTRY_DEV_USERNAME", "ci")
	t.Setenv("SLIPWAY_REGISTRY_DEV_PASSWORD", "hunter2-wrong")
	_, client := testRegistry(t, testutil.BasicAuth("ci", "right"))
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "hi", mode: 0o755}})
	build(t, testOptions(dir))
	_, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client})
	if !errors.Is(err, registry.ErrAuth) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "SLIPWAY_REGISTRY_DEV_USERNAME") {
		t.Errorf("message %q lacks the variables tried", msg)
	}
	if r, _ := remedy.Of(err); r.Kind != remedy.LoginRegistry || r.Host != client.Host() || r.Registry != "dev" {
		t.Errorf("remedy = %+v, want a login to %s", r, client.Host())
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("message shows the password: %s", msg)
	}
}

func TestPushWithoutBuild(t *testing.T) {
	_, client := testRegistry(t, nil)
	_, err := Push(context.Background(), PushOptions{Dir: t.TempDir(), Registry: client})
	if !errors.Is(err, ErrNoBuild) {
		t.Errorf("err = %v, want ErrNoBuild", err)
	}
}

func TestPushIndex(t *testing.T) {
	noSourceDateEpoch(t)
	_, client := testRegistry(t, nil)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{
		"dist/amd64/hello": {content: "amd", mode: 0o755},
		"dist/arm64/hello": {content: "arm", mode: 0o755},
	})
	o := testOptions(dir)
	o.Image.Platforms = []string{"linux/amd64", "linux/arm64"}
	o.Image.Layers = []config.Layer{{From: "dist/{{.Arch}}/hello", To: "/app/hello"}}
	built := build(t, o)
	res, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != built.Digest || res.BlobsUploaded != 4 { // a config and a layer per platform
		t.Errorf("result %+v; want digest %s and 4 blobs uploaded", res, built.Digest)
	}
	repo, _ := client.Repo("hello")
	idx, err := remote.Index(repo.Tag("1.2.3"), client.RemoteOptions(context.Background())...)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	im, _ := idx.IndexManifest()
	if d.String() != built.Digest || len(im.Manifests) != 2 {
		t.Errorf("pulled index %s with %d manifests; want %s with 2", d, len(im.Manifests), built.Digest)
	}
	for i, p := range built.Platforms {
		if im.Manifests[i].Digest.String() != p.Digest || im.Manifests[i].Platform.String() != p.Platform {
			t.Errorf("manifest %d: %v, want %+v", i, im.Manifests[i], p)
		}
	}
}

// pushBase pushes a two-platform base index with Docker media types.
func pushBase(t *testing.T, ref name.Reference, opts []remote.Option, env string) v1.ImageIndex {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, p := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
		img, err := random.Image(256, 2)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
		cfg.Config.Env = []string{"PATH=/usr/bin:/bin", "BASE=" + env}
		cfg.Config.User = "1000"
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			t.Fatal(err)
		}
		p := p
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx := mutate.AppendManifests(empty.Index, adds...)
	if err := remote.WriteIndex(ref, idx, opts...); err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestBaseImage(t *testing.T) {
	noSourceDateEpoch(t)
	s, client := testRegistry(t, nil)
	host := testutil.Host(s)
	set, err := registry.NewSet(config.Registries{{Name: "dev", URL: host + "/team", Insecure: true}}, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	baseRef, _ := client.ParseReference(host + "/team/base:1")
	opts := client.RemoteOptions(context.Background())
	baseIdx := pushBase(t, baseRef, opts, "one")
	baseDigest, _ := baseIdx.Digest()

	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "hi", mode: 0o755}})
	o := testOptions(dir)
	o.Image.Base = host + "/team/base:1"
	o.Image.Platforms = []string{"linux/amd64", "linux/arm64"}
	o.Remote = set
	res := build(t, o)
	if res.Base == nil || res.Base.Digest != baseDigest.String() || res.Base.Name != baseRef.Name() {
		t.Fatalf("base record %+v, want %s", res.Base, baseDigest)
	}
	baseIM, _ := baseIdx.IndexManifest()
	for i, p := range res.Platforms {
		if p.BaseDigest != baseIM.Manifests[i].Digest.String() || p.BaseLayers != 2 {
			t.Errorf("%s: base %s with %d layers; want %s with 2", p.Platform, p.BaseDigest, p.BaseLayers, baseIM.Manifests[i].Digest)
		}
		img := layoutImage(t, res, p.Platform)
		m, _ := img.Manifest()
		if m.Annotations[AnnotationBaseDigest] != p.BaseDigest || m.Annotations[AnnotationBaseName] != baseRef.Name() {
			t.Errorf("%s: annotations %v", p.Platform, m.Annotations)
		}
		if len(m.Layers) != 3 || m.Layers[0].MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			t.Errorf("%s: layers %v", p.Platform, m.Layers)
		}
		cfg, _ := img.ConfigFile()
		if cfg.Config.User != "1000" || !strings.Contains(strings.Join(cfg.Config.Env, " "), "BASE=one") {
			t.Errorf("%s: config %+v does not build on the base", p.Platform, cfg.Config)
		}
		if cfg.Architecture != strings.Split(p.Platform, "/")[1] {
			t.Errorf("%s: architecture %s", p.Platform, cfg.Architecture)
		}
	}

	// The tag moves; the pin holds, also across a rebuild, until refreshed.
	newIdx := pushBase(t, baseRef, opts, "two")
	newDigest, _ := newIdx.Digest()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "changed", mode: 0o755}})
	pinned := build(t, o)
	if pinned.Base.Digest != baseDigest.String() {
		t.Errorf("rebuild re-resolved the base to %s", pinned.Base.Digest)
	}
	o.RefreshBase = true
	refreshed := build(t, o)
	if refreshed.Base.Digest != newDigest.String() || refreshed.Digest == pinned.Digest {
		t.Errorf("refresh: base %s digest %s", refreshed.Base.Digest, refreshed.Digest)
	}

	// A digest reference needs no lookup; a missing platform is an error.
	o.RefreshBase = false
	o.Image.Base = host + "/team/base@" + baseDigest.String()
	if res := build(t, o); res.Base.Digest != baseDigest.String() {
		t.Errorf("digest base pinned to %s", res.Base.Digest)
	}
	o.Image.Platforms = []string{"linux/s390x"}
	o.Image.Layers = nil
	if _, err := Build(context.Background(), o); !errors.Is(err, ErrBasePlatform) {
		t.Errorf("err = %v, want ErrBasePlatform", err)
	}

	// Pushing next to the base: everything pushes and pulls back.
	o.Image.Platforms = []string{"linux/amd64", "linux/arm64"}
	o.Image.Layers = []config.Layer{{From: "bin/hello", To: "/app/hello"}}
	final := build(t, o)
	pr, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client})
	if err != nil {
		t.Fatal(err)
	}
	if pr.Digest != final.Digest {
		t.Errorf("pushed %s, built %s", pr.Digest, final.Digest)
	}
	repo, _ := client.Repo("hello")
	idx, err := remote.Index(repo.Tag("1.2.3"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateIndex(idx); err != nil {
		t.Error(err)
	}
}

// validateIndex reads every blob of an index's images.
func validateIndex(idx v1.ImageIndex) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		ls, err := img.Layers()
		if err != nil {
			return err
		}
		for _, l := range ls {
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			rc.Close()
		}
	}
	return nil
}

func TestBaseAuthError(t *testing.T) {
	noSourceDateEpoch(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	s, _ := testRegistry(t, testutil.BasicAuth("ci", "secret"))
	host := testutil.Host(s)
	set, _ := registry.NewSet(config.Registries{{Name: "mirror", URL: host, Insecure: true}}, registry.Options{})
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "hi", mode: 0o755}})
	o := testOptions(dir)
	o.Image.Base = host + "/library/alpine:3"
	o.Remote = set
	_, err := Build(context.Background(), o)
	if !errors.Is(err, registry.ErrAuth) || !strings.Contains(err.Error(), "base registry mirror ("+host+")") ||
		!strings.Contains(err.Error(), "SLIPWAY_REGISTRY_MIRROR_USERNAME") {
		t.Errorf("err = %v, want an ErrAuth about the base registry", err)
	}
}
