package registry

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestReferrersMemo: once a repository's registry answered the referrers
// API 404, later asks for that repository are answered 404 without a
// request; other repositories, other answers and a 404 saying
// NAME_UNKNOWN are asked each time.
func TestReferrersMemo(t *testing.T) {
	var calls atomic.Int32
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		status, body := http.StatusNotFound, "404 page not found\n"
		switch {
		case strings.Contains(r.URL.Path, "/api/"):
			status, body = http.StatusOK, `{"schemaVersion":2,"manifests":[]}`
		case strings.Contains(r.URL.Path, "/new/"):
			body = `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`
		}
		return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})
	m := &referrersMemo{next: next, n: &noReferrers{}}
	ask := func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://reg.test"+path, nil)
		resp, err := m.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	d1, d2 := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	tests := []struct {
		path      string
		status    int
		body      string // "" for any
		wantCalls int32
	}{
		{"/v2/team/hello/referrers/" + d1, 404, "404 page not found\n", 1},
		{"/v2/team/hello/referrers/" + d2, 404, "", 1}, // remembered
		{"/v2/team/hello/manifests/" + d1, 404, "", 2}, // not the API
		{"/v2/team/other/referrers/" + d1, 404, "", 3}, // another repository
		{"/v2/team/other/referrers/" + d2, 404, "", 3},
		{"/v2/team/api/referrers/" + d1, 200, "", 4},
		{"/v2/team/api/referrers/" + d2, 200, "", 5},
		{"/v2/team/new/referrers/" + d1, 404, `{"errors":[{"code":"NAME_UNKNOWN"`, 6},
		{"/v2/team/new/referrers/" + d2, 404, "", 7},
		// An app named referrers: its manifests, blobs and tags are not
		// the API, and a 404 for one (a tag not pushed yet) is not
		// taken for the registry's lack of it.
		{"/v2/team/referrers/manifests/v1", 404, "", 8},
		{"/v2/team/referrers/manifests/v1", 404, "", 9},
		{"/v2/team/referrers/blobs/" + d1, 404, "", 10},
		{"/v2/team/referrers/tags/list", 404, "", 11},
		{"/v2/team/referrers/referrers/" + d1, 404, "", 12},
		{"/v2/team/referrers/referrers/" + d2, 404, "", 12},
		{"/v2/team/referrers/manifests/v1", 404, "", 13},
	}
	for _, tt := range tests {
		status, body := ask(tt.path)
		if status != tt.status || !strings.HasPrefix(body, tt.body) || calls.Load() != tt.wantCalls {
			t.Errorf("%s: %d %q after %d requests; want %d %q after %d", tt.path, status, body, calls.Load(), tt.status, tt.body, tt.wantCalls)
		}
	}
}
