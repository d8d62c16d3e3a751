package promote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testenv"
)

// TestEndToEnd promotes a two-platform index with a signature between two
// docker-registry processes: dev over plain HTTP, rc over TLS with basic
// authentication. docker-registry 2.8 lacks the referrers API, so
// referrers and records go through the sha256-HEX referrers tag.
func TestEndToEnd(t *testing.T) {
	isolate(t)
	dev := testenv.StartRegistry(t, testenv.RegistryOptions{})
	rc := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{"ci": "correct horse"}})
	newClient := func(name string, reg *testenv.Registry, prefix string) *registry.Client {
		c, err := registry.New(registry.Options{Registry: reg.Config(name, prefix)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	from, to := newClient("dev", dev, "team"), newClient("rc", rc, "team")
	ctx := context.Background()

	idx := platformIndex(t)
	digest := push(t, from, "hello", "1.2.3", idx)
	top := descriptor(t, from, "hello", digest.String()).Descriptor
	sig := attach(t, from, "hello", top)
	cosign := "sha256-" + digest.Hex + ".sig"
	push(t, from, "hello", cosign, randomImage(t, 64, 1))
	o := Options{From: from, To: to, App: "hello", Version: "1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567",
		Record: &Record{Who: "e2e", When: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}}

	t.Run("no credentials for the target", func(t *testing.T) {
		_, err := Promote(ctx, o)
		if !errors.Is(err, registry.ErrAuth) || !strings.Contains(err.Error(), "target registry rc ("+rc.Host+")") {
			t.Fatalf("err = %v, want ErrAuth naming the target", err)
		}
	})
	t.Setenv("SLIPWAY_REGISTRY_RC_USERNAME", "ci")
	t.Setenv("SLIPWAY_REGISTRY_RC_PASSWORD", "correct horse")

	res, err := Promote(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Digest != digest.String() || res.UpToDate || res.Referrers != 2 || res.BlobsCopied < 6 || res.RecordDigest == "" {
		t.Errorf("result %+v", res)
	}
	dst := descriptor(t, to, "hello", "1.2.3")
	raw, _ := idx.RawManifest()
	if dst.Digest != digest || !bytes.Equal(dst.Manifest, raw) {
		t.Errorf("rc has %s, want %s byte for byte", dst.Digest, digest)
	}
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		img, err := descriptor(t, to, "hello", m.Digest.String()).Image()
		if err != nil {
			t.Fatal(err)
		}
		layers, _ := img.Layers()
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatalf("%s: %v", m.Platform, err)
			}
			rc.Close()
		}
	}
	repo, _ := to.Repo("hello")
	refs, err := remote.Referrers(repo.Digest(digest.String()), to.RemoteOptions(ctx)...)
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := refs.IndexManifest()
	var got []string
	for _, d := range rm.Manifests {
		got = append(got, d.Digest.String())
	}
	if !slices.Contains(got, sig.String()) || !slices.Contains(got, res.RecordDigest) {
		t.Errorf("rc referrers %v, want the signature %s and the record %s", got, sig, res.RecordDigest)
	}
	if !exists(t, to, "hello", cosign) {
		t.Errorf("rc lacks %s", cosign)
	}
	recs, err := Records(ctx, to, "hello", digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].From != "dev" || recs[0].To != "rc" || recs[0].Version != "1.2.3" || recs[0].Who != "e2e" {
		t.Errorf("records %+v", recs)
	}

	o.Record = &Record{Who: "again", When: time.Now()}
	again, err := Promote(ctx, o)
	if err != nil || !again.UpToDate || again.RecordDigest != res.RecordDigest {
		t.Errorf("re-run %+v, %v; want up to date", again, err)
	}

	// Within one registry, from team to prod: every blob is mounted.
	prod := newClient("rc", rc, "prod")
	same, err := Promote(ctx, Options{From: to, To: prod, App: "hello", Version: "1.2.3", Record: &Record{Who: "e2e"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", same)
	if same.BlobsMounted < 6 || same.BlobsCopied != 0 || same.Bytes != 0 {
		t.Errorf("same-registry result %+v; want every blob mounted", same)
	}
	recs, err = Records(ctx, prod, "hello", digest)
	if err != nil || len(recs) != 2 {
		t.Errorf("prod records %+v, %v; want dev->rc copied along and rc->rc", recs, err)
	}
}

// TestEndToEndMemory promotes a 64 MiB blob between two docker-registry
// processes and checks that the copy allocates a small, fixed amount: the
// blob is streamed from the source into the upload, never held whole.
func TestEndToEndMemory(t *testing.T) {
	isolate(t)
	dev := testenv.StartRegistry(t, testenv.RegistryOptions{})
	rc := testenv.StartRegistry(t, testenv.RegistryOptions{})
	from, err := registry.New(registry.Options{Registry: dev.Config("dev", "team")})
	if err != nil {
		t.Fatal(err)
	}
	to, err := registry.New(registry.Options{Registry: rc.Config("rc", "team")})
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	img, err := mutate.AppendLayers(empty.Image, newStreamLayer(t, size))
	if err != nil {
		t.Fatal(err)
	}
	push(t, from, "big", "1.0.0", img)

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := Promote(context.Background(), Options{From: from, To: to, App: "big", Version: "1.0.0"})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes < size {
		t.Fatalf("copied %d bytes, want the %d-byte blob", res.Bytes, size)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("promoting %d MiB allocated %.1f MiB", size>>20, float64(alloc)/(1<<20))
	if alloc > size/16 {
		t.Errorf("promoting a %d MiB blob allocated %.1f MiB; memory use grows with the image", size>>20, float64(alloc)/(1<<20))
	}
}

// streamLayer is an uncompressed layer of pseudo-random bytes, generated
// anew on every read, so that the test itself holds none of it.
type streamLayer struct {
	size   int64
	digest v1.Hash
}

func newStreamLayer(t testing.TB, size int64) *streamLayer {
	l := &streamLayer{size: size}
	h, n, err := v1.SHA256(l.open())
	if err != nil || n != size {
		t.Fatalf("hashing the layer: %d bytes, %v", n, err)
	}
	l.digest = h
	return l
}

func (l *streamLayer) open() io.ReadCloser {
	var seed [32]byte
	return io.NopCloser(io.LimitReader(rand.NewChaCha8(seed), l.size))
}

func (l *streamLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *streamLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *streamLayer) Compressed() (io.ReadCloser, error)   { return l.open(), nil }
func (l *streamLayer) Uncompressed() (io.ReadCloser, error) { return l.open(), nil }
func (l *streamLayer) Size() (int64, error)                 { return l.size, nil }
func (l *streamLayer) MediaType() (types.MediaType, error) {
	return types.OCIUncompressedLayer, nil
}
