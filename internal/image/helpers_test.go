package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// file is a file, directory (trailing / in its name) or symlink of a test
// project.
type file struct {
	content string
	mode    fs.FileMode
	link    string
}

func writeProject(t testing.TB, dir string, files map[string]file) {
	t.Helper()
	for p, f := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(p, "/"):
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
		case f.link != "":
			if err := os.Symlink(f.link, full); err != nil {
				t.Fatal(err)
			}
		default:
			mode := f.mode
			if mode == 0 {
				mode = 0o644
			}
			if err := os.WriteFile(full, []byte(f.content), mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(full, mode); err != nil { // beat the umask
				t.Fatal(err)
			}
		}
	}
}

var testRevision = "0123456789abcdef0123456789abcdef01234567"

// testOptions builds bin/hello into /app/hello on scratch.
func testOptions(dir string) BuildOptions {
	return BuildOptions{
		Dir: dir,
		App: "hello",
		Image: config.Image{
			Layers:     []config.Layer{{From: "bin/hello", To: "/app/hello"}},
			Entrypoint: []string{"/app/hello"},
			Ports:      []int{8080},
		},
		Meta: Meta{
			Version:  "1.2.3",
			Revision: testRevision,
			Source:   "https://example.com/hello.git",
			Created:  time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		},
	}
}

func build(t testing.TB, o BuildOptions) Result {
	t.Helper()
	res, err := Build(context.Background(), o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return res
}

// layoutImage reads the image of platform p (or the only one) from a build.
func layoutImage(t testing.TB, res Result, platform string) v1.Image {
	t.Helper()
	out := filepath.Dir(res.Layout)
	rec, err := ReadRecord(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rec.Platforms {
		if platform == "" || p.Platform == platform {
			img, err := blobImageAt(res.Layout, p.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("no %s image in %+v", platform, rec.Platforms)
	return nil
}

// tarEntry is one entry of a layer.
type tarEntry struct {
	hdr  tar.Header
	body string
}

// layerEntries lists a layer's entries in order.
func layerEntries(t testing.TB, l v1.Layer) []tarEntry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var es []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return es
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, tarEntry{hdr: *h, body: string(b)})
	}
}

// lastLayer returns the entries of an image's last layer.
func lastLayer(t testing.TB, img v1.Image) []tarEntry {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return layerEntries(t, ls[len(ls)-1])
}

func names(es []tarEntry) []string {
	var ns []string
	for _, e := range es {
		ns = append(ns, e.hdr.Name)
	}
	return ns
}

// testRegistry serves an in-process registry and returns a client for
// HOST/team.
func testRegistry(t testing.TB, wrap func(http.Handler) http.Handler) (*httptest.Server, *registry.Client) {
	t.Helper()
	s := testutil.Registry(t, wrap)
	c, err := registry.New(registry.Options{
		Name:     "dev",
		Registry: config.Registry{Name: "dev", URL: testutil.Host(s) + "/team", Insecure: true},
		Backoff:  remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

// registryWithBase starts a docker-registry (with no credentials around)
// and pushes a base image to it as team/base:1 (see pushBase). It returns
// the registry, a Set of it alone as registry "local" under team/, and
// that registry's client.
func registryWithBase(t *testing.T, o registry.Options, env string) (*testenv.Registry, *registry.Set, *registry.Client) {
	t.Helper()
	noSourceDateEpoch(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	set, err := registry.NewSet(config.Registries{reg.Config("local", "team")}, o)
	if err != nil {
		t.Fatal(err)
	}
	client, _ := set.Client("local")
	baseRef, err := client.ParseReference(reg.Host + "/team/base:1")
	if err != nil {
		t.Fatal(err)
	}
	pushBase(t, baseRef, client.RemoteOptions(context.Background()), env)
	return reg, set, client
}

func noSourceDateEpoch(t testing.TB) {
	t.Helper()
	t.Setenv("SOURCE_DATE_EPOCH", "")
}

// blobImageAt opens manifest digest of the layout at dir, read through its
// blobs rather than index.json.
func blobImageAt(dir, digest string) (v1.Image, error) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return nil, err
	}
	lp := layout.Path(dir)
	raw, err := lp.Bytes(h)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&blobImage{lp: lp, raw: raw, mt: sniffMediaType(raw), manifest: m})
}

func layoutPath(res Result) layout.Path { return layout.Path(res.Layout) }
