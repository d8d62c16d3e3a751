package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// bearerRegistry serves go-containerregistry's registry behind token
// auth: /v2/ challenges for a token from /token, which hands out one per
// request (counted in asked) for ci:s3cret; the registry takes any token
// it handed out.
func bearerRegistry(t *testing.T, asked *atomic.Int32) *httptest.Server {
	t.Helper()
	reg := testutil.QuietRegistry()
	var s *httptest.Server
	var mu sync.Mutex
	issued := map[string]bool{}
	s = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			if u, p, ok := r.BasicAuth(); !ok || u != "ci" || p != "s3cret" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			tok := fmt.Sprintf("t%d", asked.Add(1))
			mu.Lock()
			issued[tok] = true
			mu.Unlock()
			fmt.Fprintf(w, `{"token":%q,"expires_in":300}`, tok)
			return
		}
		mu.Lock()
		ok := issued[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		mu.Unlock()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+s.URL+`/token",service="reg"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestTokensRemembered: a command's transports that ask a token server for
// the same scope with the same credentials get one token between them.
func TestTokensRemembered(t *testing.T) {
	noDockerConfig(t)
	t.Setenv("SLIPWAY_REGISTRY_DEV_USERNAME", "ci")
	t.Setenv("SLIPWAY_REGISTRY_DEV_PASSWORD", "s3cret")
	var asked atomic.Int32
	s := bearerRegistry(t, &asked)
	c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s) + "/team", Insecure: true}, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo, _ := c.Repo("hello")
	for i := 0; i < 3; i++ { // pull scope
		if _, err := remote.List(repo, c.WithStats(&Stats{}).RemoteOptions(ctx)...); err != nil && !IsNotFound(err) {
			t.Fatal(err)
		}
	}
	if _, err := c.BlobReader(ctx, repo); err != nil { // pull scope
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // push scope
		w, err := c.BlobWriter(ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		blob := []byte(fmt.Sprintf("written with a remembered token %d", i))
		h, _, _ := v1.SHA256(bytes.NewReader(blob))
		if _, err := w.Write(ctx, v1.Descriptor{Digest: h, Size: int64(len(blob))}, func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(blob)), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("the token server was asked %d times, want 2 (one token per scope)", n)
	}
}

// TestTokenMemo: only requests to a realm a challenge named are token
// requests; one is answered from memory when it is the same as one
// answered with a token (method, URL, credentials, body) for half the
// token's life; failures, answers without a token and other credentials
// are asked again.
func TestTokenMemo(t *testing.T) {
	var calls atomic.Int32
	answer := `{"token":"abc","expires_in":60}`
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		status, body := http.StatusOK, answer
		switch {
		case r.Header.Get("Authorization") == "Basic bad":
			status, body = http.StatusUnauthorized, `{"errors":[{"code":"UNAUTHORIZED"}]}`
		case strings.Contains(r.URL.RawQuery, "scope=none"):
			body = `{"nothing":"here"}`
		}
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tk := &tokens{}
	tk.noteChallenge(http.Header{"Www-Authenticate": {`Bearer realm="https://auth.test/token",service="reg"`}})
	m := &tokenMemo{next: next, t: tk, now: func() time.Time { return now }}
	ask := func(method, url, auth, body string) string {
		t.Helper()
		var rb io.Reader
		if body != "" {
			rb = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, url, rb)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := m.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, b)
	}
	const tok = "https://auth.test/token?scope=repository%3Ateam%2Fhello%3Apull&service=reg"
	steps := []struct {
		name              string
		method, url, auth string
		body              string
		advance           time.Duration
		want              string
		calls             int32
	}{
		{"first", "GET", tok, "Basic ci", "", 0, "200 " + answer, 1},
		{"the same", "GET", tok, "Basic ci", "", 0, "200 " + answer, 1},
		{"other credentials", "GET", tok, "Basic other", "", 0, "200 " + answer, 2},
		{"refused", "GET", tok, "Basic bad", "", 0, "401 ", 3},
		{"refused again", "GET", tok, "Basic bad", "", 0, "401 ", 4},
		{"no token", "GET", "https://auth.test/token?scope=none", "Basic ci", "", 0, `200 {"nothing":"here"}`, 5},
		{"no token again", "GET", "https://auth.test/token?scope=none", "Basic ci", "", 0, `200 {"nothing":"here"}`, 6},
		{"not a realm", "GET", "https://reg.test/v2/team/hello/tags/list", "Basic ci", "", 0, "200 " + answer, 7},
		{"not a realm again", "GET", "https://reg.test/v2/team/hello/tags/list", "Basic ci", "", 0, "200 " + answer, 8},
		{"a form", "POST", "https://auth.test/token", "", "grant_type=refresh_token&refresh_token=r1", 0, "200 " + answer, 9},
		{"the same form", "POST", "https://auth.test/token", "", "grant_type=refresh_token&refresh_token=r1", 0, "200 " + answer, 9},
		{"another form", "POST", "https://auth.test/token", "", "grant_type=refresh_token&refresh_token=r2", 0, "200 " + answer, 10},
		{"within half its life", "GET", tok, "Basic ci", "", 29 * time.Second, "200 " + answer, 10},
		{"past half its life", "GET", tok, "Basic ci", "", 2 * time.Second, "200 " + answer, 11},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		got := ask(s.method, s.url, s.auth, s.body)
		if !strings.HasPrefix(got, s.want) || calls.Load() != s.calls {
			t.Errorf("%s: %q after %d requests; want %q after %d", s.name, got, calls.Load(), s.want, s.calls)
		}
	}
}

// FuzzNoteChallenge: any challenge a registry sends is read without
// failing, and at most a bounded realm is noted, only from Bearer ones.
func FuzzNoteChallenge(f *testing.F) {
	f.Add(`Bearer realm="https://auth.test/token",service="reg"`)
	f.Add(`Basic realm="x"`)
	f.Add(`bearer REALM="http://a/b?c=d" , scope="x"`)
	f.Add(`Bearer realm=""`)
	f.Fuzz(func(t *testing.T, v string) {
		tk := &tokens{}
		tk.noteChallenge(http.Header{"Www-Authenticate": {v}})
		for r := range tk.realms {
			if len(r) > 2048 || strings.Contains(r, "?") {
				t.Errorf("noted realm %q", r)
			}
		}
		if len(tk.realms) > 0 && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "bearer ") {
			t.Errorf("a realm noted from %q", v)
		}
	})
}

// TestRefusedTokenAskedAgain: a token the registry refuses (revoked, or
// granting less than is allowed now: pull on a repository that did not
// exist when it was handed out) is not handed out again from memory:
// go-containerregistry's request for a new one reaches the token server.
func TestRefusedTokenAskedAgain(t *testing.T) {
	noDockerConfig(t)
	t.Setenv("SLIPWAY_REGISTRY_DEV_USERNAME", "ci")
	t.Setenv("SLIPWAY_REGISTRY_DEV_PASSWORD", "s3cret")
	var exists atomic.Bool
	var mu sync.Mutex
	access := map[string]bool{} // token -> pull granted
	var s *httptest.Server
	s = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		challenge := func() {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+s.URL+`/token",service="reg",scope="repository:team/hello:pull"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
		switch r.URL.Path {
		case "/token":
			mu.Lock()
			tok := fmt.Sprintf("t%d", len(access)+1)
			access[tok] = exists.Load()
			mu.Unlock()
			fmt.Fprintf(w, `{"token":%q,"expires_in":300}`, tok)
		case "/v2/":
			challenge()
		default:
			mu.Lock()
			ok := access[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			mu.Unlock()
			if !ok {
				challenge()
				return
			}
			_, _ = io.WriteString(w, `{"name":"team/hello","tags":["v1"]}`)
		}
	}))
	defer s.Close()
	c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s) + "/team", Insecure: true}, Backoff: remote.Backoff{Steps: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	repo, _ := c.Repo("hello")
	if _, err := remote.List(repo, c.RemoteOptions(ctx)...); err == nil {
		t.Fatal("listing a repository that did not exist yet succeeded")
	}
	exists.Store(true) // pushed since, by another transport
	if _, err := remote.List(repo, c.RemoteOptions(ctx)...); err != nil {
		t.Errorf("listing after the push: %v (%d tokens handed out)", err, len(access))
	}
}

// TestTokenMemoBounds: a token request's body over the bound is sent
// whole, not remembered; a token answer over 64 KiB (more than
// go-containerregistry reads) is not remembered.
func TestTokenMemoBounds(t *testing.T) {
	var got atomic.Int64
	var asked atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
		if r.URL.Query().Get("big") != "" {
			fmt.Fprintf(w, `{"token":"t","pad":%q}`, strings.Repeat("p", maxTokenAnswer))
			return
		}
		_, _ = io.WriteString(w, `{"token":"t"}`)
	}))
	defer s.Close()
	tk := &tokens{}
	tk.noteChallenge(http.Header{"Www-Authenticate": {`Bearer realm="` + s.URL + `/token"`}})
	m := &tokenMemo{next: http.DefaultTransport, t: tk, now: time.Now}
	body := "grant_type=refresh_token&refresh_token=" + strings.Repeat("a", maxTokenRequest+100)
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/token", strings.NewReader(body))
		resp, err := m.RoundTrip(req)
		if err != nil {
			t.Fatalf("a large token form: %v", err)
		}
		resp.Body.Close()
		if got.Load() != int64(len(body)) {
			t.Errorf("the token server got %d bytes of the form's %d", got.Load(), len(body))
		}
	}
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/token?big=1", nil)
		resp, err := m.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(b) <= maxTokenAnswer {
			t.Errorf("the large answer came back with %d bytes", len(b))
		}
	}
	if n := asked.Load(); n != 4 {
		t.Errorf("the token server was asked %d times, want 4 (nothing over the bounds remembered)", n)
	}
}
