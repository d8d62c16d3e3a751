// Package faultnet serves misbehaving network peers on 127.0.0.1 for tests:
// a listener that accepts and never answers, handlers that stall, and a
// bound on how long a call under test may take.
package faultnet

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Limit is how long a call under test may take before Within fails the
// test. It is far above any timeout the tests set: it catches hangs, it
// does not time anything.
const Limit = 20 * time.Second

// Within runs f and fails the test when f has not returned after limit
// (Limit when 0). It does not wait for f beyond that.
func Within(t testing.TB, limit time.Duration, f func()) {
	t.Helper()
	if limit <= 0 {
		limit = Limit
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("the call had not returned after %s", limit)
	}
}

// Silent listens on 127.0.0.1, accepts connections and never writes to
// them: over plain HTTP a request waits for response headers, over HTTPS
// for the TLS handshake. It returns host:port; connections are closed
// when the test ends.
func Silent(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			// Read (and drop) what comes, so the client's writes succeed.
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// Serve serves h on 127.0.0.1 over plain HTTP and returns host:port. The
// server is closed when the test ends; the contexts of requests still
// being handled are cancelled first, so that stalled handlers return.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-release:
				cancel()
			case <-ctx.Done():
			}
		}()
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(func() {
		close(release)
		s.CloseClientConnections()
		s.Close()
	})
	return strings.TrimPrefix(s.URL, "http://")
}

// Status answers every request with status and headers (key, value
// pairs), e.g. 429 with "Retry-After", "86400".
func Status(status int, headers ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
	})
}

// StallBody answers with headers and the first n bytes of body, then
// stops sending until the request's context ends.
func StallBody(body []byte, n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body[:min(n, len(body))])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
}

// StallRequest takes the request headers and then neither reads the body
// nor answers until the request's context ends: an upload to it stalls
// once the socket buffers are full.
func StallRequest() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
}
