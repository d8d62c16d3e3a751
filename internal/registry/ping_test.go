package registry

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// pingCounter counts the version checks a registry answers, and the TLS
// handshakes tried on its plain-HTTP port.
type pingCounter struct {
	checks atomic.Int32
	fail   atomic.Int32 // answer this many checks 503 first
}

func (p *pingCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			p.checks.Add(1)
			if p.fail.Load() > 0 {
				p.fail.Add(-1)
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// tlsTries counts connections to l that open with a TLS handshake (the
// first byte 0x16) and passes every connection on to the server.
type tlsTries struct {
	net.Listener
	n atomic.Int32
}

func (l *tlsTries) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &peekConn{Conn: c, tries: &l.n}, nil
}

type peekConn struct {
	net.Conn
	tries *atomic.Int32
	once  sync.Once
}

func (c *peekConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.once.Do(func() {
		if n > 0 && b[0] == 0x16 {
			c.tries.Add(1)
		}
	})
	return n, err
}

// TestPingsRemembered: the transports of one command (a client's
// go-containerregistry options, its blob reader and writer, and their
// copies) ask a registry's version check once between them, and each
// still authenticates with the challenge remembered; on an insecure
// registry that answers plain HTTP, TLS is tried once, not before every
// check.
func TestPingsRemembered(t *testing.T) {
	noDockerConfig(t)
	t.Setenv("SLIPWAY_REGISTRY_DEV_USERNAME", "ci")
	t.Setenv("SLIPWAY_REGISTRY_DEV_PASSWORD", "s3cret")
	pc := &pingCounter{}
	s := httptest.NewUnstartedServer(pc.wrap(testutil.BasicAuth("ci", "s3cret")(testutil.QuietRegistry())))
	l := &tlsTries{Listener: s.Listener}
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s) + "/team", Insecure: true}, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo, _ := c.Repo("hello")
	c.Warm(ctx)
	for i := 0; i < 3; i++ {
		// The repository is empty: the list is a 404, after the check.
		if _, err := remote.List(repo, c.WithStats(&Stats{}).RemoteOptions(ctx)...); err != nil && !IsNotFound(err) {
			t.Fatal(err)
		}
	}
	if _, err := c.BlobReader(ctx, repo); err != nil {
		t.Fatal(err)
	}
	w, err := c.BlobWriter(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	blob := []byte("written with the remembered challenge")
	h, _, _ := v1.SHA256(bytes.NewReader(blob))
	if _, err := w.Write(ctx, v1.Descriptor{Digest: h, Size: int64(len(blob))}, func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := pc.checks.Load(); n != 1 {
		t.Errorf("the registry answered %d version checks, want 1", n)
	}
	if n := l.n.Load(); n != 1 {
		t.Errorf("TLS was tried %d times on the plain-HTTP port, want 1", n)
	}
}

// TestPingsFailedAskedAgain: a version check that failed is not
// remembered: the next transport asks again, and the answer it gets is
// remembered then.
func TestPingsFailedAskedAgain(t *testing.T) {
	noDockerConfig(t)
	pc := &pingCounter{}
	pc.fail.Store(1)
	s := testutil.Registry(t, pc.wrap)
	// No retries: the failed check ends the first setup.
	c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s) + "/team", Insecure: true},
		Backoff: remote.Backoff{Steps: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo, _ := c.Repo("hello")
	if _, err := c.BlobReader(ctx, repo); err == nil {
		t.Fatal("the first setup succeeded against a 503 version check")
	}
	for i := 0; i < 2; i++ {
		if _, err := c.BlobReader(ctx, repo); err != nil {
			t.Fatal(err)
		}
	}
	if n := pc.checks.Load(); n != 2 {
		t.Errorf("the registry answered %d version checks, want 2 (the failed one, then one remembered)", n)
	}
}

// TestPingMemoConcurrent: checks asked at once wait for the first one's
// answer; a cancelled one is not remembered as a TLS failure.
func TestPingMemoConcurrent(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		if r.URL.Scheme == "https" {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		<-release
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	m := &pingMemo{next: next, p: &pings{}}
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, "http://reg.test/v2/", nil)
			resp, err := m.RoundTrip(req)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
			errs <- err
		}()
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://reg.test/v2/", nil)
	go cancel()
	if _, err := m.RoundTrip(req); err == nil {
		t.Error("the cancelled HTTPS check succeeded")
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d checks reached the registry, want 2 (one HTTPS, one HTTP)", n)
	}
	if m.p.noTLS["reg.test"] {
		t.Error("a cancelled HTTPS check was remembered as TLS failing")
	}
}

// TestWarmSaysNothing: a version check asked ahead of a registry that never
// answers tries once and says nothing; the request that needs the answer
// meets the failure, retries and reports it as before.
func TestWarmSaysNothing(t *testing.T) {
	c, hp, rec := silentRegistry(t, 3, 0)
	var err error
	faultnet.Within(t, 0, func() { c.Warm(context.Background()) })
	if msgs := rec.Msgs(""); len(msgs) != 0 {
		t.Errorf("the check asked ahead said %q", msgs)
	}
	faultnet.Within(t, 0, func() { _, err = c.Resolve(context.Background(), "hello", "1.0.0") })
	checkFault(t, err, ErrTimeout, hp, "no TLS handshake within 100ms")
	if len(rec.Msgs("registry")) == 0 {
		t.Error("the request after the check asked ahead retried without saying so")
	}
}

// TestPingMemoKeepsTheChallenge: the answer handed back, first and
// remembered, carries the registry's challenge as it sent it.
func TestPingMemoKeepsTheChallenge(t *testing.T) {
	const challenge = `Bearer realm="https://auth.test/token",service="reg.test"`
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h := http.Header{}
		h.Set("WWW-Authenticate", challenge)
		h.Set("X-Other", "dropped")
		return &http.Response{StatusCode: http.StatusUnauthorized, Header: h, Body: http.NoBody, Request: r}, nil
	})
	m := &pingMemo{next: next, p: &pings{}}
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodGet, "https://reg.test/v2/", nil)
		resp, err := m.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || got != challenge {
			t.Errorf("answer %d: %d with challenge %q, want 401 with %q", i+1, resp.StatusCode, got, challenge)
		}
		if resp.Header.Get("X-Other") != "" {
			t.Errorf("answer %d kept a header the check does not read", i+1)
		}
	}
}

// TestPingMemoKeepsTheScheme: a plain-HTTP check that was sent over HTTPS
// (a registry that is not insecure) is answered, first and remembered,
// as the HTTPS request it became: go-containerregistry takes the scheme of
// the answer's request for the registry's, and an "http" one would let it
// send credentials to a plain-HTTP token realm. It is not taken for plain
// HTTP answering where HTTPS failed either.
func TestPingMemoKeepsTheScheme(t *testing.T) {
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Scheme == "http" { // as hostRouter upgrades it
			r = r.Clone(r.Context())
			r.URL.Scheme = "https"
		}
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	m := &pingMemo{next: next, p: &pings{}}
	m.p.noTLS = map[string]bool{"reg.test": true}
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodGet, "http://reg.test/v2/", nil)
		resp, err := m.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Request.URL.Scheme; got != "https" {
			t.Errorf("answer %d: its request's scheme is %q, want https", i+1, got)
		}
	}
	if m.p.plainHTTP("reg.test") {
		t.Error("an answer over HTTPS was taken for plain HTTP answering")
	}
}

// TestNoCredentialsToPlainHTTPRealm: a registry that is not insecure, on a
// loopback address (go-containerregistry checks it over HTTPS, then over
// HTTP too, which Slipway sends over HTTPS), whose challenge names a
// plain-HTTP token realm: the credentials never go there.
func TestNoCredentialsToPlainHTTPRealm(t *testing.T) {
	noDockerConfig(t)
	t.Setenv("SLIPWAY_REGISTRY_DEV_USERNAME", "ci")
	t.Setenv("SLIPWAY_REGISTRY_DEV_PASSWORD", "s3cret")
	var leaked atomic.Value
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); ok {
			leaked.Store(u + ":" + p)
		}
		_, _ = io.WriteString(w, `{"token":"t"}`)
	}))
	defer tokens.Close()
	realm := "http://localhost:" + tokens.URL[strings.LastIndex(tokens.URL, ":")+1:] + "/token"
	var checks atomic.Int32
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" && checks.Add(1) == 1 {
			// The HTTPS check answers late, so the second one answers
			// first.
			time.Sleep(800 * time.Millisecond)
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="reg"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer s.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s) + "/team", CA: ca}, Backoff: remote.Backoff{Steps: 1}})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := c.Repo("hello")
	if _, err := remote.List(repo, c.RemoteOptions(context.Background())...); err == nil {
		t.Error("listing through a plain-HTTP token realm succeeded")
	}
	if v := leaked.Load(); v != nil {
		t.Errorf("credentials %q went to the plain-HTTP realm %s", v, realm)
	}
}
