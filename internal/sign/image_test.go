package sign

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// pushRandom pushes a random image to host/repo and returns it by digest.
func pushRandom(t *testing.T, host, repo string) name.Digest {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest(host+"/"+repo+"@"+d.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

func newSigner(t *testing.T) (Signer, Verifier) {
	t.Helper()
	kp, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadSigner(kp.Private, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := LoadVerifier(kp.Public)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func TestSignThenVerify(t *testing.T) {
	ctx := context.Background()
	host := testutil.Host(testutil.Registry(t))
	ref := pushRandom(t, host, "team/app")
	s, v := newSigner(t)

	res, err := Image(ctx, ref, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := ref.Context().String() + ":sha256-" + strings.TrimPrefix(ref.DigestStr(), "sha256:") + ".sig"; res.Tag != want || res.UpToDate {
		t.Errorf("result = %+v, want tag %s, not up to date", res, want)
	}
	if err := Verify(ctx, ref, v, nil); err != nil {
		t.Fatalf("verifying: %v", err)
	}
	again, err := Image(ctx, ref, s, nil)
	if err != nil || !again.UpToDate {
		t.Errorf("signing again: %+v, %v; want up to date", again, err)
	}
	img, err := remote.Image(mustTag(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	if ls, _ := img.Layers(); len(ls) != 1 {
		t.Errorf("signature image has %d layers after signing twice, want 1", len(ls))
	}

	// A second key adds its signature beside the first; both verify.
	s2, v2 := newSigner(t)
	if _, err := Image(ctx, ref, s2, nil); err != nil {
		t.Fatal(err)
	}
	for i, v := range []Verifier{v, v2} {
		if err := Verify(ctx, ref, v, nil); err != nil {
			t.Errorf("key %d after a second signature: %v", i, err)
		}
	}
}

func mustTag(t *testing.T, ref name.Digest) name.Tag {
	t.Helper()
	tag, err := SignatureTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	host := testutil.Host(testutil.Registry(t))
	s, v := newSigner(t)
	_, other := newSigner(t)

	signed := pushRandom(t, host, "team/app")
	if _, err := Image(ctx, signed, s, nil); err != nil {
		t.Fatal(err)
	}
	unsigned := pushRandom(t, host, "team/app")

	// A signature of one digest copied under another digest's tag.
	moved := pushRandom(t, host, "team/app")
	sigs, err := remote.Image(mustTag(t, signed))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustTag(t, moved), sigs); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		ref    name.Digest
		v      Verifier
		reason string
	}{
		{"not signed", unsigned, v, "not signed"},
		{"signed by another key", signed, other, "none made by this key"},
		{"signature of another digest", moved, v, "name another digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(ctx, tt.ref, tt.v, nil)
			var ue *UnverifiedError
			if !errors.As(err, &ue) || !errors.Is(err, ErrUnverified) {
				t.Fatalf("err = %v, want an *UnverifiedError", err)
			}
			if !strings.Contains(err.Error(), tt.reason) || !strings.Contains(err.Error(), tt.ref.DigestStr()) {
				t.Errorf("err = %v, want the digest and %q", err, tt.reason)
			}
		})
	}
}

func TestVerifyUnreachableRegistry(t *testing.T) {
	_, v := newSigner(t)
	srv := testutil.Registry(t)
	host := testutil.Host(srv)
	srv.Close()
	ref, err := name.NewDigest(host+"/team/app@sha256:"+strings.Repeat("a", 64), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	err = Verify(context.Background(), ref, v, nil)
	if err == nil || errors.Is(err, ErrUnverified) {
		t.Fatalf("err = %v, want a registry error, not a refusal", err)
	}
}

// TestPreparedCommitRace prepares signatures and attestations by two keys
// from the same (empty) tags, as two runs pushing the same digest at once
// do, and commits one after the other: the second finds its tag moved,
// prepares again from what the first wrote, and both keys verify. Nothing
// is tagged before Commit.
func TestPreparedCommitRace(t *testing.T) {
	ctx := context.Background()
	host := testutil.Host(testutil.Registry(t))
	ref := pushRandom(t, host, "team/app")
	s1, v1 := newSigner(t)
	s2, v2 := newSigner(t)
	pred := []Predicate{{Type: SLSAProvenance, Value: map[string]any{"buildDefinition": "x"}}}

	var sigs, atts []*Prepared
	for _, s := range []Signer{s1, s2} {
		p, err := PrepareSignature(ctx, ref, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, upToDate, err := PrepareAttestations(ctx, ref, s, pred, nil)
		if err != nil || upToDate[0] {
			t.Fatalf("attestations: %v, up to date %v", err, upToDate)
		}
		if err := p.Upload(ctx); err != nil {
			t.Fatal(err)
		}
		sigs, atts = append(sigs, p), append(atts, a)
	}
	if err := Verify(ctx, ref, v1, nil); !errors.Is(err, ErrUnverified) {
		t.Fatalf("before Commit: %v; want no signature yet", err)
	}
	for i := range sigs {
		if err := sigs[i].Commit(ctx); err != nil {
			t.Fatalf("committing signature %d: %v", i, err)
		}
		if err := atts[i].Commit(ctx); err != nil {
			t.Fatalf("committing attestation %d: %v", i, err)
		}
	}
	for i, v := range []Verifier{v1, v2} {
		if err := Verify(ctx, ref, v, nil); err != nil {
			t.Errorf("key %d: %v", i+1, err)
		}
		if sts, err := VerifyAttestation(ctx, ref, v, SLSAProvenance, nil); err != nil || len(sts) != 1 {
			t.Errorf("key %d attestations: %d, %v", i+1, len(sts), err)
		}
	}
	// Committing again adds nothing: the second commit's image is there.
	if err := sigs[1].Commit(ctx); err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(mustTag(t, ref))
	if err != nil {
		t.Fatal(err)
	}
	if ls, _ := img.Layers(); len(ls) != 2 {
		t.Errorf("signature image has %d layers, want one per key", len(ls))
	}
}

// TestCommitLooksAfterWriting has another run's signature image, prepared
// from the same empty tag, land just after this run's write: Commit's look
// after writing sees it, prepares again from it, and both keys verify.
func TestCommitLooksAfterWriting(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var after func() // runs once, after the first manifest PUT to a .sig tag
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, ".sig") {
				mu.Lock()
				f := after
				after = nil
				mu.Unlock()
				if f != nil {
					f()
				}
			}
		})
	}
	host := testutil.Host(testutil.Registry(t, wrap))
	ref := pushRandom(t, host, "team/app")
	s1, v1 := newSigner(t)
	s2, v2 := newSigner(t)
	mine, err := PrepareSignature(ctx, ref, s1, nil)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := PrepareSignature(ctx, ref, s2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := theirs.Upload(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	after = func() {
		// Theirs, written blind over mine, as a run that looked before
		// mine was written would.
		if err := remote.Tag(theirs.Tag, theirs.img); err != nil {
			t.Error(err)
		}
	}
	mu.Unlock()
	if err := mine.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for i, v := range []Verifier{v1, v2} {
		if err := Verify(ctx, ref, v, nil); err != nil {
			t.Errorf("key %d: %v", i+1, err)
		}
	}
}

// TestSignatureLayersBounded: a signature manifest listing its one layer
// many times (a registry's doing) is read once per layer digest, and one
// listing more layers than any signing leaves is refused.
func TestSignatureLayersBounded(t *testing.T) {
	ctx := context.Background()
	var gets atomic.Int32
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				gets.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}
	host := testutil.Host(testutil.Registry(t, count))
	ref := pushRandom(t, host, "team/app")
	s, v := newSigner(t)
	if _, err := Image(ctx, ref, s, nil); err != nil {
		t.Fatal(err)
	}
	tag := mustTag(t, ref)
	desc, err := remote.Get(tag)
	if err != nil {
		t.Fatal(err)
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	repeat := func(n int) {
		t.Helper()
		mm := m
		mm.Layers = slices.Repeat(m.Layers[:1], n)
		raw, err := json.Marshal(mm)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Put(tag, rawTaggable{raw: raw, mt: m.MediaType}); err != nil {
			t.Fatal(err)
		}
	}
	repeat(maxSigLayers)
	gets.Store(0)
	if err := Verify(ctx, ref, v, nil); err != nil {
		t.Fatalf("verifying with the layer listed %d times: %v", maxSigLayers, err)
	}
	if n := gets.Load(); n > 2 {
		t.Errorf("%d blob reads for one signature layer listed %d times", n, maxSigLayers)
	}
	repeat(maxSigLayers + 1)
	if err := Verify(ctx, ref, v, nil); !errors.Is(err, registry.ErrTooLarge) {
		t.Errorf("verifying with %d layers: %v, want ErrTooLarge", maxSigLayers+1, err)
	}
}

// rawTaggable is a manifest put byte for byte.
type rawTaggable struct {
	raw []byte
	mt  types.MediaType
}

func (r rawTaggable) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawTaggable) MediaType() (types.MediaType, error) { return r.mt, nil }
