package registry

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/progress"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"Wed, 01 Jan 2025 12:00:10 GMT", 10 * time.Second, true},
		{"Wed, 01 Jan 2025 11:00:00 GMT", 0, true},
		// Seconds that would overflow a time.Duration into a negative
		// wait are capped first.
		{"9223372036854775807", maxRetryAfter, true},
		{"99999999999999999999999999", maxRetryAfter, true},
		{"86401", maxRetryAfter, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", maxRetryAfter, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		answers    []string // status[:retry-after] per call
		body       bool     // send a rewindable body
		noGetBody  bool
		wantStatus int
		wantCalls  int
		wantWaited time.Duration
		declined   int // warnings that a Retry-After was too long
	}{
		{"429 then ok", []string{"429:2", "200"}, false, false, 200, 2, 2 * time.Second, 0},
		{"503 twice then ok with body", []string{"503:1", "503:1", "201"}, true, false, 201, 3, 2 * time.Second, 0},
		{"429 without header is left to backoff", []string{"429"}, false, false, 429, 1, 0, 0},
		{"too long a wait is not waited", []string{"429:31"}, false, false, 429, 1, 0, 1},
		{"a day is not waited", []string{"429:86400"}, false, false, 429, 1, 0, 1},
		{"an overflowing wait is not waited", []string{"429:9223372036854775807", "200"}, false, false, 429, 1, 0, 1},
		{"total wait is bounded", []string{"429:20", "429:20", "200"}, false, false, 429, 2, 20 * time.Second, 1},
		{"tries are bounded", []string{"429:0", "429:0", "429:0", "429:0", "429:0", "200"}, false, false, 429, 5, 0, 0},
		{"body that cannot be rewound", []string{"429:1", "200"}, true, true, 429, 1, 0, 0},
		{"500 is not retried here", []string{"500:1", "200"}, false, false, 500, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			var bodies []string
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				bodies = append(bodies, string(b))
				status, after, _ := strings.Cut(tt.answers[calls], ":")
				calls++
				if after != "" {
					w.Header().Set("Retry-After", after)
				}
				code := map[string]int{"200": 200, "201": 201, "429": 429, "500": 500, "503": 503}[status]
				w.WriteHeader(code)
			}))
			defer s.Close()
			var waited time.Duration
			var warnings int
			rt := &retryAfter{
				next: http.DefaultTransport, tries: retryAfterTries, maxWait: retryAfterMaxWait,
				progress: progress.Func(func(e progress.Event) {
					if e.Kind == progress.Warn {
						warnings++
					}
				}),
				sleep: func(_ context.Context, d time.Duration) error { waited += d; return nil },
				now:   time.Now,
			}
			var req *http.Request
			if tt.body {
				req, _ = http.NewRequest(http.MethodPut, s.URL, bytes.NewReader([]byte("payload")))
				if tt.noGetBody {
					req.GetBody = nil
				}
			} else {
				req, _ = http.NewRequest(http.MethodGet, s.URL, nil)
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || calls != tt.wantCalls || waited != tt.wantWaited {
				t.Errorf("status %d calls %d waited %s; want %d %d %s", resp.StatusCode, calls, waited, tt.wantStatus, tt.wantCalls, tt.wantWaited)
			}
			if warnings != calls-1+tt.declined {
				t.Errorf("%d warnings for %d calls", warnings, calls)
			}
			if tt.body {
				for i, b := range bodies {
					if b != "payload" {
						t.Errorf("call %d body %q", i+1, b)
					}
				}
			}
		})
	}
}

func TestHTTPSEnforced(t *testing.T) {
	var gotScheme string
	rt := &hostRouter{host: "reg.example.com", httpsOnly: true,
		own: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			gotScheme = r.URL.Scheme
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
		}),
		other: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			gotScheme = "other:" + r.URL.Scheme
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
		}),
	}
	tests := []struct{ url, want string }{
		{"http://reg.example.com/v2/", "https"},
		{"https://reg.example.com/v2/", "https"},
		{"http://auth.example.com/token", "other:http"},
		// A redirect to the registry's host on 443 spelled out, which
		// go-containerregistry sends the registry's token to.
		{"http://reg.example.com:443/v2/", "https"},
		{"http://REG.example.com:443/v2/", "https"},
		{"http://reg.example.com:8443/v2/", "other:http"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, tt.url, nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if gotScheme != tt.want {
			t.Errorf("%s went as %s, want %s", tt.url, gotScheme, tt.want)
		}
		if req.URL.Scheme != strings.Split(tt.url, ":")[0] {
			t.Errorf("request was modified: %s", req.URL)
		}
	}
}

// FuzzParseRetryAfter checks that whatever a registry sends as
// Retry-After, the wait read is never negative and never above
// maxRetryAfter.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "3", "-1", "9223372036854775807", "99999999999999999999", "Wed, 01 Jan 2025 12:00:10 GMT", "Fri, 31 Dec 9999 23:59:59 GMT", "1e9", " 7 "} {
		f.Add(s)
	}
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if ok && (d < 0 || d > maxRetryAfter) {
			t.Errorf("parseRetryAfter(%q) = %s, want within 0..%s", v, d, maxRetryAfter)
		}
	})
}
