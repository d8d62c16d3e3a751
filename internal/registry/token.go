package registry

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	realms  map[string]bool // scheme://host/path of each realm named
	answers shared[tokenAnswer]
}

// tokenAnswer is a remembered token response.
type tokenAnswer struct {
	body   []byte
	header http.Header
	token  string // the token in body, sent back as "Bearer TOKEN"
}

// forget drops the remembered answers that handed out token, which a
// registry has just refused: go-containerregistry then asks for a new one
// (the same request), which must reach the token server, as the token may
// have been revoked, or granted less than is allowed now (pull on a
// repository that did not exist yet).
func (t *tokens) forget(token string) {
	if t == nil || token == "" {
		return
	}
	t.answers.drop(func(a tokenAnswer) bool { return a.token == token })
}

// noteChallenge records the realm of a Bearer challenge in h.
func (t *tokens) noteChallenge(h http.Header) {
	if t == nil {
		return
	}
	for _, v := range h.Values("WWW-Authenticate") {
		if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "bearer ") {
			continue
		}
		if realm, ok := bearerRealm(v); ok {
			t.mu.Lock()
			if t.realms == nil {
				t.realms = map[string]bool{}
			}
			if len(t.realms) < maxPeers {
				t.realms[realmKey(realm)] = true
			}
			t.mu.Unlock()
		}
	}
}

// bearerRealm is the realm="..." parameter of challenge v, when it is
// there and at most 2 KiB.
func bearerRealm(v string) (string, bool) {
	// Lowered byte for byte (ASCII only), so that an index into it is one
	// into v.
	lower := []byte(v)
	for i, b := range lower {
		if 'A' <= b && b <= 'Z' {
			lower[i] = b + 'a' - 'A'
		}
	}
	for from := 0; ; {
		i := bytes.Index(lower[from:], []byte(`realm="`))
		if i < 0 {
			return "", false
		}
		i += from
		if i > 0 && isWordByte(lower[i-1]) {
			from = i + 1
			continue
		}
		rest := v[i+len(`realm="`):]
		end := strings.IndexByte(rest, '"')
		if end <= 0 || end > 2048 {
			return "", false
		}
		return rest[:end], true
	}
}

func isWordByte(b byte) bool {
	return b == '_' || ('a' <= b && b <= 'z') || ('0' <= b && b <= '9')
}

// realmKey is a URL without its query.
func realmKey(u string) string {
	k, _, _ := strings.Cut(u, "?")
	return k
}

// maxTokenRequest bounds the body of a token request remembered (an OAuth2
// form: a grant, a scope, a refresh token), and maxTokenAnswer the body of
// a token response remembered (go-containerregistry reads no more).
const (
	maxTokenRequest = 64 << 10
	maxTokenAnswer  = 64 << 10
)

// tokenMemo answers repeated token requests from t, and sends everything
// else to next.
type tokenMemo struct {
	next http.RoundTripper
	t    *tokens
	now  func() time.Time
}

func (m *tokenMemo) RoundTrip(r *http.Request) (*http.Response, error) {
	key, r, err := m.key(r)
	if err != nil {
		return nil, err
	}
	if key == "" {
		resp, err := m.next.RoundTrip(r)
		if err == nil && resp.StatusCode == http.StatusUnauthorized {
			if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				m.t.forget(tok)
			}
		}
		return resp, err
	}
	a, lead, err := m.t.answers.get(r.Context(), key, m.now)
	if err != nil {
		return nil, err
	}
	if !lead {
		return remembered(r, http.StatusOK, a.v.header, a.v.body), nil
	}
	return m.ask(r, key, a)
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
		orig := r.Body
		body, err := io.ReadAll(io.LimitReader(orig, maxTokenRequest+1))
		if err != nil {
			orig.Close()
			return "", r, err
		}
		r = r.Clone(r.Context())
		if len(body) > maxTokenRequest {
			// Not remembered: sent as it came, what was read first.
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(body), orig), orig}
			return "", r, nil
		}
		orig.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.Write(body)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), r, nil
}

// ask sends r and fills a from its answer: a 200 whose body, within
// MaxDocumentSize, is JSON with a token, kept for half its lifetime (60s
// when it does not say, as the token spec has it).
func (m *tokenMemo) ask(r *http.Request, key string, a *answer[tokenAnswer]) (*http.Response, error) {
	resp, err := m.next.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		m.t.answers.fail(key, a, r.Context(), err)
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	resp.Body.Close()
	if err != nil {
		m.t.answers.fail(key, a, r.Context(), err)
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if len(body) > maxTokenAnswer || json.Unmarshal(body, &tok) != nil || (tok.Token == "" && tok.AccessToken == "") {
		m.t.answers.fail(key, a, r.Context(), nil)
		return resp, nil
	}
	life := 60 * time.Second
	if tok.ExpiresIn > 0 && tok.ExpiresIn < 24*3600 {
		life = time.Duration(tok.ExpiresIn) * time.Second
	}
	// go-containerregistry sends the access token, or else the token.
	v := tokenAnswer{body: body, header: resp.Header.Clone(), token: cmp.Or(tok.AccessToken, tok.Token)}
	m.t.answers.settle(a, v, m.now().Add(life/2))
	return resp, nil
}
