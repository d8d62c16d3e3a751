package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestPagesAndMetrics asks for hello's page 10 times with failPercent of
// them failing, then reads what /metrics counted.
func TestPagesAndMetrics(t *testing.T) {
	tests := []struct {
		failPercent int
		want        []string
	}{
		{0, []string{`http_requests_total{handler="/",code="200"} 10`, `http_requests_total{handler="/",code="500"} 0`,
			`http_requests_total{handler="/healthz",code="200"} 1`, `http_request_duration_seconds_count{handler="/"} 10`}},
		{30, []string{`http_requests_total{handler="/",code="200"} 7`, `http_requests_total{handler="/",code="500"} 3`,
			`http_request_duration_seconds_bucket{handler="/",le="+Inf"} 10`}},
		{100, []string{`http_requests_total{handler="/",code="200"} 0`, `http_requests_total{handler="/",code="500"} 10`}},
	}
	for _, tt := range tests {
		var draining atomic.Bool
		srv := httptest.NewServer(newMux(&draining, tt.failPercent))
		codes := map[int]int{}
		for i := 0; i < 10; i++ {
			codes[get(t, srv.URL+"/").StatusCode]++
		}
		get(t, srv.URL+"/healthz")
		resp := get(t, srv.URL+"/metrics")
		body, _ := io.ReadAll(resp.Body)
		srv.Close()
		if codes[500] != tt.failPercent/10 {
			t.Errorf("failPercent %d: answers %v", tt.failPercent, codes)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Content-Type %q", ct)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(body), w+"\n") {
				t.Errorf("failPercent %d: /metrics has no %q:\n%s", tt.failPercent, w, body)
			}
		}
	}
}

func get(t *testing.T, url string) *http.Response {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
