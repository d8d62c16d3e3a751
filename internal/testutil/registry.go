package testutil

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// QuietRegistry is go-containerregistry's in-process registry, logging
// nothing, with opts (e.g. ggcr.WithReferrersSupport).
func QuietRegistry(opts ...ggcr.Option) http.Handler {
	return ggcr.New(append([]ggcr.Option{ggcr.Logger(log.New(io.Discard, "", 0))}, opts...)...)
}

// Registry serves QuietRegistry over plain HTTP until the test ends, its
// handler wrapped by each of wrap in turn (the last outermost).
func Registry(t testing.TB, wrap ...func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	h := QuietRegistry()
	for _, w := range wrap {
		if w != nil {
			h = w(h)
		}
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// TLSRegistry serves QuietRegistry over TLS, with httptest's own
// certificate, until the test ends.
func TLSRegistry(t testing.TB) *httptest.Server {
	t.Helper()
	s := httptest.NewTLSServer(QuietRegistry())
	t.Cleanup(s.Close)
	return s
}

// Host is a test server's HOST:PORT.
func Host(s *httptest.Server) string {
	return strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://")
}

// BasicAuth wraps a handler to require user:pass, answering anything else
// as docker-registry does: 401, a Basic challenge and an UNAUTHORIZED
// error body.
func BasicAuth(user, pass string) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, p, ok := r.BasicAuth()
			if !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}
