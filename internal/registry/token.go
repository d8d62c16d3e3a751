package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// tokens remembers, for the life of a Client and its copies, the tokens a
// registry's token server handed out: every transport go-containerregistry
// sets up for a repository asks for its own, though a command's transports
// ask for the same few scopes with the same credentials (a promotion's
// manifests, blob reader and writer, and record). A request for a token
// that is the same as one answered before (method, URL with its scopes,
// credentials, body) is answered with the same token while it has more
// than half its lifetime left; concurrent ones wait for the first.
//
// Only the realms the registry named in its challenge (see pings) are
// token requests, and only answers that are JSON with a token are kept.
type tokens struct {
	mu      sync.Mutex
	realms  map[string]bool         // scheme://host/path of each realm named
	answers map[string]*tokenAnswer // request key -> answer, or one in flight
}

// tokenAnswer is a remembered token response; done is closed once it is
// known whether it is one (ok).
type tokenAnswer struct {
	done   chan struct{}
	ok     bool
	body   []byte
	header http.Header
	until  time.Time
}

// realmRE finds a Bearer challenge's realm.
var realmRE = regexp.MustCompile(`(?i)\brealm="([^"]+)"`)

// noteChallenge records the realm of a Bearer challenge in h.
func (t *tokens) noteChallenge(h http.Header) {
	if t == nil {
		return
	}
	for _, v := range h.Values("WWW-Authenticate") {
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "bearer ") {
			continue
		}
		if m := realmRE.FindStringSubmatch(v); m != nil && len(m[1]) <= 2048 {
			t.mu.Lock()
			if t.realms == nil {
				t.realms = map[string]bool{}
			}
			if len(t.realms) < maxPeers {
				t.realms[realmKey(m[1])] = true
			}
			t.mu.Unlock()
		}
	}
}

// realmKey is a URL without its query.
func realmKey(u string) string {
	k, _, _ := strings.Cut(u, "?")
	return k
}

// maxTokenRequest bounds the body of a token request remembered (an OAuth2
// form: a grant, a scope, a refresh token).
const maxTokenRequest = 64 << 10

// tokenMemo answers repeated token requests from t, and sends everything
// else to next.
type tokenMemo struct {
	next http.RoundTripper
	t    *tokens
	now  func() time.Time
}

func (m *tokenMemo) RoundTrip(r *http.Request) (*http.Response, error) {
	key, r, err := m.key(r)
	if err != nil || key == "" {
		if err != nil {
			return nil, err
		}
		return m.next.RoundTrip(r)
	}
	for {
		a, lead := m.lookup(key)
		if lead {
			return m.ask(r, key, a)
		}
		select {
		case <-a.done:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
		if a.ok {
			return a.response(r), nil
		}
	}
}

// key is what identifies r among token requests ("" when it is not one),
// and r with its body, when it has one, readable again.
func (m *tokenMemo) key(r *http.Request) (string, *http.Request, error) {
	if m.t == nil || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
		return "", r, nil
	}
	u := *r.URL
	u.RawQuery = ""
	m.t.mu.Lock()
	realm := m.t.realms[u.String()]
	m.t.mu.Unlock()
	if !realm {
		return "", r, nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n%s\n", r.Method, r.URL.String(), r.Header.Get("Authorization"))
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxTokenRequest+1))
		r.Body.Close()
		if err != nil {
			return "", r, err
		}
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		if len(body) > maxTokenRequest {
			return "", r, nil // not remembered, sent as it came
		}
		h.Write(body)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), r, nil
}

// lookup returns the answer for key while it lasts, or a new one for the
// caller to fill (lead).
func (m *tokenMemo) lookup(key string) (a *tokenAnswer, lead bool) {
	m.t.mu.Lock()
	defer m.t.mu.Unlock()
	if a, ok := m.t.answers[key]; ok {
		select {
		case <-a.done:
			if a.ok && m.now().Before(a.until) {
				return a, false
			}
		default:
			return a, false // in flight
		}
	}
	if m.t.answers == nil {
		m.t.answers = map[string]*tokenAnswer{}
	}
	a = &tokenAnswer{done: make(chan struct{})}
	if len(m.t.answers) < maxPeers {
		m.t.answers[key] = a
	}
	return a, true
}

// ask sends r and fills a from its answer: a 200 whose body, within
// MaxDocumentSize, is JSON with a token, kept for half its lifetime (60s
// when it does not say, as the token spec has it).
func (m *tokenMemo) ask(r *http.Request, key string, a *tokenAnswer) (*http.Response, error) {
	defer close(a.done)
	resp, err := m.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		m.forget(key, a)
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	resp.Body.Close()
	if err != nil {
		m.forget(key, a)
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if len(body) > MaxDocumentSize || json.Unmarshal(body, &tok) != nil || (tok.Token == "" && tok.AccessToken == "") {
		m.forget(key, a)
		return resp, nil
	}
	life := 60 * time.Second
	if tok.ExpiresIn > 0 && tok.ExpiresIn < 24*3600 {
		life = time.Duration(tok.ExpiresIn) * time.Second
	}
	m.t.mu.Lock()
	a.ok, a.body, a.header, a.until = true, body, resp.Header.Clone(), m.now().Add(life/2)
	m.t.mu.Unlock()
	return resp, nil
}

// forget drops a, which holds no token, so that the next request asks.
func (m *tokenMemo) forget(key string, a *tokenAnswer) {
	m.t.mu.Lock()
	defer m.t.mu.Unlock()
	if m.t.answers[key] == a {
		delete(m.t.answers, key)
	}
}

// response is a's answer to r.
func (a *tokenAnswer) response(r *http.Request) *http.Response {
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: a.header.Clone(), Body: io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: int64(len(a.body)), Request: r,
	}
}
