package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// testTimeouts are short, so that faults show fast; Within catches hangs.
var testTimeouts = Timeouts{
	Connect: 250 * time.Millisecond, TLS: 250 * time.Millisecond,
	Headers: 250 * time.Millisecond, Idle: 250 * time.Millisecond, Document: 500 * time.Millisecond, Retries: time.Second,
}

var testBackoff = remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 3}

func faultClient(t *testing.T, hostport string, insecure bool) *Client {
	t.Helper()
	c, err := New(Options{
		Name:     "dev",
		Registry: config.Registry{Name: "dev", URL: hostport + "/team", Insecure: insecure},
		Keychain: authn.NewMultiKeychain(),
		Backoff:  testBackoff,
		Timeouts: testTimeouts,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stallBlobs serves h, but answers a blob GET with its headers and half
// its body, then stalls.
func stallBlobs(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		faultnet.StallBody(body, len(body)/2).ServeHTTP(w, r)
	})
}

// TestTimeoutFaults drives the client's operations against servers that
// misbehave and checks each ends, in bounded time, with a typed error that
// names the registry and what was waited for.
func TestTimeoutFaults(t *testing.T) {
	noDockerConfig(t)
	img, err := random.Image(64<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	layerDigest, _ := layers[0].Digest()
	layerSize, _ := layers[0].Size()

	healthy := func(t *testing.T) string {
		s := testutil.Registry(t, stallBlobs)
		c := faultClient(t, testutil.Host(s), true)
		repo, _ := c.Repo("hello")
		if err := remote.Write(repo.Tag("1.0.0"), img, c.RemoteOptions(context.Background())...); err != nil {
			t.Fatal(err)
		}
		return testutil.Host(s)
	}
	faults := []struct {
		name     string
		serve    func(t testing.TB) string
		insecure bool
		kind     error
		want     string // in the message
	}{
		// go-containerregistry tries HTTPS first with an insecure registry,
		// so the first wait to run out may be the TLS handshake.
		{"accepts TCP, never answers", faultnet.Silent, true, ErrTimeout, "within 250ms while checking its API (/v2/)"},
		{"accepts TLS, never finishes the handshake", faultnet.Silent, false, ErrTimeout, "no TLS handshake within 250ms while"},
		{"5xx forever", func(t testing.TB) string { return faultnet.Serve(t, faultnet.Status(http.StatusInternalServerError)) }, true, ErrServer, "kept failing with server errors"},
		{"503 forever, asking for a day", func(t testing.TB) string {
			return faultnet.Serve(t, faultnet.Status(http.StatusServiceUnavailable, "Retry-After", "86400"))
		}, true, ErrServer, "kept failing"},
		{"429 forever, asking for a day", func(t testing.TB) string {
			return faultnet.Serve(t, faultnet.Status(http.StatusTooManyRequests, "Retry-After", "86400"))
		}, true, ErrRateLimited, "rate limiting"},
	}
	ops := []struct {
		name string
		run  func(ctx context.Context, c *Client) error
	}{
		{"resolve a tag", func(ctx context.Context, c *Client) error {
			_, err := c.Resolve(ctx, "hello", "1.0.0")
			return err
		}},
		{"push an image", func(ctx context.Context, c *Client) error {
			repo, _ := c.Repo("hello")
			return c.Classify(remote.Write(repo.Tag("1.0.0"), img, c.RemoteOptions(ctx)...), SideTarget)
		}},
		{"read a blob", func(ctx context.Context, c *Client) error {
			repo, _ := c.Repo("hello")
			br, err := c.BlobReader(ctx, repo)
			if err == nil {
				var rc io.ReadCloser
				rc, err = br.Open(ctx, v1.Descriptor{Digest: layerDigest, Size: layerSize})
				if err == nil {
					_, err = io.Copy(io.Discard, rc)
					rc.Close()
				}
			}
			return c.Classify(err, SideSource)
		}},
	}
	for _, f := range faults {
		for _, op := range ops {
			t.Run(f.name+"/"+op.name, func(t *testing.T) {
				hp := f.serve(t)
				c := faultClient(t, hp, f.insecure)
				var err error
				faultnet.Within(t, 0, func() { err = op.run(context.Background(), c) })
				checkFault(t, err, f.kind, hp, f.want)
			})
		}
	}
	t.Run("a blob stalls mid-way/read a blob", func(t *testing.T) {
		hp := healthy(t)
		c := faultClient(t, hp, true)
		var err error
		faultnet.Within(t, 0, func() { err = ops[2].run(context.Background(), c) })
		checkFault(t, err, ErrTimeout, hp, "the response stalled: nothing received for 250ms while pulling blob "+cut(layerDigest.String()))
	})
}

func checkFault(t *testing.T, err error, kind error, hostport, want string) {
	t.Helper()
	var re *Error
	if !errors.As(err, &re) || !errors.Is(err, kind) {
		t.Fatalf("got %v, want a *registry.Error matching %v", err, kind)
	}
	msg := err.Error()
	if !strings.Contains(msg, hostport) || !strings.Contains(msg, want) {
		t.Errorf("message %q should name %s and say %q", msg, hostport, want)
	}
	if kind == ErrTimeout {
		if !errors.Is(err, ErrUnreachable) || !errors.Is(err, deadline.ErrTimeout) {
			t.Errorf("%v should match ErrUnreachable and deadline.ErrTimeout", err)
		}
		if strings.Contains(msg, "http://") || strings.Contains(msg, "https://") {
			t.Errorf("a timeout should name the wait, not the URL: %q", msg)
		}
	}
}

// TestRetriesBoundedInTime checks that a server failing for ever is given
// up on once the retry budget is spent, even with many tries left.
func TestRetriesBoundedInTime(t *testing.T) {
	noDockerConfig(t)
	hits := 0
	hp := faultnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.WriteHeader(http.StatusBadGateway)
	}))
	c, err := New(Options{
		Registry: config.Registry{URL: hp, Insecure: true},
		Keychain: authn.NewMultiKeychain(),
		Backoff:  remote.Backoff{Duration: 100 * time.Millisecond, Factor: 1, Steps: 1000},
		Timeouts: Timeouts{Retries: 500 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	faultnet.Within(t, 0, func() { _, err = c.Resolve(context.Background(), "hello", "1.0.0") })
	if !errors.Is(err, ErrServer) {
		t.Fatalf("got %v, want ErrServer", err)
	}
	if hits > 20 {
		t.Errorf("%d tries in a 500ms budget with 100ms between them", hits)
	}
}

// TestTimeoutsFromContext checks that the context's timeouts (the
// --network-timeout flag) win over the client's.
func TestTimeoutsFromContext(t *testing.T) {
	noDockerConfig(t)
	hp := faultnet.Silent(t)
	c, err := New(Options{Registry: config.Registry{URL: hp, Insecure: true}, Keychain: authn.NewMultiKeychain(), Backoff: testBackoff,
		Timeouts: Timeouts{Connect: time.Hour, TLS: time.Hour, Headers: time.Hour, Retries: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := deadline.WithContext(context.Background(), Timeouts{Connect: 100 * time.Millisecond, TLS: 100 * time.Millisecond, Headers: 100 * time.Millisecond})
	faultnet.Within(t, 0, func() { _, err = c.Resolve(ctx, "hello", "1.0.0") })
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "within 100ms") {
		t.Fatalf("got %v, want a wait of 100ms", err)
	}
}

// TestTimeoutsFromEnv checks SLIPWAY_NETWORK_TIMEOUT, and that a bad one
// is reported by New.
func TestTimeoutsFromEnv(t *testing.T) {
	t.Setenv(deadline.EnvVar, "headers=3s,retries=9s")
	c, err := New(Options{Registry: config.Registry{URL: "127.0.0.1:5000"}, Timeouts: Timeouts{Idle: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultTimeouts
	want.Headers, want.Retries, want.Idle = 3*time.Second, 9*time.Second, time.Second
	if got := c.Timeouts(context.Background()); got != want {
		t.Errorf("Timeouts = %+v, want %+v", got, want)
	}
	t.Setenv(deadline.EnvVar, "forever")
	if _, err := New(Options{Registry: config.Registry{URL: "127.0.0.1:5000"}}); !errors.Is(err, deadline.ErrInvalid) {
		t.Errorf("New with a bad %s = %v", deadline.EnvVar, err)
	}
}

func TestDescribeRequest(t *testing.T) {
	const h = "reg.example.com"
	d := "sha256:" + strings.Repeat("ab", 32)
	up := &uploads{}
	up.set("/v2/team/app/blobs/uploads/77", d)
	tests := []struct {
		method, url  string
		server, want string
	}{
		{"GET", "https://reg.example.com/v2/", "registry", "checking its API (/v2/)"},
		{"HEAD", "https://reg.example.com/v2/team/app/blobs/" + d, "registry", "checking for blob sha256:abababababab…"},
		{"GET", "https://reg.example.com/v2/team/app/blobs/" + d, "registry", "pulling blob sha256:abababababab…"},
		{"POST", "https://reg.example.com/v2/team/app/blobs/uploads/?mount=" + d + "&from=base", "registry", "mounting blob sha256:abababababab…"},
		{"POST", "https://reg.example.com/v2/team/app/blobs/uploads/?mount=" + d, "registry", "starting an upload of blob sha256:abababababab…"},
		{"PATCH", "https://reg.example.com/v2/team/app/blobs/uploads/77?_state=secret", "registry", "pushing blob sha256:abababababab…"},
		{"PATCH", "https://reg.example.com/v2/team/app/blobs/uploads/78", "registry", "pushing a blob"},
		{"PUT", "https://reg.example.com/v2/team/app/blobs/uploads/78?digest=" + d, "registry", "pushing blob sha256:abababababab…"},
		{"PUT", "https://reg.example.com/v2/team/app/manifests/1.0.0", "registry", "pushing manifest 1.0.0"},
		{"HEAD", "https://reg.example.com/v2/team/app/manifests/1.0.0", "registry", "checking manifest 1.0.0"},
		{"GET", "https://reg.example.com/v2/team/app/manifests/" + d, "registry", "pulling manifest sha256:abababababab…"},
		{"GET", "https://reg.example.com/v2/team/app/tags/list", "registry", "listing tags"},
		{"GET", "https://reg.example.com/v2/team/app/referrers/" + d, "registry", "listing the referrers of sha256:abababababab…"},
		{"GET", "https://auth.example.com/token?scope=repository:team/app:pull&service=reg", "token server", "getting a token for reg.example.com"},
		{"GET", "https://s3.example.com/bucket/blob?X-Amz-Signature=sig", "blob storage", "pulling a blob of reg.example.com"},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(tt.method, tt.url, nil)
		server, doing := describeRequest(r, h, up)
		if server != tt.server || doing != tt.want {
			t.Errorf("%s %s: %q, %q; want %q, %q", tt.method, tt.url, server, doing, tt.server, tt.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://ada:hunter2@reg.example.com/v2/", "https://reg.example.com/v2/"},
		{"https://reg.example.com/v2/a/blobs/uploads/1?_state=s3cr3t&digest=sha256%3Aab", "https://reg.example.com/v2/a/blobs/uploads/1?_state=REDACTED&digest=sha256%3Aab"},
		{"https://s3.example.com/b?X-Amz-Credential=AKIA&X-Amz-Signature=sig", "https://s3.example.com/b?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"},
		{"https://auth.example.com/token?scope=repository%3Aa%3Apull&service=reg&access_token=tok", "https://auth.example.com/token?access_token=REDACTED&scope=repository%3Aa%3Apull&service=reg"},
		{"http://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/v2/"},
	}
	for _, tt := range tests {
		if got := redactURL(tt.in); got != tt.want {
			t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestClassifyRedacts checks that an error naming a URL with credentials
// or tokens loses them once classified.
func TestClassifyRedacts(t *testing.T) {
	noDockerConfig(t)
	hp := faultnet.Silent(t)
	c := faultClient(t, hp, true)
	// A connection refused on a URL that carries a token and a password.
	req, _ := http.NewRequest(http.MethodGet, "http://ada:hunter2@127.0.0.1:1/v2/a/blobs/uploads/1?_state=s3cr3t", nil)
	_, err := (&http.Client{Transport: c.transportFor(c.timeouts, nil)}).Do(req)
	if err == nil {
		t.Fatal("want an error")
	}
	msg := c.Classify(err, SideTarget).Error()
	for _, secret := range []string{"hunter2", "s3cr3t", "ada"} {
		if strings.Contains(msg, secret) {
			t.Errorf("%q shows %q", msg, secret)
		}
	}
}

// TestSlowBlobKeepsMoving checks that a blob that takes far longer than
// every timeout to arrive, but keeps moving, is read whole.
func TestSlowBlobKeepsMoving(t *testing.T) {
	noDockerConfig(t)
	const chunks, chunk = 12, 1024
	tick := testTimeouts.Idle / 3
	hp := faultnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(chunks*chunk))
		for range chunks {
			time.Sleep(tick)
			_, _ = w.Write(make([]byte, chunk))
			w.(http.Flusher).Flush()
		}
	}))
	c := faultClient(t, hp, true)
	repo, _ := c.Repo("hello")
	var n int64
	var err error
	faultnet.Within(t, 0, func() {
		var br *BlobReader
		if br, err = c.BlobReader(context.Background(), repo); err != nil {
			return
		}
		d := v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, Size: chunks * chunk}
		var rc io.ReadCloser
		if rc, err = br.Open(context.Background(), d); err != nil {
			return
		}
		defer rc.Close()
		n, err = io.Copy(io.Discard, rc)
	})
	if err != nil || n != chunks*chunk {
		t.Fatalf("read %d bytes, %v; want %d", n, err, chunks*chunk)
	}
}
