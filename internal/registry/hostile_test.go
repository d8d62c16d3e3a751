package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/progress"
)

// served is a manifest as a docRegistry serves it.
type served struct {
	mt   types.MediaType
	body []byte
}

// docRegistry serves the distribution API from fixed documents:
// manifests by tag or digest, blobs by digest. When override is set and
// returns true it has answered the request itself. It counts manifest and
// blob GETs.
type docRegistry struct {
	manifests map[string]served
	blobs     map[string][]byte
	override  func(w http.ResponseWriter, r *http.Request) bool

	manifestGets, blobGets atomic.Int32
}

func newDocRegistry() *docRegistry {
	return &docRegistry{manifests: map[string]served{}, blobs: map[string][]byte{}}
}

func (d *docRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.override != nil && d.override(w, r) {
		return
	}
	p := r.URL.Path
	switch {
	case p == "/v2/":
		_, _ = w.Write([]byte("{}"))
	case strings.Contains(p, "/manifests/"):
		if r.Method == http.MethodGet {
			d.manifestGets.Add(1)
		}
		m, ok := d.manifests[path.Base(p)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", string(m.mt))
		w.Header().Set("Docker-Content-Digest", digestOf(m.body).String())
		w.Header().Set("Content-Length", strconv.Itoa(len(m.body)))
		_, _ = w.Write(m.body)
	case strings.Contains(p, "/blobs/"):
		d.blobGets.Add(1)
		b, ok := d.blobs[path.Base(p)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

func digestOf(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}

// add serves v as a manifest of type mt, under tags too, and returns its
// descriptor.
func (d *docRegistry) add(t *testing.T, mt types.MediaType, v any, tags ...string) v1.Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	desc := v1.Descriptor{MediaType: mt, Size: int64(len(b)), Digest: digestOf(b)}
	d.manifests[desc.Digest.String()] = served{mt, b}
	for _, tag := range tags {
		d.manifests[tag] = served{mt, b}
	}
	return desc
}

// image serves an image whose config declares size bytes (the config
// served is {} when size is 2).
func (d *docRegistry) image(t *testing.T, size int64, tags ...string) v1.Descriptor {
	t.Helper()
	cfg := []byte("{}")
	d.blobs[digestOf(cfg).String()] = cfg
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: size, Digest: digestOf(cfg)}, Layers: []v1.Descriptor{}}
	return d.add(t, types.OCIManifestSchema1, m, tags...)
}

// index serves an index of children.
func (d *docRegistry) index(t *testing.T, children []v1.Descriptor, tags ...string) v1.Descriptor {
	t.Helper()
	return d.add(t, types.OCIImageIndex, v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: children}, tags...)
}

// drip answers 200 and then sends a space every 20ms for as long as the
// client reads: a JSON decoder skips them, so without a bound on the whole
// body it reads forever.
func drip(w http.ResponseWriter, r *http.Request) {
	// As a referrers list must say it is, to be read at all.
	w.Header().Set("Content-Type", string(types.OCIImageIndex))
	w.WriteHeader(http.StatusOK)
	for {
		if _, err := w.Write([]byte(" ")); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestSmallDocumentsMustArriveWhole drips each kind of small document a
// byte at a time, each byte restarting the idle wait: the whole body is
// bounded by Timeouts.Document instead.
func TestSmallDocumentsMustArriveWhole(t *testing.T) {
	noDockerConfig(t)
	subject := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name  string
		drips func(r *http.Request) bool
		op    func(ctx context.Context, c *Client) error
		want  string
	}{
		{"a manifest", func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/manifests/") },
			func(ctx context.Context, c *Client) error {
				repo, _ := c.Repo("hello")
				_, err := remote.Get(repo.Tag("1.0.0"), c.RemoteOptions(ctx)...)
				return err
			}, "while pulling manifest 1.0.0"},
		{"a tag list", func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/tags/list") },
			func(ctx context.Context, c *Client) error {
				repo, _ := c.Repo("hello")
				_, err := remote.List(repo, c.RemoteOptions(ctx)...)
				return err
			}, "while listing tags"},
		{"a referrers list", func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/referrers/") },
			func(ctx context.Context, c *Client) error {
				repo, _ := c.Repo("hello")
				_, err := remote.Referrers(repo.Digest(subject), c.RemoteOptions(ctx)...)
				return err
			}, "while listing the referrers of sha256:abababababab…"},
		{"a token", func(r *http.Request) bool { return r.URL.Path == "/token" },
			func(ctx context.Context, c *Client) error {
				repo, _ := c.Repo("hello")
				_, err := remote.Get(repo.Tag("1.0.0"), c.RemoteOptions(ctx)...)
				return err
			}, "while getting a token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var host string
			hp := faultnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case tt.drips(r):
					drip(w, r)
				case r.URL.Path == "/v2/" && tt.name == "a token":
					w.Header().Set("WWW-Authenticate", `Bearer realm="http://`+host+`/token",service="reg"`)
					w.WriteHeader(http.StatusUnauthorized)
				case r.URL.Path == "/v2/":
				default:
					http.NotFound(w, r)
				}
			}))
			host = hp
			c := faultClient(t, hp, true)
			var err error
			faultnet.Within(t, 0, func() { err = tt.op(context.Background(), c) })
			var de *deadline.Error
			if !errors.As(err, &de) || de.Wait != deadline.WaitDocument {
				t.Fatalf("got %v, want the whole-document wait", err)
			}
			checkFault(t, c.Classify(err, SideNone), ErrTimeout, hp, "the response was not complete within 500ms "+tt.want)
		})
	}
}

// TestDocumentsAreBounded checks that a small document larger than
// MaxDocumentSize is refused, before it is read when it says so, and once
// past the bound when it does not; an error answer too. Blobs are not.
func TestDocumentsAreBounded(t *testing.T) {
	noDockerConfig(t)
	huge := func(declare bool, status int) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			if declare {
				w.Header().Set("Content-Length", strconv.Itoa(1<<30))
			}
			w.Header().Set("Content-Type", string(types.OCIManifestSchema1))
			w.WriteHeader(status)
			chunk := bytes.Repeat([]byte(" "), 64<<10)
			for range (1 << 30) / len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}
	}
	getManifest := func(ctx context.Context, c *Client) error {
		repo, _ := c.Repo("hello")
		_, err := remote.Get(repo.Tag("1.0.0"), c.RemoteOptions(ctx)...)
		return err
	}
	listTags := func(ctx context.Context, c *Client) error {
		repo, _ := c.Repo("hello")
		_, err := remote.List(repo, c.RemoteOptions(ctx)...)
		return err
	}
	tests := []struct {
		name  string
		serve func(http.ResponseWriter, *http.Request)
		op    func(context.Context, *Client) error
		want  string
	}{
		{"a manifest that declares 1 GiB", huge(true, http.StatusOK), getManifest, "its answer to pulling manifest 1.0.0 declares 1073741824 bytes"},
		{"a manifest that does not say", huge(false, http.StatusOK), getManifest, "its answer to pulling manifest 1.0.0 is larger"},
		{"a tag list that does not say", huge(false, http.StatusOK), listTags, "its answer to listing tags is larger"},
		{"an error that declares 1 GiB", huge(true, http.StatusInternalServerError), getManifest, "declares 1073741824 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hp := faultnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return
				}
				tt.serve(w, r)
			}))
			c := faultClient(t, hp, true)
			var err error
			faultnet.Within(t, 0, func() { err = c.Classify(tt.op(context.Background(), c), SideNone) })
			var re *Error
			if !errors.As(err, &re) || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("got %v, want a *registry.Error matching ErrTooLarge", err)
			}
			if msg := err.Error(); !strings.Contains(msg, hp) || !strings.Contains(msg, tt.want) ||
				!strings.Contains(msg, "Slipway reads at most 4 MiB") || strings.Contains(msg, "http://") {
				t.Errorf("message %q should name %s, say %q and the bound, and no URL", msg, hp, tt.want)
			}
		})
	}
}

// TestImageConfigBounds reads image configs through indexes that a
// registry made to cost: a config declared at 1 GiB (refused before it is
// fetched), indexes nested without end, an index of many manifests.
func TestImageConfigBounds(t *testing.T) {
	noDockerConfig(t)
	tests := []struct {
		name         string
		build        func(t *testing.T, d *docRegistry) v1.Descriptor
		wantErr      string // "" for success
		maxManifests int32
		maxBlobs     int32
	}{
		{"an image", func(t *testing.T, d *docRegistry) v1.Descriptor { return d.image(t, 2) }, "", 1, 1},
		{"an index of an image", func(t *testing.T, d *docRegistry) v1.Descriptor {
			return d.index(t, []v1.Descriptor{d.image(t, 2)})
		}, "", 2, 1},
		{"a config declared at 1 GiB", func(t *testing.T, d *docRegistry) v1.Descriptor { return d.image(t, 1<<30) },
			"declares 1073741824 bytes; Slipway reads at most 8 MiB of an image config", 1, 0},
		{"indexes nested 50 deep", func(t *testing.T, d *docRegistry) v1.Descriptor {
			top := d.image(t, 2)
			for range 50 {
				top = d.index(t, []v1.Descriptor{top})
			}
			return top
		}, "is nested 5 deep; Slipway reads at most indexes nested 4 deep", MaxIndexDepth + 1, 0},
		{"an index of 5000 manifests", func(t *testing.T, d *docRegistry) v1.Descriptor {
			img := d.image(t, 2)
			children := make([]v1.Descriptor, 5000)
			for i := range children {
				children[i] = img
			}
			return d.index(t, children)
		}, "lists 5000 manifests; Slipway reads at most 1000 manifests in an index", 1, 0},
		{"an index declaring a 1 GiB child", func(t *testing.T, d *docRegistry) v1.Descriptor {
			img := d.image(t, 2)
			img.Size = 1 << 30
			return d.index(t, []v1.Descriptor{img})
		}, "declares 1073741824 bytes; Slipway reads at most 4 MiB of a manifest", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDocRegistry()
			top := tt.build(t, d)
			hp := faultnet.Serve(t, d)
			c := faultClient(t, hp, true)
			var cfg *v1.ConfigFile
			var err error
			faultnet.Within(t, 0, func() { cfg, err = c.ImageConfig(context.Background(), "hello", top.Digest) })
			switch {
			case tt.wantErr == "" && (err != nil || cfg == nil):
				t.Fatalf("ImageConfig = %v, want the config", err)
			case tt.wantErr != "" && (!errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("ImageConfig = %v, want ErrTooLarge saying %q", err, tt.wantErr)
			}
			if m, b := d.manifestGets.Load(), d.blobGets.Load(); m > tt.maxManifests || b > tt.maxBlobs {
				t.Errorf("%d manifest and %d blob reads, want at most %d and %d", m, b, tt.maxManifests, tt.maxBlobs)
			}
		})
	}
}

// TestListTagsBounds lists tags from registries whose Link headers chain
// pages back to themselves, or onward without end, or whose tags never
// end: each listing stops at a bound with ErrTooLarge. An honest listing
// of several pages is read whole.
func TestListTagsBounds(t *testing.T) {
	noDockerConfig(t)
	tests := []struct {
		name      string
		link      func(page int) string // the Link of page n (from 1), "" for none
		tags      int                   // per page
		opts      TagListOptions
		want      int // tags kept; -1 for ErrTooLarge
		wantErr   string
		maxServed int
	}{
		{"three honest pages", func(n int) string {
			if n < 3 {
				return fmt.Sprintf(`</v2/team/hello/tags/list?last=%d>; rel="next"`, n)
			}
			return ""
		}, 10, TagListOptions{Keep: func(t string) bool { return strings.HasSuffix(t, "0") }}, 3, "", 3},
		{"a page that links to itself", func(int) string { return `</v2/team/hello/tags/list>; rel="next"` }, 10, TagListOptions{}, -1, "link back to a page read before", 2},
		{"a page that links to the one before", func(n int) string {
			return fmt.Sprintf(`</v2/team/hello/tags/list?last=%d>; rel="next"`, n%2)
		}, 10, TagListOptions{}, -1, "link back to a page read before", 3},
		{"pages without end", func(n int) string { return fmt.Sprintf(`</v2/team/hello/tags/list?last=%d>; rel="next"`, n) },
			10, TagListOptions{MaxPages: 5}, -1, "run past 5 pages", 5},
		{"tags without end", func(n int) string { return fmt.Sprintf(`</v2/team/hello/tags/list?last=%d>; rel="next"`, n) },
			1000, TagListOptions{MaxBytes: 20_000}, -1, "run past 20000 bytes", 3},
		{"slow pages without end", func(n int) string {
			time.Sleep(50 * time.Millisecond)
			return fmt.Sprintf(`</v2/team/hello/tags/list?last=%d>; rel="next"`, n)
		}, 1, TagListOptions{MaxTime: 300 * time.Millisecond}, -1, "took longer; Slipway reads at most 300ms of listing tags", 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var served atomic.Int32
			hp := faultnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/tags/list") {
					return
				}
				n := int(served.Add(1))
				tags := make([]string, tt.tags)
				for i := range tags {
					tags[i] = fmt.Sprintf("%d.%d", n, i)
				}
				if l := tt.link(n); l != "" {
					w.Header().Set("Link", l)
				}
				_ = json.NewEncoder(w).Encode(map[string]any{"name": "team/hello", "tags": tags})
			}))
			c := faultClient(t, hp, true)
			repo, _ := c.Repo("hello")
			p, err := remote.NewPuller(c.RemoteOptions(context.Background())...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			faultnet.Within(t, 0, func() { got, err = ListTags(context.Background(), p, repo, tt.opts) })
			if tt.want >= 0 && (err != nil || len(got) != tt.want) {
				t.Fatalf("ListTags = %v, %v; want %d tags", got, err, tt.want)
			}
			if tt.want < 0 && (!errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tt.wantErr) || got != nil) {
				t.Fatalf("ListTags = %d tags, %v; want ErrTooLarge saying %q", len(got), err, tt.wantErr)
			}
			if n := int(served.Load()); n > tt.maxServed {
				t.Errorf("%d pages read, want at most %d", n, tt.maxServed)
			}
		})
	}
}

// silentRegistry is a client, with no credentials, of a registry that
// accepts connections and never completes the TLS handshake (at host:port
// hp), retrying up to steps times (10ms apart) within retries; what it
// reports goes to rec.
func silentRegistry(t *testing.T, steps int, retries time.Duration) (c *Client, hp string, rec *progress.Recorder) {
	t.Helper()
	noDockerConfig(t)
	hp, rec = faultnet.Silent(t), &progress.Recorder{}
	c, err := New(Options{
		Registry: config.Registry{URL: hp + "/team"},
		Keychain: authn.NewMultiKeychain(),
		Backoff:  remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: steps},
		Timeouts: Timeouts{TLS: 100 * time.Millisecond, Retries: retries},
		Progress: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, hp, rec
}

// TestRetriesSaySo checks that a registry that accepts connections and
// never completes the TLS handshake is reported while it is retried, and
// given up on after the bound for hosts that never answered, though the
// retry budget is far longer.
func TestRetriesSaySo(t *testing.T) {
	c, hp, rec := silentRegistry(t, 1000, time.Hour)
	var err error
	c.unanswered = 500 * time.Millisecond
	faultnet.Within(t, 0, func() { _, err = c.Resolve(context.Background(), "hello", "1.0.0") })
	checkFault(t, err, ErrTimeout, hp, "no TLS handshake within 100ms")
	msgs := rec.Msgs("registry")
	want := "registry " + hp + ": no TLS handshake within 100ms while checking its API (/v2/); retrying (attempt 2 of 1000; it has not answered yet, so Slipway gives up 500ms after first trying it)"
	if len(msgs) == 0 || msgs[0] != want {
		t.Fatalf("warnings %q, want first %q", msgs, want)
	}
}

// TestAnsweredHostsKeepTheirBudget checks that a host that answered once
// is retried for the whole retry budget, not the shorter bound of hosts
// that never answered.
func TestAnsweredHostsKeepTheirBudget(t *testing.T) {
	noDockerConfig(t)
	var stalls atomic.Int32
	hp := faultnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		stalls.Add(1)
		<-r.Context().Done()
	}))
	c, err := New(Options{
		Registry: config.Registry{URL: hp + "/team", Insecure: true},
		Keychain: authn.NewMultiKeychain(),
		Backoff:  remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 1000},
		Timeouts: Timeouts{Headers: 100 * time.Millisecond, Retries: 600 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.unanswered = time.Nanosecond
	faultnet.Within(t, 0, func() { _, err = c.Resolve(context.Background(), "hello", "1.0.0") })
	checkFault(t, err, ErrTimeout, hp, "no response headers within 100ms")
	if n := stalls.Load(); n < 3 {
		t.Errorf("%d tries of a host that answered before, want it retried within its budget", n)
	}
}

// TestRedirectPolicy checks CheckRedirect against go-containerregistry's
// policy: another host that is a private address in any spelling is
// refused, the original host (loopback too) and host names are not.
func TestRedirectPolicy(t *testing.T) {
	via := func(from string, n int) []*http.Request {
		out := make([]*http.Request, n)
		for i := range out {
			out[i], _ = http.NewRequest(http.MethodGet, from, nil)
		}
		return out
	}
	tests := []struct {
		from, to string
		hops     int
		refused  bool
	}{
		{"http://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/other", 1, false},
		{"http://127.0.0.1:5000/v2/", "http://127.0.0.1:6000/blob", 1, false},
		{"https://reg.example.com/v2/", "https://storage.example.com/blob", 1, false},
		{"https://reg.example.com/v2/", "http://169.254.169.254/latest/meta-data/", 1, true},
		{"https://reg.example.com/v2/", "http://10.1.2.3/", 1, true},
		{"https://reg.example.com/v2/", "http://192.168.0.1/", 1, true},
		{"https://reg.example.com/v2/", "http://127.0.0.1/", 1, true},
		{"https://reg.example.com/v2/", "http://0x7f000001/", 1, true},
		{"https://reg.example.com/v2/", "http://2130706433/", 1, true},
		{"https://reg.example.com/v2/", "http://127.1/", 1, true},
		{"https://reg.example.com/v2/", "http://0177.0.0.1/", 1, true},
		{"https://reg.example.com/v2/", "http://[::1]/", 1, true},
		{"https://reg.example.com/v2/", "http://[::ffff:169.254.169.254]/", 1, true},
		{"https://reg.example.com/v2/", "http://[fe80::1%25eth0]/", 1, true},
		{"https://reg.example.com/v2/", "http://0.0.0.0/", 1, true},
		{"https://reg.example.com/v2/", "http://8.8.8.8/", 1, false},
		{"http://127.0.0.1:5000/v2/", "http://127.0.0.2:5000/", 1, true},
		{"https://reg.example.com/v2/", "https://reg.example.com/v2/x", maxRedirects, true},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, tt.to, nil)
		err := CheckRedirect(req, via(tt.from, tt.hops))
		if (err != nil) != tt.refused || (err != nil && !errors.Is(err, ErrRedirect)) {
			t.Errorf("%s -> %s after %d: %v, want refused %t", tt.from, tt.to, tt.hops, err, tt.refused)
		}
	}
}

// TestBlobReaderRedirects checks that promote's blob reader follows a
// registry's redirect to another port of its own loopback host, and
// refuses one to another loopback address, as go-containerregistry does.
func TestBlobReaderRedirects(t *testing.T) {
	noDockerConfig(t)
	blob := []byte("layer bytes")
	var elsewhere atomic.Int32
	serveBlob := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		_, _ = w.Write(blob)
	})
	samehost := httptest.NewServer(serveBlob)
	t.Cleanup(samehost.Close)
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address here: %v", err)
	}
	private := httptest.NewUnstartedServer(serveBlob)
	private.Listener.Close()
	private.Listener = l
	private.Start()
	t.Cleanup(private.Close)
	for _, tt := range []struct {
		to      string
		refused bool
	}{{samehost.URL, false}, {private.URL, true}} {
		t.Run(tt.to, func(t *testing.T) {
			elsewhere.Store(0)
			hp := faultnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/blobs/") {
					http.Redirect(w, r, tt.to+"/blob", http.StatusTemporaryRedirect)
				}
			}))
			c := faultClient(t, hp, true)
			repo, _ := c.Repo("hello")
			var got []byte
			faultnet.Within(t, 0, func() {
				var br *BlobReader
				if br, err = c.BlobReader(context.Background(), repo); err != nil {
					return
				}
				var rc io.ReadCloser
				if rc, err = br.Open(context.Background(), v1.Descriptor{Digest: digestOf(blob), Size: int64(len(blob))}); err != nil {
					return
				}
				defer rc.Close()
				got, err = io.ReadAll(rc)
			})
			if tt.refused {
				if !errors.Is(err, ErrRedirect) || elsewhere.Load() != 0 {
					t.Fatalf("got %v after %d requests there, want the redirect refused", err, elsewhere.Load())
				}
				return
			}
			if err != nil || !bytes.Equal(got, blob) {
				t.Fatalf("got %q, %v; want the blob", got, err)
			}
		})
	}
}

// FuzzPrivateAddress checks that the address check never panics and agrees
// with the standard parser on the forms it reads.
func FuzzPrivateAddress(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "0x7f000001", "2130706433", "127.1", "0177.1", "::1", "fe80::1%eth0",
		"::ffff:10.0.0.1", "169.254.169.254", "8.8.8.8", "example.com", "1.2.3.4.5", "0x", "", ".", "1_0.0.0.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		got := isPrivateOrLinkLocal(host)
		if a, err := netipParse(host); err == nil {
			want := a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsPrivate() || a.IsUnspecified()
			if got != want {
				t.Errorf("isPrivateOrLinkLocal(%q) = %t, want %t", host, got, want)
			}
		}
	})
}

func netipParse(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	return a.WithZone("").Unmap(), err
}

// TestIsDocument checks which answers are small documents, bounded whole,
// and which are blobs, that only must keep moving: a blob held to 4 MiB
// would fail every real pull.
func TestIsDocument(t *testing.T) {
	const host = "reg.example.com"
	d := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		method, url string
		status      int
		want        bool
	}{
		{"GET", "https://reg.example.com/v2/team/app/blobs/" + d, 200, false},
		{"GET", "https://reg.example.com/v2/team/app/blobs/" + d, 206, false},
		{"GET", "https://reg.example.com/v2/team/app/blobs/" + d, 404, true},
		{"GET", "https://reg.example.com/v2/team/app/blobs/" + d, 307, true},
		{"HEAD", "https://reg.example.com/v2/team/app/blobs/" + d, 200, false},
		{"HEAD", "https://reg.example.com/v2/team/app/manifests/1.0.0", 404, false},
		{"GET", "https://reg.example.com/v2/team/app/blobs/uploads/77", 204, true},
		{"PATCH", "https://reg.example.com/v2/team/app/blobs/uploads/77", 202, true},
		{"GET", "https://reg.example.com/v2/team/app/manifests/1.0.0", 200, true},
		{"GET", "https://reg.example.com/v2/team/app/tags/list", 200, true},
		{"GET", "https://reg.example.com/v2/team/app/referrers/" + d, 200, true},
		{"GET", "https://reg.example.com/v2/", 200, true},
		{"GET", "https://reg.example.com/token?scope=repository:team/app:pull&service=reg", 200, true},
		{"GET", "https://auth.example.com/token?scope=repository:team/app:pull&service=reg", 200, true},
		{"POST", "https://auth.example.com/token", 200, true},
		{"GET", "https://storage.example.com/token-bucket/blobs/data?X-Amz-Security-Token=t&X-Amz-Signature=s", 200, false},
		{"GET", "https://storage.example.com/blobs/data", 500, true},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, tt.url, nil)
		if got := isDocument(req, &http.Response{StatusCode: tt.status}, host); got != tt.want {
			t.Errorf("%s %s answered %d: document %t, want %t", tt.method, tt.url, tt.status, got, tt.want)
		}
	}
}

// TestLargeBlobsPass checks that the bounds of small documents leave blobs
// alone: a HEAD of a 1 GiB blob (whose Content-Length says so) and a GET
// of a blob larger than MaxDocumentSize both pass.
func TestLargeBlobsPass(t *testing.T) {
	noDockerConfig(t)
	big := bytes.Repeat([]byte("x"), MaxDocumentSize+1)
	hp := faultnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.Header().Set("Content-Length", strconv.Itoa(1<<30))
			return
		}
		_, _ = w.Write(big)
	}))
	c := faultClient(t, hp, true)
	hc := &http.Client{Transport: c.transportFor(c.timeouts, nil)}
	u := "http://" + hp + "/v2/team/hello/blobs/sha256:" + strings.Repeat("ab", 32)
	faultnet.Within(t, 0, func() {
		resp, err := hc.Head(u)
		if err != nil || resp.StatusCode != http.StatusOK || resp.ContentLength != 1<<30 {
			t.Errorf("HEAD of a 1 GiB blob: %v, %v", resp, err)
		}
		resp, err = hc.Get(u)
		if err != nil {
			t.Errorf("GET of a large blob: %v", err)
			return
		}
		defer resp.Body.Close()
		if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != int64(len(big)) {
			t.Errorf("read %d bytes of the blob, %v; want %d", n, err, len(big))
		}
	})
}

// TestHeadersAreBounded: a registry that answers with megabytes of headers
// is refused at MaxHeaderSize, saying so, not read whole (net/http's own
// bound is 10 MiB) or remembered.
func TestHeadersAreBounded(t *testing.T) {
	noDockerConfig(t)
	var answers atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answers.Add(1)
		for i := 0; i < 64; i++ {
			w.Header().Add("X-Padding", strings.Repeat("x", 16<<10))
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	hp := strings.TrimPrefix(s.URL, "http://")
	c, err := New(Options{Registry: config.Registry{URL: hp + "/team", Insecure: true},
		Keychain: authn.NewMultiKeychain(), Backoff: remote.Backoff{Duration: time.Millisecond, Factor: 1, Steps: 3}})
	if err != nil {
		t.Fatal(err)
	}
	faultnet.Within(t, 0, func() { _, err = c.Resolve(context.Background(), "hello", "1.0.0") })
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "256 KiB of headers") || !strings.Contains(err.Error(), hp) ||
		strings.Contains(err.Error(), "insecure") {
		t.Errorf("err = %v; want the registry's headers refused as beyond Slipway's bounds, naming it", err)
	}
	// The version check is asked over TLS, then over plain HTTP; neither
	// is retried.
	if n := answers.Load(); n != 1 {
		t.Errorf("the registry was asked %d times over plain HTTP, want 1 (not retried)", n)
	}
}
