package registry

import (
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
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/testutil"
)

var fastBackoff = remote.Backoff{Duration: 1, Factor: 1, Steps: 2}

// noDockerConfig points the Docker config lookup at an empty directory.
func noDockerConfig(t *testing.T) {
	t.Helper()
	d := t.TempDir()
	t.Setenv("HOME", d)
	t.Setenv("DOCKER_CONFIG", d)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("XDG_CONFIG_HOME", d)
}

func TestNewAndRepo(t *testing.T) {
	tests := []struct {
		name     string
		reg      config.Registry
		app      string
		wantRepo string
		wantHost string
		wantErr  error
	}{
		{"host and prefix", config.Registry{URL: "registry.example.com/team"}, "hello", "registry.example.com/team/hello", "registry.example.com", nil},
		{"host only", config.Registry{URL: "registry.example.com"}, "hello", "registry.example.com/hello", "registry.example.com", nil},
		{"port and deep prefix", config.Registry{URL: "127.0.0.1:5000/a/b/", Insecure: true}, "hello", "127.0.0.1:5000/a/b/hello", "127.0.0.1:5000", nil},
		{"docker hub", config.Registry{URL: "docker.io/team"}, "hello", "index.docker.io/team/hello", "index.docker.io", nil},
		{"scheme", config.Registry{URL: "https://registry.example.com"}, "", "", "", ErrBadURL},
		{"empty", config.Registry{URL: ""}, "", "", "", ErrBadURL},
		{"bad host", config.Registry{URL: "UPPER CASE/x"}, "", "", "", ErrBadURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Options{Registry: tt.reg})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("New: err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Host() != tt.wantHost {
				t.Errorf("Host = %s, want %s", c.Host(), tt.wantHost)
			}
			r, err := c.Repo(tt.app)
			if err != nil {
				t.Fatal(err)
			}
			if r.Name() != tt.wantRepo {
				t.Errorf("Repo = %s, want %s", r.Name(), tt.wantRepo)
			}
			if got := r.Scheme() == "http"; tt.reg.Insecure && !got {
				t.Errorf("insecure registry repo scheme = %s", r.Scheme())
			}
		})
	}
}

// TestCAReadWhenNeeded: a registry's CA file is read when a request to
// it first needs it, not when its Client is made, so a Set of a project's
// registries works with the ones whose CA is fine. A CA that is no PEM, a
// device, a directory or too large fails that registry's requests, and
// the error never quotes the file.
func TestCAReadWhenNeeded(t *testing.T) {
	noDockerConfig(t)
	dir := t.TempDir()
	files := map[string]string{"ca.pem": "SECRET-CONTENT", "big.pem": strings.Repeat("x", 1<<20+1)}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		ca, want string
	}{
		{filepath.Join(dir, "ca.pem"), "no PEM certificate in it"},
		{filepath.Join(dir, "missing.pem"), "no such file"},
		{filepath.Join(dir, "big.pem"), "Slipway reads files of at most 1.0 MiB"},
		{dir, "is a directory, not a regular file"},
		{"/dev/zero", "is a device, not a regular file"},
	}
	good := testutil.Registry(t, nil)
	for _, tt := range tests {
		t.Run(filepath.Base(tt.ca), func(t *testing.T) {
			set, err := NewSet(config.Registries{
				{Name: "other", URL: "other.example.com/team", CA: tt.ca},
				{Name: "dev", URL: testutil.Host(good) + "/team", Insecure: true},
			}, Options{Backoff: fastBackoff})
			if err != nil {
				t.Fatalf("NewSet: %v", err)
			}
			dev, _ := set.Client("dev")
			repo, _ := dev.Repo("hello")
			img, _ := random.Image(10, 1)
			if err := remote.Write(repo.Tag("1"), img, dev.RemoteOptions(context.Background())...); err != nil {
				t.Fatalf("writing to the registry with a good CA: %v", err)
			}
			other, _ := set.Client("other")
			repo, _ = other.Repo("hello")
			_, err = remote.Head(repo.Tag("1"), other.RemoteOptions(context.Background())...)
			if err == nil || !strings.Contains(err.Error(), "reading CA file") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one reading the CA file saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the error quotes the CA file: %v", err)
			}
		})
	}
}

func TestKeychain(t *testing.T) {
	noDockerConfig(t)
	tests := []struct {
		name       string
		env        map[string]string
		target     string
		wantUser   string
		wantTried  string
		wantAnon   bool
		wantErrIs  error
		wantNoText string
	}{
		{
			name:      "environment",
			env:       map[string]string{"SLIPWAY_REGISTRY_DEV_USERNAME": "ci", "SLIPWAY_REGISTRY_DEV_PASSWORD": "pa55"},
			target:    "reg.example.com",
			wantUser:  "ci",
			wantTried: "SLIPWAY_REGISTRY_DEV_USERNAME/_PASSWORD",
		},
		{
			name:      "environment is for its own host only",
			env:       map[string]string{"SLIPWAY_REGISTRY_DEV_USERNAME": "ci", "SLIPWAY_REGISTRY_DEV_PASSWORD": "pa55"},
			target:    "other.example.com",
			wantAnon:  true,
			wantTried: "Docker config",
		},
		{
			name:      "nothing set",
			target:    "reg.example.com",
			wantAnon:  true,
			wantTried: "SLIPWAY_REGISTRY_DEV_USERNAME/_PASSWORD (not set), then Docker config",
		},
		{
			name:       "password without username",
			env:        map[string]string{"SLIPWAY_REGISTRY_DEV_PASSWORD": "pa55"},
			target:     "reg.example.com",
			wantErrIs:  ErrAuth,
			wantNoText: "pa55",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SLIPWAY_REGISTRY_DEV_USERNAME", "")
			t.Setenv("SLIPWAY_REGISTRY_DEV_PASSWORD", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			k := newKeychain("dev", "reg.example.com", nil)
			reg, _ := name.NewRegistry(tt.target)
			auth, err := k.Resolve(reg)
			if tt.wantErrIs != nil {
				if !errors.Is(err, tt.wantErrIs) {
					t.Fatalf("err = %v, want %v", err, tt.wantErrIs)
				}
				if strings.Contains(err.Error(), tt.wantNoText) {
					t.Errorf("error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := auth.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Username != tt.wantUser {
				t.Errorf("username = %q, want %q", cfg.Username, tt.wantUser)
			}
			s := k.source(tt.target)
			if !strings.HasPrefix(s.desc, tt.wantTried) || s.anonymous != tt.wantAnon {
				t.Errorf("source = %+v, want prefix %q anonymous %v", s, tt.wantTried, tt.wantAnon)
			}
		})
	}
}

func TestDescribeDockerConfig(t *testing.T) {
	noDockerConfig(t)
	dir := os.Getenv("DOCKER_CONFIG")
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := describeDockerConfig("r.example.com", true); !strings.Contains(got, "none found") {
		t.Errorf("no config: %s", got)
	}
	tests := []struct{ config, want string }{
		{`{"auths":{"https://r.example.com/v1/":{"auth":"c2VjcmV0OnNlY3JldA=="}}}`, "auth entry for https://r.example.com/v1/"},
		{`{"credHelpers":{"r.example.com":"ecr-login"}}`, "credential helper docker-credential-ecr-login"},
		{`{"credsStore":"desktop"}`, "credential store docker-credential-desktop"},
		{`{"auths":{"other.example.com":{}}}`, "no entry for r.example.com"},
	}
	for _, tt := range tests {
		write(tt.config)
		got := describeDockerConfig("r.example.com", false)
		if !strings.Contains(got, tt.want) || !strings.Contains(got, filepath.Join(dir, "config.json")) {
			t.Errorf("config %s: got %q, want it to name the file and %q", tt.config, got, tt.want)
		}
		if strings.Contains(got, "c2VjcmV0") {
			t.Errorf("description shows a secret: %s", got)
		}
	}
}

func TestAuthErrors(t *testing.T) {
	noDockerConfig(t)
	s := testutil.Registry(t, testutil.BasicAuth("ci", "right-password"))
	tests := []struct {
		name      string
		user      string
		pass      string
		want      []string
		wantAnon  bool
		wantFound bool
	}{
		{"anonymous", "", "", []string{"requires authentication", "no credentials found", "SLIPWAY_REGISTRY_DEV_USERNAME/_PASSWORD (not set)"}, true, false},
		{"wrong password", "ci", "wrong-password", []string{"rejected the credentials from SLIPWAY_REGISTRY_DEV_USERNAME/_PASSWORD"}, false, false},
		{"right password", "ci", "right-password", nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SLIPWAY_REGISTRY_DEV_USERNAME", tt.user)
			t.Setenv("SLIPWAY_REGISTRY_DEV_PASSWORD", tt.pass)
			c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s) + "/team", Insecure: true}, Backoff: fastBackoff})
			if err != nil {
				t.Fatal(err)
			}
			repo, _ := c.Repo("hello")
			img, _ := random.Image(100, 1)
			err = remote.Write(repo.Tag("v1"), img, c.RemoteOptions(context.Background())...)
			if tt.wantFound {
				if err != nil {
					t.Fatalf("push with right credentials: %v", err)
				}
				return
			}
			err = c.Classify(err, SideTarget)
			var ae *AuthError
			if !errors.Is(err, ErrAuth) || !errors.As(err, &ae) {
				t.Fatalf("err = %v, want ErrAuth", err)
			}
			if ae.Anonymous != tt.wantAnon || ae.Status != http.StatusUnauthorized {
				t.Errorf("AuthError = %+v", ae)
			}
			if r, want := ae.Remedy(), (remedy.Remedy{Kind: remedy.LoginRegistry, Host: testutil.Host(s), Registry: "dev"}); r != want {
				t.Errorf("Remedy = %+v, want %+v", r, want)
			}
			msg := err.Error()
			t.Log(msg)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "password") && tt.pass != "" && strings.Contains(msg, tt.pass) {
				t.Errorf("message shows the password: %s", msg)
			}
			if !strings.HasPrefix(msg, "target registry dev ("+testutil.Host(s)+")") {
				t.Errorf("message does not start with the side and host: %s", msg)
			}
		})
	}
}

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   error
		text   string
	}{
		{http.StatusForbidden, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`, ErrAuth, "denied access"},
		{http.StatusNotFound, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, ErrNotFound, "not found"},
		{http.StatusTooManyRequests, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, ErrRateLimited, "rate limiting"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer s.Close()
			c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s), Insecure: true}, Backoff: fastBackoff})
			if err != nil {
				t.Fatal(err)
			}
			ref, _ := c.ParseReference(testutil.Host(s) + "/app:1")
			_, err = remote.Get(ref, c.RemoteOptions(context.Background())...)
			err = c.Classify(err, SideSource)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) || !strings.HasPrefix(err.Error(), "source registry dev ("+testutil.Host(s)+")") {
				t.Errorf("message = %q, want it to start with the side and host and say %q", err, tt.text)
			}
		})
	}
}

func TestClassifyConnection(t *testing.T) {
	// A closed port: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	tlsServer := testutil.TLSRegistry(t)
	plain := testutil.Registry(t, nil)
	tlsHost := testutil.Host(tlsServer)

	tests := []struct {
		name string
		reg  config.Registry
		want error
		text string
	}{
		{"refused", config.Registry{URL: closed, Insecure: true}, ErrUnreachable, "unreachable"},
		{"untrusted certificate", config.Registry{URL: tlsHost}, ErrTLS, "insecure: true"},
		{"plain HTTP registry without insecure", config.Registry{URL: testutil.Host(plain)}, ErrTLS, "plain HTTP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Options{Name: "local", Registry: tt.reg, Backoff: fastBackoff})
			if err != nil {
				t.Fatal(err)
			}
			ref, _ := c.ParseReference(tt.reg.URL + "/app:1")
			_, err = remote.Head(ref, c.RemoteOptions(context.Background())...)
			err = c.Classify(err, SideNone)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("message %q lacks %q", err, tt.text)
			}
		})
	}
}

func TestClassifyPassesThrough(t *testing.T) {
	for _, err := range []error{nil, context.Canceled, errors.New("something else")} {
		if got := Classify(err, Target{Host: "h"}); got != err {
			t.Errorf("Classify(%v) = %v", err, got)
		}
	}
}

func TestTLS(t *testing.T) {
	s := testutil.TLSRegistry(t)
	h := testutil.Host(s)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		reg  config.Registry
	}{
		{"ca file", config.Registry{URL: h + "/team", CA: ca}},
		{"insecure", config.Registry{URL: h + "/team", Insecure: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Options{Registry: tt.reg, Backoff: fastBackoff})
			if err != nil {
				t.Fatal(err)
			}
			repo, _ := c.Repo("hello")
			img, _ := random.Image(100, 1)
			opts := c.RemoteOptions(context.Background())
			if err := remote.Write(repo.Tag("1"), img, opts...); err != nil {
				t.Fatal(c.Classify(err, SideTarget))
			}
			got, err := remote.Head(repo.Tag("1"), opts...)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := img.Digest()
			if got.Digest != want {
				t.Errorf("digest = %s, want %s", got.Digest, want)
			}
		})
	}
}

func TestRetriesServerErrors(t *testing.T) {
	var fails atomic.Int32
	fails.Store(2)
	s := testutil.Registry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") && fails.Add(-1) >= 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	c, err := New(Options{Registry: config.Registry{URL: testutil.Host(s), Insecure: true}, Backoff: remote.Backoff{Duration: 1, Factor: 1, Steps: 4}})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := c.ParseReference(testutil.Host(s) + "/app:1")
	img, _ := random.Image(100, 1)
	opts := c.RemoteOptions(context.Background())
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(ref, opts...); err != nil {
		t.Fatalf("pull after two 503s: %v", err)
	}
}

func TestStats(t *testing.T) {
	s := testutil.Registry(t, nil)
	c, err := New(Options{Registry: config.Registry{URL: testutil.Host(s), Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := c.Repo("app")
	img, _ := random.Image(1000, 3)
	var first, second Stats
	if err := remote.Write(repo.Tag("1"), img, c.WithStats(&first).RemoteOptions(context.Background())...); err != nil {
		t.Fatal(err)
	}
	if first.Uploaded() != 4 || first.Skipped() != 0 || first.Bytes() < 3000 {
		t.Errorf("first push: uploaded %d skipped %d bytes %d; want 4 (3 layers and config), 0, >= 3000",
			first.Uploaded(), first.Skipped(), first.Bytes())
	}
	if err := remote.Write(repo.Tag("2"), img, c.WithStats(&second).RemoteOptions(context.Background())...); err != nil {
		t.Fatal(err)
	}
	if second.Uploaded() != 0 || second.Bytes() != 0 {
		t.Errorf("second push: uploaded %d bytes %d; want 0, 0", second.Uploaded(), second.Bytes())
	}
}

func TestSet(t *testing.T) {
	regs := config.Registries{
		{Name: "dev", URL: "127.0.0.1:5000/team", Insecure: true},
		{Name: "dev-base", URL: "127.0.0.1:5000/team/base", Insecure: true},
		{Name: "rc", URL: "registry.example.com/team"},
	}
	s, err := NewSet(regs, Options{UserAgent: "slipway/test"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ref      string
		wantName string
		wantHTTP bool
	}{
		{"127.0.0.1:5000/team/app:1", "dev", true},
		{"127.0.0.1:5000/team/base/alpine:3", "dev-base", true},
		{"127.0.0.1:5000/elsewhere/app:1", "dev", true},
		{"registry.example.com/team/app:1", "rc", false},
		{"alpine:3.20", "", false},
	}
	for _, tt := range tests {
		ref, err := s.ParseReference(tt.ref)
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.For(ref.Context())
		if err != nil {
			t.Fatal(err)
		}
		if c.Name() != tt.wantName {
			t.Errorf("%s: client %q, want %q", tt.ref, c.Name(), tt.wantName)
		}
		if got := ref.Context().Scheme() == "http"; got != tt.wantHTTP && tt.wantHTTP {
			t.Errorf("%s: scheme %s", tt.ref, ref.Context().Scheme())
		}
	}
	if c, _ := s.For(mustRepo(t, "alpine")); c.Host() != "index.docker.io" || c.Insecure() {
		t.Errorf("default client host = %s insecure %v", c.Host(), c.Insecure())
	}
	for _, h := range []string{"localhost:5001", "127.0.0.2:5000", "[::1]:5000"} {
		if c, _ := s.For(mustRepo(t, h+"/x")); !c.Insecure() {
			t.Errorf("default client for %s is not insecure", h)
		}
	}
}

func mustRepo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var _ authn.Keychain = (*keychain)(nil)

func TestResolve(t *testing.T) {
	s := testutil.Registry(t)
	c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s) + "/team", Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := c.Repo("hello")
	if err := remote.Write(repo.Tag("1.0.0"), img, c.RemoteOptions(context.Background())...); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	got, err := c.Resolve(context.Background(), "hello", "1.0.0")
	if err != nil || got != want {
		t.Errorf("Resolve = %s, %v; want %s", got, err, want)
	}
	if _, err := c.Resolve(context.Background(), "hello", "9.9.9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a missing tag: %v, want ErrNotFound", err)
	}
}
