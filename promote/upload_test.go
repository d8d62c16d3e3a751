package promote

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// blobRequests counts the target's blob requests in reqs (METHOD PATH),
// by method.
func blobRequests(reqs []string) map[string]int {
	n := map[string]int{}
	for _, r := range reqs {
		method, path, _ := strings.Cut(r, " ")
		if strings.Contains(path, "/blobs/") {
			n[method]++
		}
	}
	return n
}

// TestPromoteBlobRequests pins the target's requests per blob of a copy
// from another registry: three (HEAD, POST, then PUT with the bytes) for a
// blob it lacks, one for a blob it has; a target that refuses a blob sent
// whole gets it, and every later blob, as go-containerregistry uploads
// them (HEAD, POST, PATCH, PUT), and the promotion succeeds.
func TestPromoteBlobRequests(t *testing.T) {
	refuseWhole := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength > 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				_, _ = io.WriteString(w, `{"errors":[{"code":"SIZE_INVALID","message":"too large for one request"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	const blobs = 5 // 4 layers and the config
	tests := []struct {
		name    string
		wrap    func(http.Handler) http.Handler
		present bool // the target has the blobs already
		want    map[string]int
		copied  int
	}{
		{name: "target lacks the blobs", copied: blobs,
			want: map[string]int{"HEAD": blobs, "POST": blobs, "PUT": blobs}},
		{name: "target has the blobs", present: true,
			want: map[string]int{"HEAD": blobs}},
		{name: "target refuses a blob sent whole", wrap: refuseWhole, copied: blobs,
			// Every blob's HEAD and POST go ahead of the first PUT, which
			// is refused; then each blob goes as go-containerregistry
			// sends it (HEAD, POST, PATCH, PUT), the others' sessions left
			// to expire.
			want: map[string]int{"HEAD": 2 * blobs, "POST": 2 * blobs, "PATCH": blobs, "PUT": blobs + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev, rc := newServer(t, false, nil), newServer(t, false, tt.wrap)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			img := randomImage(t, 4096, blobs-1)
			digest := push(t, from, "hello", "1.0.0", img)
			if tt.present {
				repo, _ := to.Repo("hello")
				layers, _ := img.Layers()
				for _, l := range layers {
					if err := remote.WriteLayer(repo, l, to.RemoteOptions(context.Background())...); err != nil {
						t.Fatal(err)
					}
				}
				cfg, _ := img.RawConfigFile()
				if err := remote.WriteLayer(repo, static.NewLayer(cfg, types.OCIConfigJSON), to.RemoteOptions(context.Background())...); err != nil {
					t.Fatal(err)
				}
			}
			rc.log()
			// One blob's bytes at a time: which blob meets the refusal
			// first does not matter, but no other sends its bytes whole
			// once it is known.
			res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Jobs: 1})
			if err != nil {
				t.Fatal(err)
			}
			got := blobRequests(rc.log())
			if len(got) != len(tt.want) || !equalCounts(got, tt.want) {
				t.Errorf("target blob requests %v, want %v", got, tt.want)
			}
			if res.BlobsCopied != tt.copied || res.BlobsSkipped != blobs-tt.copied {
				t.Errorf("%d blobs copied and %d skipped, want %d and %d", res.BlobsCopied, res.BlobsSkipped, tt.copied, blobs-tt.copied)
			}
			if got := descriptor(t, to, "hello", "1.0.0").Digest; got != digest {
				t.Errorf("target tag at %s, want %s", got, digest)
			}
			if _, err := completeAt(to, "hello", "1.0.0"); err != nil {
				t.Errorf("the target's image is not complete: %v", err)
			}
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}
