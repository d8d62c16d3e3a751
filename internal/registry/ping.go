package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// pings remembers, for the life of a Client and its copies, how a registry
// answered the version check (GET /v2/ without credentials) that
// go-containerregistry sends before anything else whenever it sets up
// credentials for a repository: a command that reads and writes several
// repositories, or through several clients (a promotion's manifests, blob
// reader and blob writer), then asks once. For an insecure registry it
// also remembers that HTTPS failed where plain HTTP answered, so the next
// check goes straight to HTTP instead of trying TLS first each time.
//
// Only answers the check can use are kept (200, or 401 with its
// challenge); a check that failed, or was cancelled, is asked again.
type pings struct {
	answers shared[pingAnswer] // by scheme://host
	mu      sync.Mutex
	noTLS   map[string]bool // host -> HTTPS failed (not cancelled)
}

// pingAnswer is a remembered answer.
type pingAnswer struct {
	status int
	header http.Header
	// scheme is the one that answered: a plain-HTTP check to a registry
	// that is not insecure goes over HTTPS (see hostRouter), and
	// go-containerregistry reads the scheme of the answer's request to
	// decide whether the registry is insecure (and may then send
	// credentials to a plain-HTTP token realm).
	scheme string
}

// maxPingBody bounds what is read of a version check's body, which is
// dropped (go-containerregistry only reads the status and headers).
const maxPingBody = 64 << 10

// errPlainHTTP is the remembered failure of HTTPS to a registry that
// answered plain HTTP.
var errPlainHTTP = errors.New("the registry answered only plain HTTP earlier in this run")

// isPing reports whether r is the version check.
func isPing(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Path == "/v2/" && r.URL.RawQuery == "" && r.Header.Get("Authorization") == ""
}

// pingMemo answers version checks from p, and sends everything else (and
// the first check of each scheme and host) to next.
type pingMemo struct {
	next http.RoundTripper
	p    *pings
	t    *tokens // told the realm of a Bearer challenge; may be nil
}

func (m *pingMemo) RoundTrip(r *http.Request) (*http.Response, error) {
	if m.p == nil || !isPing(r) {
		return m.next.RoundTrip(r)
	}
	if r.URL.Scheme == "https" && m.p.plainHTTP(r.URL.Host) {
		return nil, fmt.Errorf("pinging https://%s: %w", r.URL.Host, errPlainHTTP)
	}
	key := r.URL.Scheme + "://" + r.URL.Host
	a, lead, err := m.p.answers.get(r.Context(), key, time.Now)
	if err != nil {
		return nil, err
	}
	if !lead {
		return remembered(withScheme(r, a.v.scheme), a.v.status, a.v.header, nil), nil
	}
	resp, err := m.next.RoundTrip(r)
	keep := err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized)
	if err != nil && r.URL.Scheme == "https" && r.Context().Err() == nil && !errors.Is(err, context.Canceled) {
		m.p.mu.Lock()
		if m.p.noTLS == nil {
			m.p.noTLS = map[string]bool{}
		}
		m.p.noTLS[r.URL.Host] = true
		m.p.mu.Unlock()
	}
	if !keep {
		m.p.answers.fail(key, a, r.Context(), err)
		return resp, err
	}
	v := pingAnswer{status: resp.StatusCode, header: pingHeader(resp.Header), scheme: r.URL.Scheme}
	if resp.Request != nil && resp.Request.URL != nil {
		v.scheme = resp.Request.URL.Scheme
	}
	m.t.noteChallenge(v.header)
	m.p.answers.settle(a, v, time.Time{})
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPingBody))
	resp.Body.Close()
	return remembered(withScheme(r, v.scheme), v.status, v.header, nil), nil
}

// withScheme is r, or a copy of it sent with scheme instead.
func withScheme(r *http.Request, scheme string) *http.Request {
	if scheme == "" || r.URL.Scheme == scheme {
		return r
	}
	r = r.Clone(r.Context())
	r.URL.Scheme = scheme
	return r
}

// plainHTTP reports whether HTTPS to host failed where plain HTTP then
// answered.
func (p *pings) plainHTTP(host string) bool {
	p.mu.Lock()
	failed := p.noTLS[host]
	p.mu.Unlock()
	a, ok := p.answers.value("http://" + host)
	return failed && ok && a.scheme == "http"
}

// pingHeader is what of a version check's headers is kept: the challenge
// and the API version, all go-containerregistry reads.
func pingHeader(h http.Header) http.Header {
	kept := http.Header{}
	for _, k := range []string{"WWW-Authenticate", "Docker-Distribution-Api-Version"} {
		for _, v := range h.Values(k) {
			kept.Add(k, v)
		}
	}
	return kept
}

// Warm sends the registry's version check ahead of the first request that
// needs it (HTTPS first, then plain HTTP when insecure, as
// go-containerregistry does), so that setting up credentials later finds
// the answer remembered: a command with other work to do first (a
// promotion reads the source) overlaps the round trips with it. It tries
// once, says nothing and leaves whatever fails for that first request to
// meet, retry and report.
func (c *Client) Warm(ctx context.Context) {
	client := &http.Client{Transport: &pingMemo{next: c.base(c.Timeouts(ctx)), p: c.pings, t: c.tokens}, CheckRedirect: CheckRedirect}
	schemes := []string{"https"}
	if c.reg.Insecure {
		schemes = append(schemes, "http")
	}
	for _, s := range schemes {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s+"://"+c.registry.RegistryStr()+"/v2/", nil)
		if err != nil {
			return
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return
		}
	}
}
