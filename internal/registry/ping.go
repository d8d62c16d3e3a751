package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
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
	mu      sync.Mutex
	answers map[string]*pingAnswer // scheme://host -> answer, or one in flight
	noTLS   map[string]bool        // host -> HTTPS failed (not cancelled)
}

// pingAnswer is a remembered answer; done is closed once it is known
// whether it is one (ok).
type pingAnswer struct {
	done   chan struct{}
	ok     bool
	status int
	header http.Header
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
	for {
		a, lead, err := m.p.lookup(r)
		if err != nil {
			return nil, err
		}
		if lead {
			return m.ask(r, a)
		}
		select {
		case <-a.done:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
		if a.ok {
			return a.response(r), nil
		}
		// The one asked first failed: ask again, from the start.
	}
}

// lookup returns the answer for r's scheme and host, or, when none is known
// or in flight, a new one that r is to fill (lead). HTTPS to a host that
// answered plain HTTP after HTTPS failed is errPlainHTTP at once.
func (p *pings) lookup(r *http.Request) (a *pingAnswer, lead bool, err error) {
	key := r.URL.Scheme + "://" + r.URL.Host
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.URL.Scheme == "https" && p.noTLS[r.URL.Host] {
		if h, ok := p.answers["http://"+r.URL.Host]; ok && h.ok {
			return nil, false, fmt.Errorf("pinging %s: %w", key, errPlainHTTP)
		}
	}
	if a, ok := p.answers[key]; ok {
		return a, false, nil
	}
	if p.answers == nil {
		p.answers, p.noTLS = map[string]*pingAnswer{}, map[string]bool{}
	}
	if len(p.answers) >= maxPeers {
		return &pingAnswer{done: make(chan struct{})}, true, nil // not remembered
	}
	a = &pingAnswer{done: make(chan struct{})}
	p.answers[key] = a
	return a, true, nil
}

// ask sends the version check r and fills a from its answer.
func (m *pingMemo) ask(r *http.Request, a *pingAnswer) (*http.Response, error) {
	resp, err := m.next.RoundTrip(r)
	keep := err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized)
	m.p.mu.Lock()
	key := r.URL.Scheme + "://" + r.URL.Host
	if keep {
		a.ok, a.status, a.header = true, resp.StatusCode, pingHeader(resp.Header)
		m.t.noteChallenge(a.header)
	} else if m.p.answers[key] == a {
		delete(m.p.answers, key)
	}
	if err != nil && r.URL.Scheme == "https" && r.Context().Err() == nil && !errors.Is(err, context.Canceled) {
		m.p.noTLS[r.URL.Host] = true
	}
	m.p.mu.Unlock()
	close(a.done)
	if !keep {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxPingBody))
	resp.Body.Close()
	return a.response(r), nil
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

// response is a's answer to r, with no body.
func (a *pingAnswer) response(r *http.Request) *http.Response {
	return &http.Response{
		Status:     fmt.Sprintf("%d %s", a.status, http.StatusText(a.status)),
		StatusCode: a.status,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  a.header.Clone(),
		Body:    http.NoBody,
		Request: r,
	}
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
