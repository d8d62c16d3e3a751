package promote

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// faultClient is a client for host:port with short timeouts and retries,
// so that faults show fast.
func faultClient(t *testing.T, name, hostport string, insecure bool) *registry.Client {
	t.Helper()
	c, err := registry.New(registry.Options{
		Name:     name,
		Registry: config.Registry{Name: name, URL: hostport + "/team", Insecure: insecure},
		Keychain: authn.NewMultiKeychain(),
		Backoff:  remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 3},
		Timeouts: registry.Timeouts{
			Connect: 250 * time.Millisecond, TLS: 250 * time.Millisecond,
			Headers: 250 * time.Millisecond, Idle: 250 * time.Millisecond, Retries: time.Second,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// twoFaced serves one in-process registry twice: at front, where requests
// matching match stall (with midBody, after the headers and half the
// body; else unanswered), and healthy at back.
func twoFaced(t *testing.T, match func(*http.Request) bool, midBody bool) (front, back string) {
	t.Helper()
	reg := testutil.QuietRegistry()
	healthy := httptest.NewServer(reg)
	t.Cleanup(healthy.Close)
	front = faultnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case match != nil && match(r) && midBody:
			rec := httptest.NewRecorder()
			reg.ServeHTTP(rec, r)
			faultnet.StallBody(rec.Body.Bytes(), rec.Body.Len()/2).ServeHTTP(w, r)
		case match != nil && match(r):
			faultnet.StallRequest().ServeHTTP(w, r)
		default:
			reg.ServeHTTP(w, r)
		}
	}))
	return front, strings.TrimPrefix(healthy.URL, "http://")
}

// TestPromoteFaults promotes between a healthy registry and one that
// misbehaves, on either side: each promotion ends, in bounded time, with
// an error naming the side, the registry and the wait, and the target
// has no tag for an image it did not fully receive.
func TestPromoteFaults(t *testing.T) {
	isolate(t)
	img := randomImage(t, 64<<10, 2)
	isBlobGet := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:")
	}
	isUpload := func(r *http.Request) bool {
		return (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/")
	}
	whole := []struct {
		name     string
		serve    func(t testing.TB) string
		insecure bool
		kind     error
		want     string
	}{
		{"accepts TCP, never answers", faultnet.Silent, true, registry.ErrTimeout, "within 250ms while"},
		{"accepts TLS, never finishes the handshake", faultnet.Silent, false, registry.ErrTimeout, "no TLS handshake within 250ms"},
		{"5xx forever", func(t testing.TB) string { return faultnet.Serve(t, faultnet.Status(http.StatusInternalServerError)) }, true, registry.ErrServer, "server errors"},
		{"429 forever, asking for a day", func(t testing.TB) string {
			return faultnet.Serve(t, faultnet.Status(http.StatusTooManyRequests, "Retry-After", "86400"))
		}, true, registry.ErrRateLimited, "rate limiting"},
	}
	type testCase struct {
		name          string
		from, to      func(t *testing.T) (client *registry.Client, hostport, back string)
		side, want    string
		kind          error
		checkNoTagsAt string // "to": the healthy side of the target
		// jobs is Options.Jobs. The in-process registry holds its store's
		// lock while it reads a blob put whole, so a blob stalled on its
		// way would hold up the other blobs' requests (docker-registry
		// does not), and their deadline could speak before the source's.
		jobs int
	}
	healthySource := func(t *testing.T) (*registry.Client, string, string) {
		front, back := twoFaced(t, nil, false)
		c := faultClient(t, "dev", front, true)
		push(t, c, "hello", "1.0.0", img)
		return c, front, back
	}
	healthyTarget := func(t *testing.T) (*registry.Client, string, string) {
		front, back := twoFaced(t, nil, false)
		return faultClient(t, "rc", front, true), front, back
	}
	var cases []testCase
	for _, f := range whole {
		f := f
		faulty := func(name string) func(t *testing.T) (*registry.Client, string, string) {
			return func(t *testing.T) (*registry.Client, string, string) {
				hp := f.serve(t)
				return faultClient(t, name, hp, f.insecure), hp, ""
			}
		}
		cases = append(cases,
			testCase{"source " + f.name, faulty("dev"), healthyTarget, "source registry dev", f.want, f.kind, "", 0},
			testCase{"target " + f.name, healthySource, faulty("rc"), "target registry rc", f.want, f.kind, "", 0})
	}
	cases = append(cases,
		testCase{"source blobs stall mid-way", func(t *testing.T) (*registry.Client, string, string) {
			front, back := twoFaced(t, isBlobGet, true)
			push(t, faultClient(t, "dev", back, true), "hello", "1.0.0", img)
			return faultClient(t, "dev", front, true), front, back
		}, healthyTarget, "source registry dev", "the response stalled: nothing received for 250ms while pulling blob sha256:", registry.ErrTimeout, "to", 1},
		testCase{"target uploads stall", healthySource, func(t *testing.T) (*registry.Client, string, string) {
			front, back := twoFaced(t, isUpload, false)
			return faultClient(t, "rc", front, true), front, back
		}, "target registry rc", "no response headers within 250ms while pushing", registry.ErrTimeout, "to", 0},
	)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			from, fromHost, _ := tt.from(t)
			to, toHost, toBack := tt.to(t)
			var err error
			faultnet.Within(t, 0, func() {
				_, err = Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0", Jobs: tt.jobs})
			})
			if err == nil || !errors.Is(err, tt.kind) {
				t.Fatalf("got %v, want an error matching %v", err, tt.kind)
			}
			host := toHost
			if strings.HasPrefix(tt.side, "source") {
				host = fromHost
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, tt.side+" ("+host+")") || !strings.Contains(msg, tt.want) {
				t.Errorf("message %q should name the %s (%s) and say %q", msg, tt.side, host, tt.want)
			}
			if tt.checkNoTagsAt == "" {
				return
			}
			back := faultClient(t, "rc", toBack, true)
			if _, err := back.Resolve(context.Background(), "hello", "1.0.0"); !errors.Is(err, registry.ErrNotFound) {
				t.Errorf("the target has tag 1.0.0 after a failed promotion: %v", err)
			}
		})
	}
}
