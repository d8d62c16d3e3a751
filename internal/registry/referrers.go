package registry

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
)

// noReferrers remembers, for the life of a Client and its copies, the
// repositories whose registry answered the OCI referrers API with 404 Not
// Found, which by the distribution spec means it lacks the API (a 404
// that says NAME_UNKNOWN, which a registry with the API may answer for a
// repository it does not have yet, is not remembered).
// go-containerregistry asks the API before every listing of referrers and
// after every manifest put with a subject, then falls back to the
// sha256-HEX tag; once a repository's registry said 404, the later asks
// are answered 404 at once, without a round trip.
type noReferrers struct {
	mu    sync.Mutex
	repos map[string]bool // host/repository
}

// referrersMemo answers requests to the referrers API of repositories in
// n with 404, and sends everything else to next, noting which
// repositories' registries answer 404.
type referrersMemo struct {
	next http.RoundTripper
	n    *noReferrers
}

// referrersRepo is the host/repository of a request to the referrers API
// (/v2/REPOSITORY/referrers/ALGORITHM:HEX): a repository may have
// "referrers" among its path's parts (/v2/team/referrers/manifests/v1 is
// not one), but a digest has no slash.
func referrersRepo(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return "", false
	}
	p, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	i := strings.LastIndex(p, "/referrers/")
	if !ok || i <= 0 {
		return "", false
	}
	digest := p[i+len("/referrers/"):]
	alg, hex, isDigest := strings.Cut(digest, ":")
	if !isDigest || alg == "" || hex == "" || strings.Contains(digest, "/") {
		return "", false
	}
	return r.URL.Host + "/" + p[:i], true
}

func (m *referrersMemo) RoundTrip(r *http.Request) (*http.Response, error) {
	key, ok := referrersRepo(r)
	if !ok || m.n == nil {
		return m.next.RoundTrip(r)
	}
	m.n.mu.Lock()
	known := m.n.repos[key]
	m.n.mu.Unlock()
	if known {
		return &http.Response{
			Status: "404 Not Found", StatusCode: http.StatusNotFound,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{}, Body: http.NoBody, Request: r,
		}, nil
	}
	resp, err := m.next.RoundTrip(r)
	if err == nil && resp.StatusCode == http.StatusNotFound && !namesUnknown(resp) {
		m.n.mu.Lock()
		if m.n.repos == nil {
			m.n.repos = map[string]bool{}
		}
		if len(m.n.repos) < maxPeers {
			m.n.repos[key] = true
		}
		m.n.mu.Unlock()
	}
	return resp, err
}

// namesUnknown reports whether the 404 resp says NAME_UNKNOWN, from the
// first KiB of its body, which it leaves readable in full.
func namesUnknown(resp *http.Response) bool {
	head := make([]byte, 1<<10)
	n, _ := io.ReadFull(resp.Body, head)
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head[:n]), resp.Body), resp.Body}
	return bytes.Contains(head[:n], []byte("NAME_UNKNOWN"))
}
