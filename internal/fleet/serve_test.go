package fleet

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// served starts Handler on loopback over sample(), counting the reads.
func served(t *testing.T, refresh time.Duration) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var reads atomic.Int64
	read := func(context.Context) Fleet { reads.Add(1); return sample() }
	s := httptest.NewUnstartedServer(nil)
	s.Config.Handler = Handler(read, refresh, s.Listener.Addr().String())
	s.Start()
	t.Cleanup(s.Close)
	return s, &reads
}

func TestServe(t *testing.T) {
	s, reads := served(t, time.Minute)
	tests := []struct {
		name, method, path, host string
		code                     int
		body                     string
	}{
		{"page", "GET", "/", "", 200, `<meta http-equiv="refresh" content="60">`},
		{"head", "HEAD", "/", "", 200, ""},
		{"json", "GET", "/fleet.json", "", 200, `"apiVersion": "slipway/fleet/v1"`},
		{"localhost", "GET", "/", "localhost", 200, "Slipway fleet"},
		{"read-only", "POST", "/", "", 405, "read-only"},
		{"no other path", "GET", "/etc/passwd", "", 404, ""},
		{"a name rebound to loopback", "GET", "/", "attacker.example", 421, "loopback host only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, s.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := s.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || !strings.Contains(string(body), tt.body) {
				t.Errorf("%s %s: %d, want %d with %q:\n%.300s", tt.method, tt.path, resp.StatusCode, tt.code, tt.body, body)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no nosniff")
			}
		})
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("the clusters were read %d times within one refresh, want 1", n)
	}
	var f Fleet
	resp, err := s.Client().Get(s.URL + "/fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil || len(f.Rows) != len(sample().Rows) {
		t.Errorf("/fleet.json: %d rows, %v", len(f.Rows), err)
	}
}

func TestServeReadsAgainAfterRefresh(t *testing.T) {
	s, reads := served(t, 10*time.Millisecond)
	for range 2 {
		resp, err := s.Client().Get(s.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if n := reads.Load(); n != 2 {
		t.Errorf("read %d times over two refreshes, want 2", n)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:7070": true, "localhost:1": true, "[::1]:80": true, "127.1.2.3": true,
		"0.0.0.0:7070": false, ":7070": false, "10.0.0.1:80": false, "attacker.example": false, "localhost.attacker.example:80": false} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestServeWildcardHosts: on an address that is not loopback (the test
// hands Handler a wildcard address, listening on loopback all the same),
// requests for an IP address, localhost, this machine's name or a name
// given are answered; another name (DNS rebinding) is not.
func TestServeWildcardHosts(t *testing.T) {
	read := func(context.Context) Fleet { return sample() }
	s := httptest.NewServer(Handler(read, time.Minute, "0.0.0.0:7070", "fleet.corp.example"))
	t.Cleanup(s.Close)
	me, _ := os.Hostname()
	tests := []struct {
		host string
		code int
	}{
		{"", 200}, // 127.0.0.1:PORT
		{"10.1.2.3:7070", 200},
		{"[::1]:7070", 200},
		{"localhost:7070", 200},
		{me + ":7070", 200},
		{"Fleet.Corp.Example:7070", 200},
		{"fleet.corp.example.", 200},
		{"attacker.example", 421},
		{"fleet.corp.example.attacker.example", 421},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", s.URL+"/fleet.json", nil)
		if tt.host != "" {
			req.Host = tt.host
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("Host %q: %d, want %d", tt.host, resp.StatusCode, tt.code)
		}
	}
}

// TestServeReaderGoneAway: the first reader closes its request while the
// clusters are read; the read goes on, and the next reader gets the fleet,
// not one read under a cancelled request.
func TestServeReaderGoneAway(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var reads atomic.Int64
	read := func(ctx context.Context) Fleet {
		if reads.Add(1) == 1 {
			close(started)
			<-release
		}
		if ctx.Err() != nil {
			return Fleet{}
		}
		return sample()
	}
	s := httptest.NewServer(Handler(read, time.Minute, "127.0.0.1:7070"))
	t.Cleanup(s.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/fleet.json", nil)
		if resp, err := s.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	cancel()
	<-done
	close(release)
	resp, err := s.Client().Get(s.URL + "/fleet.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var f Fleet
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil {
		t.Fatal(err)
	}
	if len(f.Rows) == 0 || reads.Load() != 1 {
		t.Errorf("the next reader got %d rows after %d reads; want the fleet, read once", len(f.Rows), reads.Load())
	}
}
