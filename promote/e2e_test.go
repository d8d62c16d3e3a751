package promote

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/registry"
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
	recs, err := Records(ctx, to, "hello", digest.String())
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
	recs, err = Records(ctx, prod, "hello", digest.String())
	if err != nil || len(recs) != 2 {
		t.Errorf("prod records %+v, %v; want dev->rc copied along and rc->rc", recs, err)
	}
}
