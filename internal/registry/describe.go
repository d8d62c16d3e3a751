package registry

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/slipwayhq/slipway/internal/short"
)

// describeRequest names, for a timeout message, the server a request went
// to and what it was for, from its method and path: "registry",
// "pushing blob sha256:0123456789ab…". It never includes the query, which
// may carry upload state or signed-URL credentials.
func describeRequest(r *http.Request, host string, up *uploads) (server, doing string) {
	p := r.URL.Path
	if !strings.EqualFold(r.URL.Host, host) {
		if isTokenRequest(r) {
			return "token server", "getting a token for " + host
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return "blob storage", "pulling a blob of " + host
		}
		return "blob storage", "pushing a blob to " + host
	}
	last := path.Base(p)
	switch {
	case isTokenRequest(r) && !strings.HasPrefix(p, "/v2/"):
		return "registry", "getting a token"
	case p == "/v2/" || p == "/v2":
		return "registry", "checking its API (/v2/)"
	case strings.Contains(p, "/blobs/uploads"):
		d := r.URL.Query().Get("digest")
		if d == "" {
			d = up.digest(p)
		}
		switch {
		case r.Method == http.MethodPost && r.URL.Query().Get("mount") != "" && r.URL.Query().Get("from") != "":
			return "registry", "mounting blob " + cut(r.URL.Query().Get("mount"))
		case r.Method == http.MethodPost:
			return "registry", "starting an upload" + of(r.URL.Query().Get("mount"))
		case d != "":
			return "registry", "pushing blob " + cut(d)
		default:
			return "registry", "pushing a blob"
		}
	case strings.Contains(p, "/blobs/"):
		if r.Method == http.MethodHead {
			return "registry", "checking for blob " + cut(last)
		}
		return "registry", "pulling blob " + cut(last)
	case strings.Contains(p, "/manifests/"):
		switch r.Method {
		case http.MethodPut:
			return "registry", "pushing manifest " + cut(last)
		case http.MethodDelete:
			return "registry", "deleting manifest " + cut(last)
		case http.MethodHead:
			return "registry", "checking manifest " + cut(last)
		}
		return "registry", "pulling manifest " + cut(last)
	case strings.HasSuffix(p, "/tags/list"):
		return "registry", "listing tags"
	case strings.Contains(p, "/referrers/"):
		return "registry", "listing the referrers of " + cut(last)
	}
	return "registry", r.Method + " " + p
}

// isTokenRequest reports whether r, to another host than the registry's,
// asks a token server for a token rather than blob storage for a blob.
func isTokenRequest(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("scope") || q.Has("service") || strings.Contains(r.URL.Path, "token")
}

func of(digest string) string {
	if digest == "" {
		return ""
	}
	return " of blob " + cut(digest)
}

// cut is short.Digest with … where it left digits out: the names of
// blobs and manifests in timeout and bound messages say that they are cut.
// Other references are returned as they are.
func cut(ref string) string {
	if s := short.Digest(ref); s != ref {
		return s + "…"
	}
	return ref
}

// uploads remembers which blob each upload session of a registry is
// for, from the digest offered for mounting when it starts and the
// Location each answer moves it to, so that a PATCH of blob bytes can be
// named in a timeout. It is bounded and safe for concurrent use.
type uploads struct {
	mu sync.Mutex
	m  map[string]string // upload path -> digest
}

const maxUploads = 1024

func (u *uploads) digest(p string) string {
	if u == nil {
		return ""
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.m[p]
}

func (u *uploads) set(p, digest string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil || len(u.m) >= maxUploads {
		u.m = map[string]string{}
	}
	u.m[p] = digest
}

func (u *uploads) forget(p string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.m, p)
}

// track returns next with its upload sessions recorded in u.
func (u *uploads) track(next http.RoundTripper) http.RoundTripper {
	if u == nil {
		return next
	}
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(r)
		if err != nil || !strings.Contains(r.URL.Path, "/blobs/uploads") {
			return resp, err
		}
		d := r.URL.Query().Get("mount")
		if r.Method != http.MethodPost {
			d = u.digest(r.URL.Path)
			u.forget(r.URL.Path)
		}
		if loc := resp.Header.Get("Location"); d != "" && loc != "" && resp.StatusCode == http.StatusAccepted {
			if lu, err := r.URL.Parse(loc); err == nil {
				u.set(lu.Path, d)
			}
		}
		return resp, nil
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// redactURL returns u without credentials: no user info, and the value of
// every query parameter other than the distribution API's own (digest,
// mount, from, scope, service, n, last) replaced, as upload state and
// signed storage URLs carry tokens there.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that could not be parsed)"
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			switch k {
			case "digest", "mount", "from", "scope", "service", "n", "last":
				continue
			}
			for i := range vs {
				vs[i] = "REDACTED"
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}
