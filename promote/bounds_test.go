package promote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/sign"
)

// TestPromoteTagPagesThatLoop promotes from a registry whose tag list
// links back to itself: the listing stops at the page seen before, with a
// warning, and the signature tag is found by asking for it.
func TestPromoteTagPagesThatLoop(t *testing.T) {
	isolate(t)
	var pages atomic.Int32
	loop := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/tags/list") {
				pages.Add(1)
				w.Header().Set("Link", `<`+r.URL.Path+`>; rel="next"`)
			}
			h.ServeHTTP(w, r)
		})
	}
	dev, rc := newServer(t, false, loop), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 512, 1))
	sig := "sha256-" + digest.Hex + ".sig"
	sigDigest := push(t, from, "hello", sig, randomImage(t, 64, 1))
	ev := &events{}
	var err error
	faultnet.Within(t, 0, func() {
		_, err = Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Progress: ev.report})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := pages.Load(); n > 2 {
		t.Errorf("%d pages of tags read, want the loop stopped at the second", n)
	}
	if d := descriptor(t, to, "hello", sig); d.Digest != sigDigest {
		t.Errorf("the target's %s is %s, want %s", sig, d.Digest, sigDigest)
	}
	warned := false
	for _, e := range ev.all() {
		warned = warned || e.Kind == EventWarn && strings.Contains(e.Msg, "link back to a page read before") &&
			strings.Contains(e.Msg, "asking for each signature tag instead")
	}
	if !warned {
		t.Errorf("events %+v, want a warning about the tag list", ev.all())
	}
}

// nested is an image in count indexes, each in the next.
func nested(t testing.TB, count int) v1.ImageIndex {
	t.Helper()
	var idx v1.ImageIndex = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: randomImage(t, 64, 1)})
	for range count - 1 {
		idx = mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), mutate.IndexAddendum{Add: idx})
	}
	return idx
}

// TestPromoteBounds promotes trees of manifests beyond the bounds: indexes
// nested deeper than registry.MaxIndexDepth, more manifests than a
// promotion plans. Each stops with registry.ErrTooLarge naming the source,
// before it reads the rest; within the bounds it copies.
func TestPromoteBounds(t *testing.T) {
	isolate(t)
	lower := func(v *int, to int) func(t *testing.T) {
		return func(t *testing.T) {
			old := *v
			*v = to
			t.Cleanup(func() { *v = old })
		}
	}
	tests := []struct {
		name    string
		top     func(t testing.TB) v1.ImageIndex
		set     func(t *testing.T) // lowers a bound
		wantErr string
	}{
		{"indexes nested 4 deep", func(t testing.TB) v1.ImageIndex { return nested(t, registry.MaxIndexDepth) }, nil, ""},
		{"indexes nested 12 deep", func(t testing.TB) v1.ImageIndex { return nested(t, 12) }, nil, "is nested 5 deep"},
		{"more manifests than a promotion plans", platformIndex, lower(&maxManifests, 2), "list more than 2 manifests"},
		{"more blobs than a promotion plans", platformIndex, lower(&maxBlobs, 2), "list more than 2 blobs"},
		{"more manifest bytes than a promotion holds", platformIndex, func(t *testing.T) {
			old := maxManifestBytes
			maxManifestBytes = 300
			t.Cleanup(func() { maxManifestBytes = old })
		}, "are more than 300 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.set != nil {
				tt.set(t)
			}
			dev, rc := newServer(t, false, nil), newServer(t, false, nil)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			push(t, from, "hello", "1.0.0", tt.top(t))
			dev.log()
			var err error
			faultnet.Within(t, 0, func() {
				_, err = Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"})
			})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, registry.ErrTooLarge) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "source registry dev") {
				t.Fatalf("Promote = %v, want ErrTooLarge from the source saying %q", err, tt.wantErr)
			}
			// The image's manifests; its referrers, listed meanwhile through
			// the referrers tag (sha256-HEX), are not part of the tree.
			reads := 0
			for _, r := range dev.log() {
				if strings.HasPrefix(r, "GET ") && strings.Contains(r, "/manifests/") && !strings.Contains(r, "/manifests/sha256-") {
					reads++
				}
			}
			if reads > registry.MaxIndexDepth+1 {
				t.Errorf("%d manifests read from the source, want it stopped at the bound", reads)
			}
			if exists(t, to, "hello", "1.0.0") {
				t.Error("the target has the version tag of an image it did not receive")
			}
		})
	}
}

// TestManifestLayersBounded: a manifest listing more layers than any
// runtime stacks is refused as read, before a blob of it is planned.
func TestManifestLayersBounded(t *testing.T) {
	layers := make([]v1.Descriptor, maxLayers+1)
	for i := range layers {
		layers[i] = v1.Descriptor{MediaType: types.OCILayer, Size: 1, Digest: digestOf([]byte{byte(i), byte(i >> 8)})}
	}
	raw, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": types.OCIManifestSchema1,
		"config": v1.Descriptor{MediaType: types.OCIConfigJSON, Size: 2, Digest: digestOf([]byte("{}"))}, "layers": layers})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := references(raw, types.OCIManifestSchema1); !errors.Is(err, registry.ErrTooLarge) || !strings.Contains(err.Error(), "1001 layers") {
		t.Errorf("references = %v, want ErrTooLarge for 1001 layers", err)
	}
	if _, err := references(raw[:0:0], types.OCIManifestSchema1); err == nil {
		t.Error("an empty manifest was read")
	}
}

// derivedReferrers answers the referrers API for any subject with n
// descriptors made from the subject's digest, the same in every
// registry, counting the lists asked for.
func derivedReferrers(n int, count *atomic.Int64) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i := strings.LastIndex(r.URL.Path, "/referrers/")
			if i < 0 {
				h.ServeHTTP(w, r)
				return
			}
			count.Add(1)
			subject := r.URL.Path[i+len("/referrers/"):]
			ms := make([]v1.Descriptor, n)
			for j := range ms {
				ms[j] = v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 100, Digest: digestOf(fmt.Appendf(nil, "%s/%d", subject, j))}
			}
			b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": types.OCIImageIndex, "manifests": ms})
			w.Header().Set("Content-Type", string(types.OCIImageIndex))
			_, _ = w.Write(b)
		})
	}
}

// TestReferrerSubjectsBounded: both registries list, for every subject,
// the same referrers (the target has them, so none is copied): their own
// referrers are listed in turn, N + N^2 + ... subjects, up to the bound.
func TestReferrerSubjectsBounded(t *testing.T) {
	isolate(t)
	old := maxSubjects
	maxSubjects = 20
	t.Cleanup(func() { maxSubjects = old })
	var srcLists, dstLists atomic.Int64
	dev, rc := newServer(t, true, derivedReferrers(5, &srcLists)), newServer(t, true, derivedReferrers(5, &dstLists))
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	push(t, from, "hello", "1.0.0", randomImage(t, 512, 1))
	_, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"})
	if !errors.Is(err, registry.ErrTooLarge) || !strings.Contains(err.Error(), "more than 20 subjects") {
		t.Errorf("Promote = %v, want ErrTooLarge for more than 20 subjects", err)
	}
	if n := srcLists.Load(); n > 21 {
		t.Errorf("%d referrers lists read from the source, want it stopped at the bound", n)
	}
}

// TestRecordsReadBounded: the records a listing reads are the record
// artifacts, each once, and at most maxRecordReads of them; a promotion
// attestation listed again in a target's cosign manifest is kept once.
func TestRecordsReadBounded(t *testing.T) {
	rec := func(i int) v1.Descriptor {
		return v1.Descriptor{ArtifactType: ArtifactType, MediaType: types.OCIManifestSchema1, Size: 1, Digest: digestOf([]byte{byte(i), byte(i >> 8)})}
	}
	other := v1.Descriptor{ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json", Digest: digestOf([]byte("sig"))}
	descs := []v1.Descriptor{rec(1), other, rec(1), rec(2), rec(1)}
	got, err := recordsToRead(descs)
	if err != nil || len(got) != 2 {
		t.Errorf("recordsToRead = %d, %v; want the 2 records, once each", len(got), err)
	}
	descs = nil
	for i := range maxRecordReads + 1 {
		descs = append(descs, rec(i))
	}
	if _, err := recordsToRead(descs); !errors.Is(err, registry.ErrTooLarge) {
		t.Errorf("recordsToRead of %d records: %v, want ErrTooLarge", len(descs), err)
	}

	att := v1.Descriptor{MediaType: "application/vnd.dsse.envelope.v1+json", Digest: digestOf([]byte("att")),
		Annotations: map[string]string{sign.PredicateTypeAnnotation: PredicateType}}
	have := &v1.Manifest{Layers: slices.Repeat([]v1.Descriptor{att}, 300)}
	if _, keep := attestationsToKeep(have, &v1.Manifest{}); len(keep) != 1 {
		t.Errorf("an attestation listed 300 times is kept %d times, want once", len(keep))
	}
}
