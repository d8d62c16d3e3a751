package image

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

// Short timeouts and retries, so that faults show fast.
var (
	faultTimeouts = registry.Timeouts{
		Connect: 250 * time.Millisecond, TLS: 250 * time.Millisecond,
		Headers: 250 * time.Millisecond, Idle: 250 * time.Millisecond, Retries: time.Second,
	}
	faultBackoff = remote.Backoff{Duration: 10 * time.Millisecond, Factor: 1, Steps: 3}
)

func faultOptions() registry.Options {
	return registry.Options{Keychain: authn.NewMultiKeychain(), Backoff: faultBackoff, Timeouts: faultTimeouts}
}

// faultRegistry is a misbehaving registry for the tests below.
type faultRegistry struct {
	name     string
	serve    func(t *testing.T) string // host:port
	insecure bool
	kind     error
	want     string // in the message
}

// wholeFaults are registries that misbehave on every request.
var wholeFaults = []faultRegistry{
	{"accepts TCP, never answers", func(t *testing.T) string { return faultnet.Silent(t) }, true, registry.ErrTimeout, "within 250ms while checking its API"},
	{"accepts TLS, never finishes the handshake", func(t *testing.T) string { return faultnet.Silent(t) }, false, registry.ErrTimeout, "no TLS handshake within 250ms"},
	{"5xx forever", func(t *testing.T) string { return faultnet.Serve(t, faultnet.Status(http.StatusBadGateway)) }, true, registry.ErrServer, "server errors"},
	{"429 forever, asking for a day", func(t *testing.T) string {
		return faultnet.Serve(t, faultnet.Status(http.StatusTooManyRequests, "Retry-After", "86400"))
	}, true, registry.ErrRateLimited, "rate limiting"},
}

// stallOn serves one in-process registry twice: at front, where requests
// matching match are taken and never answered (or, with midBody, answered
// with headers and half the body, then stall), and healthy at back.
func stallOn(t *testing.T, match func(*http.Request) bool, midBody bool) (front, back string) {
	t.Helper()
	reg := testutil.QuietRegistry()
	healthy := httptest.NewServer(reg)
	t.Cleanup(healthy.Close)
	front = faultnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case match(r) && midBody:
			rec := httptest.NewRecorder()
			reg.ServeHTTP(rec, r)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			faultnet.StallBody(rec.Body.Bytes(), rec.Body.Len()/2).ServeHTTP(w, r)
			return
		case match(r):
			faultnet.StallRequest().ServeHTTP(w, r)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	return front, testutil.Host(healthy)
}

func checkFault(t *testing.T, err error, f faultRegistry, hostport string) {
	t.Helper()
	if err == nil || !errors.Is(err, f.kind) {
		t.Fatalf("got %v, want an error matching %v", err, f.kind)
	}
	if msg := err.Error(); !strings.Contains(msg, hostport) || !strings.Contains(msg, f.want) {
		t.Errorf("message %q should name %s and say %q", msg, hostport, f.want)
	}
}

// TestPushFaults pushes a build to misbehaving registries: each push ends,
// in bounded time, with an error naming the registry and the wait, and
// leaves no tag behind.
func TestPushFaults(t *testing.T) {
	noSourceDateEpoch(t)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "hello binary", mode: 0o755}})
	build(t, testOptions(dir))
	stalls := map[string]func(*http.Request) bool{
		// The bytes of a blob go in a PATCH, which does not say which
		// blob it is; the PUT that commits it does.
		"blob uploads stall": func(r *http.Request) bool {
			return r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/blobs/uploads/")
		},
		"blob commits stall": func(r *http.Request) bool {
			return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/")
		},
	}
	faults := append(wholeFaults,
		faultRegistry{"blob uploads stall", nil, true, registry.ErrTimeout, "no response headers within 250ms while pushing a blob"},
		faultRegistry{"blob commits stall", nil, true, registry.ErrTimeout, "no response headers within 250ms while pushing blob sha256:"})
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			var hp, back string
			if f.serve != nil {
				hp = f.serve(t)
			} else {
				hp, back = stallOn(t, stalls[f.name], false)
			}
			o := faultOptions()
			o.Name, o.Registry = "dev", config.Registry{Name: "dev", URL: hp + "/team", Insecure: f.insecure}
			c, err := registry.New(o)
			if err != nil {
				t.Fatal(err)
			}
			faultnet.Within(t, 0, func() { _, err = Push(context.Background(), PushOptions{Dir: dir, Registry: c}) })
			checkFault(t, err, f, hp)
			if back == "" {
				return
			}
			// Nothing half-written: the registry behind has no tag.
			healthy, err := registry.New(registry.Options{Registry: config.Registry{URL: back + "/team", Insecure: true}, Keychain: authn.NewMultiKeychain()})
			if err != nil {
				t.Fatal(err)
			}
			for _, tag := range []string{"1.2.3", "git-0123456"} {
				if _, err := healthy.Resolve(context.Background(), "hello", tag); !errors.Is(err, registry.ErrNotFound) {
					t.Errorf("tag %s after a failed push: %v", tag, err)
				}
			}
		})
	}
}

// TestBaseFaults builds on a base image in misbehaving registries.
func TestBaseFaults(t *testing.T) {
	noSourceDateEpoch(t)
	isManifest := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/")
	}
	faults := append(wholeFaults,
		faultRegistry{"manifest reads stall", nil, true, registry.ErrTimeout, "no response headers within 250ms while pulling manifest sha256:"},
		faultRegistry{"manifest bodies stall mid-way", nil, true, registry.ErrTimeout, "the response stalled: nothing received for 250ms while pulling manifest sha256:"})
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			var hp string
			if f.serve != nil {
				hp = f.serve(t)
			} else {
				var back string
				hp, back = stallOn(t, isManifest, strings.Contains(f.name, "mid-way"))
				bc, err := registry.New(registry.Options{Registry: config.Registry{URL: back, Insecure: true}, Keychain: authn.NewMultiKeychain()})
				if err != nil {
					t.Fatal(err)
				}
				ref, _ := bc.ParseReference(back + "/team/base:1")
				pushBase(t, ref, bc.RemoteOptions(context.Background()), "one")
			}
			set, err := registry.NewSet(config.Registries{{Name: "dev", URL: hp + "/team", Insecure: f.insecure}}, faultOptions())
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			writeProject(t, dir, map[string]file{"bin/hello": {content: "hi", mode: 0o755}})
			o := testOptions(dir)
			o.Image.Base = hp + "/team/base:1"
			o.Remote = set
			faultnet.Within(t, 0, func() { _, err = Build(context.Background(), o) })
			checkFault(t, err, f, hp)
			if !strings.Contains(err.Error(), "base registry dev") {
				t.Errorf("%q should name the base registry", err)
			}
		})
	}
}
