// Package githttp serves bare git repositories over git's smart HTTP protocol on 127.0.0.1, with basic auth, for end-to-end tests.
package githttp

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultBackend is where Debian's git package installs git-http-backend.
const DefaultBackend = "/usr/lib/git-core/git-http-backend"

// DefaultMaxBody bounds a request body: a push of a test repository is far
// smaller, and a chunked body is held in memory before it reaches the CGI.
const DefaultMaxBody = 32 << 20

// ErrNotLoopback is returned by Listen for any address but 127.0.0.1:PORT.
var ErrNotLoopback = errors.New("the git server listens on 127.0.0.1 only")

// Server serves the bare repositories Root/NAME.git at /NAME.git through
// git-http-backend, smart HTTP only. With a User, every request must carry
// that user and Pass (basic auth), and pushes are allowed: git-http-backend
// enables receive-pack only when REMOTE_USER is set, which the Server does
// only after the check. Without a User it serves fetches to anyone and
// refuses pushes.
type Server struct {
	Root, User, Pass string
	// Backend is the git-http-backend to run; DefaultBackend when empty.
	Backend string
	// MaxBody bounds a request body in bytes; DefaultMaxBody when 0.
	MaxBody int64
	// Logf receives one line per request and the backend's stderr; nil
	// discards them.
	Logf func(format string, args ...any)
}

// repoPath is what a smart-HTTP client asks for: the ref advertisement and
// the two services, of a repository named without a slash or a leading dot.
var repoPath = regexp.MustCompile(`^/[A-Za-z0-9_][A-Za-z0-9._-]{0,99}\.git/(info/refs|git-upload-pack|git-receive-pack)$`)

// ServeHTTP checks the credentials and the path, then hands the request to
// git-http-backend.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := s.serve(w, r)
	s.logf("%s %s %s %d %s", r.RemoteAddr, r.Method, r.URL.Path, code, time.Since(start).Round(time.Millisecond))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) int {
	user, ok := s.authorized(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="githttp", charset="UTF-8"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return http.StatusUnauthorized
	}
	if !repoPath.MatchString(r.URL.Path) {
		http.NotFound(w, r)
		return http.StatusNotFound
	}
	// The credentials stay here: the CGI gets every request header as an
	// HTTP_* variable.
	r.Header.Del("Authorization")
	if err := s.bufferChunked(w, r); err != nil {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return http.StatusRequestEntityTooLarge
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody())
	env := []string{
		"GIT_PROJECT_ROOT=" + s.Root, "GIT_HTTP_EXPORT_ALL=1",
		// No system or user git configuration changes what is served.
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME=/nonexistent",
	}
	if user != "" {
		env = append(env, "REMOTE_USER="+user)
	}
	backend := s.Backend
	if backend == "" {
		backend = DefaultBackend
	}
	h := &cgi.Handler{Path: backend, Env: env, Stderr: logWriter{s}, Logger: log.New(logWriter{s}, "", 0)}
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	h.ServeHTTP(rec, r)
	return rec.code
}

// authorized checks basic auth in constant time (over hashes, so that the
// lengths do not show either) and returns the user to hand the backend.
func (s *Server) authorized(r *http.Request) (string, bool) {
	if s.User == "" {
		return "", true
	}
	u, p, ok := r.BasicAuth()
	wantU, wantP := sha256.Sum256([]byte(s.User)), sha256.Sum256([]byte(s.Pass))
	gotU, gotP := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
	match := subtle.ConstantTimeCompare(wantU[:], gotU[:]) & subtle.ConstantTimeCompare(wantP[:], gotP[:])
	if !ok || match != 1 {
		return "", false
	}
	return s.User, true
}

// bufferChunked reads a chunked body (git sends one for a push larger than
// its http.postBuffer) into memory, bounded, since CGI needs a length.
func (s *Server) bufferChunked(w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength >= 0 {
		return nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody()))
	if err != nil {
		return fmt.Errorf("reading a chunked request body: %w", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	return nil
}

func (s *Server) maxBody() int64 {
	if s.MaxBody > 0 {
		return s.MaxBody
	}
	return DefaultMaxBody
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

type logWriter struct{ s *Server }

func (l logWriter) Write(p []byte) (int, error) {
	l.s.logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Listen listens on addr, which must be 127.0.0.1:PORT (PORT may be 0).
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		return nil, fmt.Errorf("listening on %.64q: %w", addr, ErrNotLoopback)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", addr, err)
	}
	return ln, nil
}

// HTTPServer wraps h with bounded header size and timeouts, so that a
// stalled client cannot hold a connection or a backend process for long.
func HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// Start serves the bare repositories root/NAME.git on a free port of
// 127.0.0.1 until the test ends, and returns the base URL: a repository's
// URL is base + "/NAME.git". With a user, requests need user and pass, and
// pushes are allowed; see Server. Without git-http-backend the test is
// skipped, or fails when SLIPWAY_E2E=1.
func Start(t testing.TB, root, user, pass string) string {
	t.Helper()
	if _, err := os.Stat(DefaultBackend); err != nil {
		msg := "git-http-backend is not installed at " + DefaultBackend + "; run make deps (apt-get install git)"
		if os.Getenv("SLIPWAY_E2E") == "1" {
			t.Fatalf("%s (SLIPWAY_E2E=1 requires it)", msg)
		}
		t.Skip(msg)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testLog{t: t}
	srv := HTTPServer(&Server{Root: root, User: user, Pass: pass, Logf: logs.logf})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		logs.stop()
	})
	return "http://" + ln.Addr().String()
}

// testLog logs to the test until it ends: Close does not wait for handlers
// still running, and logging to a finished test panics.
type testLog struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf("githttp: "+format, args...)
	}
}

func (l *testLog) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}
