package promote

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// blobSizes sums the config and layer sizes of img.
func blobSizes(t *testing.T, img v1.Image) (n int, size int64) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	size = m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return len(m.Layers) + 1, size
}

func TestPromoteImage(t *testing.T) {
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	img := randomImage(t, 4096, 3)
	digest := push(t, from, "hello", "1.2.3", img)
	ev := &events{}

	res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.2.3", Progress: ev.report})
	if err != nil {
		t.Fatal(err)
	}
	blobs, size := blobSizes(t, img)
	want := Result{
		Source: dev.host() + "/team/hello@" + digest.String(), Target: rc.host() + "/team/hello@" + digest.String(),
		Digest: digest.String(), Tags: []string{rc.host() + "/team/hello:1.2.3"},
		BlobsCopied: blobs, Bytes: size,
	}
	res.Seconds = 0
	if !equalResult(res, want) {
		t.Errorf("result\n %+v\nwant\n %+v", res, want)
	}
	src, dst := descriptor(t, from, "hello", digest.String()), descriptor(t, to, "hello", "1.2.3")
	if !bytes.Equal(src.Manifest, dst.Manifest) || src.MediaType != dst.MediaType || dst.Digest != digest {
		t.Errorf("target manifest %s %s differs from source %s %s", dst.MediaType, dst.Digest, src.MediaType, src.Digest)
	}
	es := ev.all()
	if len(es) == 0 || es[0].Kind != EventStart {
		t.Fatalf("events %+v: want Start first", es)
	}
	var last Event
	for _, e := range es {
		if e.Kind == EventCopy {
			last = e
		}
	}
	if wantMsg := fmt.Sprintf("%d/%d blobs", blobs, blobs); last.Done != size || last.Total != size || last.Msg != wantMsg {
		t.Errorf("last update %+v, want %d of %d B and %q", last, size, size, wantMsg)
	}
}

func equalResult(a, b Result) bool {
	return slices.Equal(a.Tags, b.Tags) && a.Source == b.Source && a.Target == b.Target && a.Digest == b.Digest &&
		a.BlobsCopied == b.BlobsCopied && a.BlobsSkipped == b.BlobsSkipped && a.BlobsMounted == b.BlobsMounted &&
		a.Bytes == b.Bytes && a.Referrers == b.Referrers && a.UpToDate == b.UpToDate && a.RecordDigest == b.RecordDigest
}

// hasBlob reports whether s holds blob d in team/app.
func hasBlob(t *testing.T, s *server, app string, d v1.Hash) bool {
	t.Helper()
	resp, err := http.Head(s.URL + "/v2/team/" + app + "/blobs/" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestPromoteIndex(t *testing.T) {
	dev, rc := newServer(t, true, nil), newServer(t, true, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	idx := platformIndex(t)
	digest := push(t, from, "hello", "2.0.0", idx)

	res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "2.0.0", Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != digest.String() || res.BlobsCopied != 6 {
		t.Errorf("result %+v; want %s with 2 configs and 4 layers copied", res, digest)
	}
	dst := descriptor(t, to, "hello", "2.0.0")
	raw, _ := idx.RawManifest()
	if dst.Digest != digest || !bytes.Equal(dst.Manifest, raw) {
		t.Errorf("target index %s differs from source %s", dst.Digest, digest)
	}
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		child := descriptor(t, to, "hello", m.Digest.String())
		img, _ := idx.Image(m.Digest)
		want, _ := img.RawManifest()
		if !bytes.Equal(child.Manifest, want) {
			t.Errorf("%s: target manifest differs", m.Platform)
		}
		mf, _ := img.Manifest()
		for _, b := range append([]v1.Descriptor{mf.Config}, mf.Layers...) {
			if !hasBlob(t, rc, "hello", b.Digest) {
				t.Errorf("%s: target lacks blob %s", m.Platform, b.Digest)
			}
		}
	}
}

func TestPromoteReferrers(t *testing.T) {
	for _, api := range []bool{true, false} {
		name := map[bool]string{true: "referrers API", false: "referrers tag"}[api]
		t.Run(name, func(t *testing.T) {
			dev, rc := newServer(t, api, nil), newServer(t, api, nil)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			idx := platformIndex(t)
			digest := push(t, from, "hello", "1.0.0", idx)
			top := descriptor(t, from, "hello", digest.String()).Descriptor
			sig := attach(t, from, "hello", top)
			// A signature of the signature: a referrer of a referrer.
			sigSig := attach(t, from, "hello", descriptor(t, from, "hello", sig.String()).Descriptor)
			// A referrer of one platform's manifest.
			im, _ := idx.IndexManifest()
			child := descriptor(t, from, "hello", im.Manifests[0].Digest.String()).Descriptor
			childSig := attach(t, from, "hello", child)
			// A cosign-style signature tag.
			cosign := "sha256-" + digest.Hex + ".sig"
			cosignDigest := push(t, from, "hello", cosign, randomImage(t, 64, 1))

			res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Referrers != 4 {
				t.Errorf("copied %d referrers, want 4", res.Referrers)
			}
			for _, tt := range []struct {
				subject v1.Hash
				want    v1.Hash
			}{{digest, sig}, {sig, sigSig}, {child.Digest, childSig}} {
				repo, _ := to.Repo("hello")
				refs, err := remote.Referrers(repo.Digest(tt.subject.String()), to.RemoteOptions(context.Background())...)
				if err != nil {
					t.Fatal(err)
				}
				rm, _ := refs.IndexManifest()
				if len(rm.Manifests) != 1 || rm.Manifests[0].Digest != tt.want {
					t.Errorf("target referrers of %s: %+v, want %s", tt.subject, rm.Manifests, tt.want)
				}
			}
			if got := descriptor(t, to, "hello", cosign).Digest; got != cosignDigest {
				t.Errorf("target %s = %s, want %s", cosign, got, cosignDigest)
			}
			if !api && !exists(t, to, "hello", "sha256-"+digest.Hex) {
				t.Errorf("target lacks the referrers tag")
			}
		})
	}
}

func TestPromoteTagConflict(t *testing.T) {
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 512, 1))
	other := push(t, to, "hello", "1.0.0", randomImage(t, 512, 1))
	o := Options{From: from, To: to, App: "hello", Version: "1.0.0"}

	_, err := Promote(context.Background(), o)
	var tc *registry.TagConflictError
	if !errors.Is(err, ErrTagConflict) || !errors.As(err, &tc) {
		t.Fatalf("err = %v, want a tag conflict", err)
	}
	if tc.Existing != other || tc.New != digest {
		t.Errorf("conflict %+v", tc)
	}
	if got := descriptor(t, to, "hello", "1.0.0").Digest; got != other {
		t.Errorf("refused promotion moved the tag to %s", got)
	}

	ev := &events{}
	o.Force, o.Progress = true, ev.report
	if _, err := Promote(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if got := descriptor(t, to, "hello", "1.0.0").Digest; got != digest {
		t.Errorf("forced promotion left the tag at %s, want %s", got, digest)
	}
	if !slices.ContainsFunc(ev.all(), func(e Event) bool { return e.Kind == EventWarn && strings.Contains(e.Msg, "forced") }) {
		t.Errorf("no warning about moving the tag: %+v", ev.all())
	}
}

// failing fails requests that match while it is on.
type failing struct {
	on    atomic.Bool
	match func(*http.Request) bool
}

func (f *failing) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.on.Load() && f.match(r) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNKNOWN","message":"injected failure"}]}`)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func TestPromoteInterrupted(t *testing.T) {
	put := func(path string) func(*http.Request) bool {
		return func(r *http.Request) bool { return r.Method == http.MethodPut && strings.Contains(r.URL.Path, path) }
	}
	tests := []struct {
		name  string
		match func(*http.Request) bool
		// what the re-run does with the 6 blobs of the index, and with the
		// signature: copied, unless the first run got it there
		wantCopied, wantSkipped, wantReferrers int
	}{
		{"blob upload fails", put("/blobs/uploads/"), 6, 0, 1},
		{"manifest put fails", put("/manifests/"), 0, 6, 1},
		{"tag put fails", put("/manifests/1.0.0"), 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &failing{match: tt.match}
			f.on.Store(true)
			dev, rc := newServer(t, false, nil), newServer(t, false, f.wrap)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			idx := platformIndex(t)
			digest := push(t, from, "hello", "1.0.0", idx)
			im, _ := idx.IndexManifest()
			sig := attach(t, from, "hello", im.Manifests[1])
			o := Options{From: from, To: to, App: "hello", Version: "1.0.0", Jobs: 1, Record: &Record{Who: "ci"}}

			_, err := Promote(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), "injected failure") {
				t.Fatalf("err = %v, want the injected failure", err)
			}
			if !strings.Contains(err.Error(), "target registry rc") {
				t.Errorf("error does not name the target: %v", err)
			}
			if exists(t, to, "hello", "1.0.0") {
				t.Fatal("the interrupted promotion left a tag")
			}
			f.on.Store(false)
			res, err := Promote(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			// The signature's 2 blobs are copied by the re-run, or skipped
			// when the first run copied them beside the image's.
			extra := res.BlobsCopied - tt.wantCopied + res.BlobsSkipped - tt.wantSkipped
			if res.UpToDate || res.BlobsSkipped < tt.wantSkipped || res.BlobsCopied < tt.wantCopied || (extra != 0 && extra != 2) {
				t.Errorf("re-run %+v; want %d blobs copied and %d skipped, and the signature's 2 either way", res, tt.wantCopied, tt.wantSkipped)
			}
			if got := descriptor(t, to, "hello", "1.0.0").Digest; got != digest {
				t.Errorf("tag points at %s, want %s", got, digest)
			}
			if res.Referrers != tt.wantReferrers || !exists(t, to, "hello", sig.String()) {
				t.Errorf("referrers %d, want %d; want the signature in the target", res.Referrers, tt.wantReferrers)
			}
			recs, err := Records(context.Background(), to, "hello", digest)
			if err != nil || len(recs) != 1 {
				t.Errorf("records %+v, %v; want one", recs, err)
			}
		})
	}
}

// TestPromoteJobs sends blobs' bytes at most Jobs at a time (0 meaning
// DefaultJobs; the requests that carry none go ahead), and sends no
// blob's bytes after one failed.
func TestPromoteJobs(t *testing.T) {
	for _, jobs := range []int{0, 1, 3} {
		t.Run(strconv.Itoa(jobs), func(t *testing.T) {
			var running, peak atomic.Int32
			count := func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if strings.Contains(r.URL.Path, "/blobs/uploads/") && (r.Method == http.MethodPut || r.Method == http.MethodPatch) {
						n := running.Add(1)
						defer running.Add(-1)
						for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
						}
						time.Sleep(time.Millisecond) // let other uploads overlap this one
					}
					h.ServeHTTP(w, r)
				})
			}
			dev, rc := newServer(t, false, nil), newServer(t, false, count)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			push(t, from, "hello", "1.0.0", randomImage(t, 1024, 8))
			res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Jobs: jobs})
			if err != nil {
				t.Fatal(err)
			}
			if limit := cmp.Or(jobs, DefaultJobs); res.BlobsCopied != 9 || int(peak.Load()) > limit {
				t.Errorf("%d blobs copied, %d at once; want 9, at most %d at once", res.BlobsCopied, peak.Load(), limit)
			}
		})
	}
	t.Run("first failure stops the rest", func(t *testing.T) {
		var mu sync.Mutex
		sent := map[string]bool{} // blobs whose bytes were sent, each as often as retries allow
		f := &failing{match: func(r *http.Request) bool {
			put := r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/")
			if put {
				mu.Lock()
				sent[r.URL.Query().Get("digest")] = true
				mu.Unlock()
			}
			return put
		}}
		f.on.Store(true)
		dev, rc := newServer(t, false, nil), newServer(t, false, f.wrap)
		from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
		push(t, from, "hello", "1.0.0", randomImage(t, 1024, 8))
		rc.log()
		if _, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Jobs: 1}); err == nil {
			t.Fatal("want the injected failure")
		}
		mu.Lock()
		defer mu.Unlock()
		if len(sent) != 1 {
			t.Errorf("%d blobs sent their bytes, want 1: none after the first failed", len(sent))
		}
	})
}

// TestPromoteUpToDate re-runs a finished promotion of a two-platform index:
// it writes nothing and reads little. The source is read once by tag, its
// tags listed once (for cosign's tags), and the referrers of the index and
// of each platform's manifest listed (one request each: the API, or the
// referrers tag where the registry lacks the API, which the clients
// remember from the first run's 404). The target is asked for
// the version tag and, at the same time, for the index itself (which a
// first promotion needs next, so the look goes at once), and, when a
// record is wanted, for the index's referrers.
func TestPromoteUpToDate(t *testing.T) {
	tests := []struct {
		name             string
		api, record      bool
		wantSrc, wantDst int
	}{
		{"referrers tag, no record", false, false, 2 + 3, 2},
		{"referrers tag, record", false, true, 2 + 3, 2 + 1},
		{"referrers API, no record", true, false, 2 + 3, 2},
		{"referrers API, record", true, true, 2 + 3, 2 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev, rc := newServer(t, tt.api, nil), newServer(t, tt.api, nil)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			digest := push(t, from, "hello", "1.0.0", platformIndex(t))
			o := Options{From: from, To: to, App: "hello", Version: "1.0.0"}
			if tt.record {
				o.Record = &Record{Who: "ci", When: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
			}
			first, err := Promote(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			dev.log()
			rc.log()
			if tt.record {
				o.Record = &Record{Who: "someone else", When: time.Now()}
			}
			ev := &events{}
			o.Progress = ev.report
			again, err := Promote(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !again.UpToDate || again.BlobsCopied+again.BlobsSkipped+again.BlobsMounted != 0 || again.Referrers != 0 || again.RecordDigest != first.RecordDigest {
				t.Errorf("re-run %+v; want up to date with nothing copied and record %s", again, first.RecordDigest)
			}
			srcReqs, dstReqs := dev.log(), rc.log()
			for _, r := range append(srcReqs, dstReqs...) {
				if !strings.HasPrefix(r, "HEAD ") && !strings.HasPrefix(r, "GET ") {
					t.Errorf("re-run wrote: %s", r)
				}
			}
			if len(srcReqs) != tt.wantSrc || len(dstReqs) != tt.wantDst {
				t.Errorf("re-run made %d source and %d target requests, want %d and %d:\n%s\n%s",
					len(srcReqs), len(dstReqs), tt.wantSrc, tt.wantDst, strings.Join(srcReqs, "\n"), strings.Join(dstReqs, "\n"))
			}
			if !slices.ContainsFunc(ev.all(), func(e Event) bool { return strings.Contains(e.Msg, "up to date") }) {
				t.Errorf("no up-to-date event: %+v", ev.all())
			}
			if tt.record {
				recs, err := Records(context.Background(), to, "hello", digest)
				if err != nil || len(recs) != 1 || recs[0].Who != "ci" {
					t.Errorf("records %+v, %v; want the first one only", recs, err)
				}
			}
		})
	}
}

func TestPromoteSameRegistryMounts(t *testing.T) {
	s := newServer(t, false, withRepoBlobs)
	from, to := client(t, s, "dev", "dev"), client(t, s, "rc", "rc")
	idx := platformIndex(t)
	digest := push(t, from, "hello", "1.0.0", idx)

	res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if res.BlobsMounted != 6 || res.BlobsCopied != 0 || res.Bytes != 0 {
		t.Errorf("result %+v; want all 6 blobs mounted and no bytes sent", res)
	}
	if got := descriptor(t, to, "hello", "1.0.0").Digest; got != digest {
		t.Errorf("target %s, want %s", got, digest)
	}
}

func TestPromoteAuthErrorsNameTheSide(t *testing.T) {
	tests := []struct {
		name       string
		devLocked  bool
		rcLocked   bool
		wantPrefix string // + "registry NAME (HOST)"
		wantVar    string
	}{
		{"source", true, false, "source", "SLIPWAY_REGISTRY_DEV_USERNAME"},
		{"target", false, true, "target", "SLIPWAY_REGISTRY_RC_USERNAME"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			lock := func(on bool) func(http.Handler) http.Handler {
				if on {
					return testutil.BasicAuth("ci", "secret")
				}
				return nil
			}
			dev, rc := newServer(t, false, lock(tt.devLocked)), newServer(t, false, lock(tt.rcLocked))
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			t.Setenv("SLIPWAY_REGISTRY_DEV_USERNAME", "ci")
			t.Setenv("SLIPWAY_REGISTRY_DEV_PASSWORD", "secret")
			push(t, from, "hello", "1.0.0", randomImage(t, 256, 1))
			t.Setenv("SLIPWAY_REGISTRY_DEV_USERNAME", "")
			t.Setenv("SLIPWAY_REGISTRY_DEV_PASSWORD", "")

			_, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"})
			if !errors.Is(err, registry.ErrAuth) {
				t.Fatalf("err = %v, want ErrAuth", err)
			}
			host := map[string]string{"source": dev.host(), "target": rc.host()}[tt.wantPrefix]
			name := map[string]string{"source": "dev", "target": "rc"}[tt.wantPrefix]
			if msg, w := err.Error(), tt.wantPrefix+" registry "+name+" ("+host+")"; !strings.Contains(msg, w) {
				t.Errorf("message %q lacks %q", msg, w)
			}
			// The next step is data, worded by the command line: a login
			// to the host, or the registry's variables.
			if r, _ := remedy.Of(err); r.Kind != remedy.LoginRegistry || r.Host != host || r.Registry != name {
				t.Errorf("remedy = %+v; want a login to %s (registry %s)", r, host, name)
			}
			if u, _ := config.RegistryEnvVars(name); u != tt.wantVar {
				t.Errorf("registry %s's variables are %s; want %s", name, u, tt.wantVar)
			}
		})
	}
}

func TestPromoteMissingVersion(t *testing.T) {
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	push(t, from, "hello", "1.0.0", randomImage(t, 256, 1))
	_, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "9.9.9"})
	if !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	for _, w := range []string{"source registry dev", dev.host() + "/team/hello:9.9.9", "version 9.9.9"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q lacks %q", err, w)
		}
	}
	if r, _ := remedy.Of(err); r.Kind != remedy.PushThere || r.Registry != "dev" {
		t.Errorf("remedy = %+v; want a push to dev first", r)
	}
	if len(rc.log()) != 0 {
		t.Errorf("the target was written to")
	}
}

func TestPromoteByDigest(t *testing.T) {
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 256, 1))
	other := push(t, from, "hello", "1.0.1", randomImage(t, 256, 1))

	_, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Digest: other})
	if !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("err = %v, want ErrVersionMismatch", err)
	}
	res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Digest: digest, Record: &Record{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tags) != 0 || res.Digest != digest.String() || !exists(t, to, "hello", digest.String()) || exists(t, to, "hello", "1.0.0") {
		t.Errorf("result %+v; want the digest copied and nothing tagged", res)
	}
	again, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Digest: digest, Record: &Record{}})
	if err != nil || !again.UpToDate {
		t.Errorf("re-run %+v, %v; want up to date", again, err)
	}
	both, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Digest: digest})
	if err != nil || both.UpToDate || len(both.Tags) != 1 || both.BlobsCopied != 0 {
		t.Errorf("tagging run %+v, %v; want the tag set and nothing copied", both, err)
	}
}

func TestPromoteGitTag(t *testing.T) {
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	img := randomImage(t, 256, 1)
	digest := push(t, from, "hello", "1.0.0", img)
	push(t, from, "hello", "git-0123456", img)
	commit := "0123456789abcdef0123456789abcdef01234567"

	res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Commit: commit, Record: &Record{}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{rc.host() + "/team/hello:1.0.0", rc.host() + "/team/hello:git-0123456"}
	if !slices.Equal(res.Tags, want) || descriptor(t, to, "hello", "git-0123456").Digest != digest {
		t.Errorf("tags %v, want %v pointing at %s", res.Tags, want, digest)
	}
	recs, err := Records(context.Background(), to, "hello", digest)
	if err != nil || len(recs) != 1 || recs[0].Commit != commit {
		t.Errorf("records %+v, %v; want one with the commit", recs, err)
	}
	// A commit whose tag points elsewhere is not promoted.
	other := push(t, from, "hello", "1.0.1", randomImage(t, 256, 1))
	res, err = Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.1", Commit: commit})
	if err != nil || len(res.Tags) != 1 || res.Digest != other.String() {
		t.Errorf("result %+v, %v; want only the version tag", res, err)
	}
}

func TestPromoteRecord(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(map[bool]string{true: "referrers API", false: "referrers tag"}[api], func(t *testing.T) {
			dev, rc := newServer(t, api, nil), newServer(t, api, nil)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			digest := push(t, from, "hello", "1.0.0", randomImage(t, 256, 2))
			// Promote without a record first: the record alone is written later.
			if _, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"}); err != nil {
				t.Fatal(err)
			}
			when := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
			res, err := Promote(context.Background(), Options{From: from, To: to, FromName: "development", App: "hello", Version: "1.0.0",
				Record: &Record{Who: "jenkins#42", When: when, Commit: "abc"}})
			if err != nil {
				t.Fatal(err)
			}
			if res.UpToDate || res.RecordDigest == "" || res.BlobsCopied != 0 {
				t.Errorf("result %+v; want a record written and nothing copied", res)
			}
			recs, err := Records(context.Background(), to, "hello", digest)
			if err != nil {
				t.Fatal(err)
			}
			want := Record{From: "development", To: "rc", Source: dev.host() + "/team/hello@" + digest.String(),
				Target: rc.host() + "/team/hello@" + digest.String(), Digest: digest.String(), Version: "1.0.0",
				Commit: "abc", Who: "jenkins#42", When: when}
			if len(recs) != 1 || recs[0] != want {
				t.Errorf("records %+v\nwant %+v", recs, want)
			}
			d := descriptor(t, to, "hello", res.RecordDigest)
			if d.ArtifactType != ArtifactType {
				t.Errorf("record artifact type %q", d.ArtifactType)
			}
			none, err := Records(context.Background(), from, "hello", digest)
			if err != nil || len(none) != 0 {
				t.Errorf("source records %+v, %v; want none", none, err)
			}
		})
	}
}

func TestPromoteStreams(t *testing.T) {
	img := randomImage(t, 1<<20, 1)
	layers, _ := img.Layers()
	big, _ := layers[0].Digest()
	rc0, _ := layers[0].Compressed()
	body, _ := io.ReadAll(rc0)
	rc0.Close()

	gate := make(chan struct{})
	var once sync.Once
	var streamed atomic.Bool
	// The source sends the first half of the big blob, then waits until the
	// target has received some of it: a copy that buffered the blob whole
	// would wait forever.
	srcWrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+big.String()) {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			select {
			case <-gate:
				streamed.Store(true)
			case <-time.After(10 * time.Second):
			}
			_, _ = w.Write(body[len(body)/2:])
		})
	}
	dstWrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") {
				r.Body = &signalReader{ReadCloser: r.Body, signal: func() { once.Do(func() { close(gate) }) }}
			}
			h.ServeHTTP(w, r)
		})
	}
	dev, rc := newServer(t, false, srcWrap), newServer(t, false, dstWrap)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	push(t, from, "hello", "1.0.0", img)
	if _, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	if !streamed.Load() {
		t.Error("the blob was not streamed from the source into the upload")
	}
}

type signalReader struct {
	io.ReadCloser
	signal func()
}

func (r *signalReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if n > 0 {
		r.signal()
	}
	return n, err
}

func TestPromoteChecksOptions(t *testing.T) {
	s := newServer(t, false, nil)
	c := client(t, s, "dev", "team")
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no registries", Options{App: "hello", Version: "1"}, "registries are required"},
		{"no app", Options{From: c, To: c, Version: "1"}, "no app"},
		{"nothing to promote", Options{From: c, To: c, App: "hello"}, "version or a digest"},
		{"bad digest", Options{From: c, To: c, App: "hello", Digest: v1.Hash{Algorithm: "sha256", Hex: "nope"}}, "parsing digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Promote(context.Background(), tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestPromoteCorruptSource: a source that sends other bytes than a blob's
// digest names is caught by the target, and the error blames the source.
func TestPromoteCorruptSource(t *testing.T) {
	img := randomImage(t, 4096, 1)
	layers, _ := img.Layers()
	bad, _ := layers[0].Digest()
	srcWrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+bad.String()) {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			body[len(body)/2] ^= 0xff // same length, one byte flipped
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(rec.Code)
			_, _ = w.Write(body)
		})
	}
	dev, rc := newServer(t, false, srcWrap), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	push(t, from, "hello", "1.0.0", img)
	_, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"})
	if !errors.Is(err, ErrCorruptBlob) || !strings.Contains(err.Error(), "source registry dev") || !strings.Contains(err.Error(), bad.String()) {
		t.Fatalf("err = %v, want ErrCorruptBlob naming the source and the blob", err)
	}
	if exists(t, to, "hello", "1.0.0") {
		t.Error("the target has the version tag after a failed promotion")
	}
}

// plainRegistry is a Registry that is not one of Slipway's clients: plain
// HTTP, anonymous, go-containerregistry's defaults.
type plainRegistry struct{ host string }

func (r plainRegistry) Host() string { return r.host }
func (r plainRegistry) Name() string { return "" }
func (r plainRegistry) Repo(app string) (name.Repository, error) {
	return name.NewRepository(r.host+"/team/"+app, name.Insecure)
}
func (r plainRegistry) RemoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx)}
}

// TestPromotePlainRegistry promotes between registries of another kind
// than Slipway's clients: the image arrives and is tagged, and errors name
// the registry by host.
func TestPromotePlainRegistry(t *testing.T) {
	dev, rc := newServer(t, true, nil), newServer(t, true, nil)
	from, to := plainRegistry{dev.host()}, plainRegistry{rc.host()}
	idx := platformIndex(t)
	digest := push(t, client(t, dev, "dev", "team"), "hello", "1.0.0", idx)

	res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Record: &Record{Who: "ci"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := descriptor(t, client(t, rc, "rc", "team"), "hello", "1.0.0").Digest; got != digest || res.Digest != digest.String() {
		t.Errorf("target tag at %s, result %s; want %s", got, res.Digest, digest)
	}
	if recs, err := Records(context.Background(), to, "hello", digest); err != nil || len(recs) != 1 || recs[0].From != dev.host() {
		t.Errorf("records %+v, %v; want one, from %s", recs, err, dev.host())
	}
	_, err = Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "9.9.9"})
	if !errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), "source registry "+dev.host()) {
		t.Errorf("err = %v, want not found in the source registry %s", err, dev.host())
	}
}

// TestPromoteRecordInThreeRequests: the record's blobs go as the image's
// do, each a HEAD, a POST and a PUT with the bytes: no PATCH reaches the
// target.
func TestPromoteRecordInThreeRequests(t *testing.T) {
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	push(t, from, "hello", "1.0.0", randomImage(t, 4096, 2))
	rc.log()
	res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Record: &Record{Who: "ci"}})
	if err != nil || res.RecordDigest == "" {
		t.Fatalf("promotion %+v, %v; want it recorded", res, err)
	}
	if res.BlobsCopied != 3 {
		t.Errorf("%d blobs copied, want the image's 3 (the record's are not counted)", res.BlobsCopied)
	}
	for _, r := range rc.log() {
		if strings.HasPrefix(r, "PATCH ") {
			t.Errorf("the target saw %s", r)
		}
	}
}
