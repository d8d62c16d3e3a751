package promote

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/registry"
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
func nested(t *testing.T, count int) v1.ImageIndex {
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
	tests := []struct {
		name         string
		top          func(t *testing.T) v1.ImageIndex
		maxManifests int
		wantErr      string
	}{
		{"indexes nested 4 deep", func(t *testing.T) v1.ImageIndex { return nested(t, registry.MaxIndexDepth) }, 0, ""},
		{"indexes nested 12 deep", func(t *testing.T) v1.ImageIndex { return nested(t, 12) }, 0, "is nested 5 deep"},
		{"more manifests than a promotion plans", func(t *testing.T) v1.ImageIndex { return platformIndex(t) }, 2, "list more than 2 manifests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.maxManifests > 0 {
				old := maxManifests
				maxManifests = tt.maxManifests
				t.Cleanup(func() { maxManifests = old })
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
