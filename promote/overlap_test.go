package promote

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hold keeps a request waiting until another request is seen, or a while,
// once armed.
type hold struct {
	armed  atomic.Bool
	once   sync.Once
	seen   chan struct{}
	mu     sync.Mutex
	before bool // the awaited request came while the held one waited
}

func newHold() *hold { return &hold{seen: make(chan struct{})} }

// wrap holds requests that match held on the server it wraps, and notes
// those that match awaited.
func (h *hold) wrap(held, awaited func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !h.armed.Load() {
				next.ServeHTTP(w, r)
				return
			}
			if awaited != nil && awaited(r) {
				h.once.Do(func() { close(h.seen) })
			}
			if held != nil && held(r) {
				select {
				case <-h.seen:
					h.mu.Lock()
					h.before = true
					h.mu.Unlock()
				case <-time.After(5 * time.Second):
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (h *hold) overlapped() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.before
}

// TestPromoteOverlapsTheCopy holds the image's largest blob in the source
// until the promotion makes a request that once waited for every blob to
// be in: the source's referrers listed, its tags listed for cosign's, the
// signature's blobs copied, the target's referrers listed for a record,
// the record's blobs uploaded. Each must come while the blob is held.
func TestPromoteOverlapsTheCopy(t *testing.T) {
	img := randomImage(t, 64<<10, 3)
	layers, _ := img.Layers()
	big, _ := layers[0].Digest()
	sigImg := randomImage(t, 64, 1)
	sigLayers, _ := sigImg.Layers()
	sigBlob, _ := sigLayers[0].Digest()
	emptyJSON := digestOf([]byte("{}"))

	path := func(method, part string) func(*http.Request) bool {
		return func(r *http.Request) bool { return r.Method == method && strings.Contains(r.URL.String(), part) }
	}
	tests := []struct {
		name     string
		inSource bool // the awaited request goes to the source, else the target
		awaited  func(*http.Request) bool
	}{
		{"the source's referrers listed", true, path(http.MethodGet, "/referrers/")},
		{"the source's tags listed", true, path(http.MethodGet, "/tags/list")},
		{"the signature's blob copied", false, path(http.MethodPut, "digest="+strings.ReplaceAll(sigBlob.String(), ":", "%3A"))},
		{"the target's referrers listed", false, path(http.MethodGet, "/referrers/")},
		{"the record's blob uploaded", false, path(http.MethodHead, "/blobs/"+emptyJSON.String())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHold()
			held := path(http.MethodGet, "/blobs/"+big.String())
			srcWrap, dstWrap := h.wrap(held, nil), h.wrap(nil, tt.awaited)
			if tt.inSource {
				srcWrap = h.wrap(held, tt.awaited)
			}
			dev, rc := newServer(t, true, srcWrap), newServer(t, true, dstWrap)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			digest := push(t, from, "hello", "1.0.0", img)
			sig := attach(t, from, "hello", descriptor(t, from, "hello", digest.String()).Descriptor)
			cosign := push(t, from, "hello", "sha256-"+digest.Hex+".sig", sigImg)

			h.armed.Store(true)
			res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Record: &Record{Who: "ci"}})
			if err != nil {
				t.Fatal(err)
			}
			if !h.overlapped() {
				t.Errorf("the promotion waited for the image's blob %s before: %s", big, tt.name)
			}
			if res.Referrers != 2 || res.RecordDigest == "" || !exists(t, to, "hello", sig.String()) ||
				descriptor(t, to, "hello", "sha256-"+digest.Hex+".sig").Digest != cosign || descriptor(t, to, "hello", "1.0.0").Digest != digest {
				t.Errorf("result %+v; want the image tagged, both signatures and a record", res)
			}
		})
	}
}

// TestPromoteLooksAtOnce: the target is asked whether it holds the image
// while its version tag is looked at, not after (the tag answers first
// only when the image is complete there).
func TestPromoteLooksAtOnce(t *testing.T) {
	img := randomImage(t, 4096, 2)
	h := newHold()
	dev := newServer(t, false, nil)
	from := client(t, dev, "dev", "team")
	digest := push(t, from, "hello", "1.0.0", img)
	isHead := func(ref string) func(*http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == http.MethodHead && r.URL.Path == "/v2/team/hello/manifests/"+ref
		}
	}
	// Only the first look at the tag is held: the guard's, at the end,
	// comes after the image's own look in any case.
	var tagLooks atomic.Int32
	firstTagLook := func(r *http.Request) bool { return isHead("1.0.0")(r) && tagLooks.Add(1) == 1 }
	rc := newServer(t, false, h.wrap(firstTagLook, isHead(digest.String())))
	promoteOverlaps(t, h, from, client(t, rc, "rc", "team"), "the target was asked for the image only after its version tag answered")
}

// promoteOverlaps arms h, promotes hello 1.0.0 from from to to, and fails
// the test saying why when h saw no overlap.
func promoteOverlaps(t *testing.T, h *hold, from, to Registry, why string) {
	t.Helper()
	h.armed.Store(true)
	if _, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	if !h.overlapped() {
		t.Error(why)
	}
}

// TestPromoteMountsAtOnce: within one registry, blobs are mounted, which
// carries no bytes: mounts do not wait for the slots that bound the blobs
// whose bytes are on the way (one, here).
func TestPromoteMountsAtOnce(t *testing.T) {
	h := newHold()
	isMount := func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Query().Has("mount") }
	var mounts atomic.Int32
	first := func(r *http.Request) bool { return isMount(r) && mounts.Add(1) == 1 }
	second := func(r *http.Request) bool { return isMount(r) && mounts.Load() >= 2 }
	// go-containerregistry's registry keeps blobs for all repositories
	// at once: the target's say they lack them, as a real one does.
	unseen := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead && strings.HasPrefix(r.URL.Path, "/v2/rcteam/hello/blobs/") {
				http.NotFound(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := newServer(t, false, func(next http.Handler) http.Handler { return h.wrap(first, second)(unseen(next)) })
	from, to := client(t, reg, "dev", "team"), client(t, reg, "rc", "rcteam")
	push(t, from, "hello", "1.0.0", randomImage(t, 4096, 3))
	h.armed.Store(true)
	res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Jobs: 1})
	if err != nil {
		t.Fatal(err)
	}
	// go-containerregistry's registry answers a mount 202 and takes the
	// bytes: what counts is that each blob asked to mount.
	if n := mounts.Load(); n < 4 || res.BlobsCopied+res.BlobsMounted != 4 {
		t.Fatalf("%d mounts asked, result %+v; want each of the 4 blobs to ask", n, res)
	}
	if !h.overlapped() {
		t.Error("a mount waited for the one before it")
	}
}

// TestPromoteReadsWhileTheTargetAnswers: a platform's manifest is read
// from the source while the target is asked whether it has it, not after.
func TestPromoteReadsWhileTheTargetAnswers(t *testing.T) {
	idx := platformIndex(t)
	im, _ := idx.IndexManifest()
	child := im.Manifests[0].Digest.String()
	manifest := func(method string) func(*http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == method && r.URL.Path == "/v2/team/hello/manifests/"+child
		}
	}
	h := newHold()
	dev, rc := newServer(t, false, h.wrap(nil, manifest(http.MethodGet))), newServer(t, false, h.wrap(manifest(http.MethodHead), nil))
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	push(t, from, "hello", "1.0.0", idx)
	promoteOverlaps(t, h, from, to, "the platform's manifest was read from the source only after the target answered")
}

// TestPromoteAsksEachRegistryOnce: a promotion sets up several transports
// to each registry (the manifests', the blob reader's and writer's, the
// record's); they share one version check per registry.
func TestPromoteAsksEachRegistryOnce(t *testing.T) {
	var checks [2]atomic.Int32
	count := func(i int) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					checks[i].Add(1)
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	dev, rc := newServer(t, false, count(0)), newServer(t, false, count(1))
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 4096, 3))
	push(t, from, "hello", "sha256-"+digest.Hex+".sig", randomImage(t, 64, 1))
	// A new client of the source: the pushes' asked already.
	from = client(t, dev, "dev", "team")
	checks[0].Store(0)
	res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Record: &Record{Who: "ci"}})
	if err != nil || res.RecordDigest == "" || res.BlobsCopied == 0 {
		t.Fatalf("promotion %+v, %v; want the image copied and recorded", res, err)
	}
	if s, d := checks[0].Load(), checks[1].Load(); s != 1 || d != 1 {
		t.Errorf("the source answered %d version checks and the target %d; want 1 each", s, d)
	}
}

// TestPromoteWriteOrder: whatever ran at once, what becomes visible in the
// target comes in order: the image, its referrers, the record, the tag.
// The version tag is looked at before it is written and once after, and
// not again; with Force it is not guarded, so it is checked once after.
func TestPromoteWriteOrder(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(map[bool]string{false: "guarded", true: "forced"}[force], func(t *testing.T) {
			dev, rc := newServer(t, false, nil), newServer(t, false, nil)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			digest := push(t, from, "hello", "1.0.0", randomImage(t, 4096, 3))
			sig := attach(t, from, "hello", descriptor(t, from, "hello", digest.String()).Descriptor)
			cosign := "sha256-" + digest.Hex + ".sig"
			push(t, from, "hello", cosign, randomImage(t, 64, 1))
			rc.log()

			res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Force: force, Record: &Record{Who: "ci"}})
			if err != nil {
				t.Fatal(err)
			}
			reqs := rc.log()
			at := func(req string) int { return slices.Index(reqs, req) }
			manifest := "PUT /v2/team/hello/manifests/"
			order := []int{at(manifest + digest.String()), at(manifest + sig.String()), at(manifest + cosign), at(manifest + res.RecordDigest), at(manifest + "1.0.0")}
			if slices.Contains(order, -1) || !slices.IsSorted(order) {
				t.Errorf("image, signature, cosign tag, record and version tag put at %v; want all, in that order:\n%s", order, strings.Join(reqs, "\n"))
			}
			var looks []string
			for _, r := range reqs[order[len(order)-1]:] {
				if strings.HasSuffix(r, "/manifests/1.0.0") {
					looks = append(looks, strings.Fields(r)[0])
				}
			}
			if want := []string{"PUT", "HEAD"}; !slices.Equal(looks, want) {
				t.Errorf("the version tag after it was written: %v, want %v", looks, want)
			}
			if last := reqs[len(reqs)-1]; last != "HEAD /v2/team/hello/manifests/1.0.0" {
				t.Errorf("last request %s; want the look at the version tag", last)
			}
		})
	}
}

// TestPromoteSignedUpToDate re-runs a promotion of an image with a cosign
// signature tag and a record (what a signed push leaves): it writes
// nothing and makes few requests, all reads.
func TestPromoteSignedUpToDate(t *testing.T) {
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 4096, 3))
	push(t, from, "hello", "sha256-"+digest.Hex+".sig", randomImage(t, 64, 1))
	o := Options{From: from, To: to, App: "hello", Version: "1.0.0", Record: &Record{Who: "ci"}}
	if _, err := Promote(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	dev.log()
	rc.log()
	res, err := Promote(context.Background(), o)
	if err != nil || !res.UpToDate {
		t.Fatalf("re-run %+v, %v; want up to date", res, err)
	}
	// The source: the version's manifest, its tags, the referrers of the
	// image and of the signature (the API, then the referrers tag), the
	// signature's tag. The target: the version tag and the image (at
	// once), the signature's tag, the image's referrers (the API, then the
	// referrers tag).
	srcReqs, dstReqs := dev.log(), rc.log()
	if len(srcReqs) > 7 || len(dstReqs) > 5 {
		t.Errorf("re-run made %d source and %d target requests, want at most 7 and 5:\n%s\n%s",
			len(srcReqs), len(dstReqs), strings.Join(srcReqs, "\n"), strings.Join(dstReqs, "\n"))
	}
	for _, r := range append(srcReqs, dstReqs...) {
		if !strings.HasPrefix(r, "HEAD ") && !strings.HasPrefix(r, "GET ") {
			t.Errorf("re-run wrote: %s", r)
		}
	}
}

// TestPromoteCosignTagNamingTheImage: a source whose signature tag names
// one of the index's own manifests (found while the index is planned) has
// that manifest copied as the index's, before the index refers to it.
func TestPromoteCosignTagNamingTheImage(t *testing.T) {
	for try := range 5 {
		dev, rc := newServer(t, false, nil), newServer(t, false, nil)
		from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
		idx := platformIndex(t)
		digest := push(t, from, "hello", "1.0.0", idx)
		im, _ := idx.IndexManifest()
		child, _ := idx.Image(im.Manifests[1].Digest)
		tag := "sha256-" + digest.Hex + ".sig"
		push(t, from, "hello", tag, child)

		if _, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"}); err != nil {
			t.Fatalf("try %d: %v", try, err)
		}
		if got := descriptor(t, to, "hello", "1.0.0").Digest; got != digest {
			t.Errorf("try %d: the target's 1.0.0 is %s, want %s", try, got, digest)
		}
		if got := descriptor(t, to, "hello", tag).Digest; got != im.Manifests[1].Digest {
			t.Errorf("try %d: the target's %s is %s, want %s", try, tag, got, im.Manifests[1].Digest)
		}
	}
}

// TestPromoteIndexAtOnce holds the request for one platform's manifest of
// an index until the other platform's is seen: both are read from the
// source at once while the index is planned, and put in the target at
// once before the index.
func TestPromoteIndexAtOnce(t *testing.T) {
	idx := platformIndex(t)
	im, _ := idx.IndexManifest()
	first, second := im.Manifests[0].Digest.String(), im.Manifests[1].Digest.String()
	manifest := func(method, digest string) func(*http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == method && strings.HasSuffix(r.URL.Path, "/manifests/"+digest)
		}
	}
	tests := []struct {
		name     string
		inSource bool
		method   string
	}{
		{"read from the source", true, http.MethodGet},
		{"put in the target", false, http.MethodPut},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHold()
			wrap := h.wrap(manifest(tt.method, first), manifest(tt.method, second))
			var srcWrap, dstWrap func(http.Handler) http.Handler
			if tt.inSource {
				srcWrap = wrap
			} else {
				dstWrap = wrap
			}
			dev, rc := newServer(t, false, srcWrap), newServer(t, false, dstWrap)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			digest := push(t, from, "hello", "1.0.0", idx)

			h.armed.Store(true)
			if _, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"}); err != nil {
				t.Fatal(err)
			}
			if !h.overlapped() {
				t.Errorf("the platforms' manifests were %s one after the other", tt.name)
			}
			if _, err := completeAt(to, "hello", "1.0.0"); err != nil || descriptor(t, to, "hello", "1.0.0").Digest != digest {
				t.Errorf("the target's 1.0.0 is not the complete index %s: %v", digest, err)
			}
		})
	}
}

// TestPromoteTagsLookedAtOnce holds one look at a tag before the copy
// until another is seen: the source's git tag, the target's version tag
// and the target's git tag are looked at all at once.
func TestPromoteTagsLookedAtOnce(t *testing.T) {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	head := func(tag string) func(*http.Request) bool {
		return func(r *http.Request) bool {
			return r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/manifests/"+tag)
		}
	}
	tests := []struct {
		name            string
		held, awaited   func(*http.Request) bool
		heldInSource    bool // else in the target
		awaitedInSource bool
	}{
		{"the source's git tag, the target's version tag", head("git-0123456"), head("1.0.0"), true, false},
		{"the target's version tag, its git tag", head("1.0.0"), head("git-0123456"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHold()
			// Only the first look is held: the version tag is looked at
			// again when it is written, after everything else.
			var taken atomic.Bool
			held := func(r *http.Request) bool { return tt.held(r) && !taken.Swap(true) }
			var srcHeld, dstHeld, srcAwaited, dstAwaited func(*http.Request) bool
			if tt.heldInSource {
				srcHeld = held
			} else {
				dstHeld = held
			}
			if tt.awaitedInSource {
				srcAwaited = tt.awaited
			} else {
				dstAwaited = tt.awaited
			}
			dev, rc := newServer(t, false, h.wrap(srcHeld, srcAwaited)), newServer(t, false, h.wrap(dstHeld, dstAwaited))
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			img := randomImage(t, 1024, 1)
			digest := push(t, from, "hello", "1.0.0", img)
			push(t, from, "hello", "git-0123456", img)

			h.armed.Store(true)
			res, err := Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Commit: commit})
			if err != nil {
				t.Fatal(err)
			}
			if !h.overlapped() {
				t.Errorf("looked at one after the other: %s", tt.name)
			}
			if len(res.Tags) != 2 || descriptor(t, to, "hello", "git-0123456").Digest != digest || descriptor(t, to, "hello", "1.0.0").Digest != digest {
				t.Errorf("tags %v; want both at %s", res.Tags, digest)
			}
		})
	}
}
