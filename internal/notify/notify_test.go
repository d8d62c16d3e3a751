package notify

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// received is one request a receiver got.
type received struct {
	method, path string
	header       http.Header
	body         []byte
}

// receiver is a server on 127.0.0.1 that records what it gets and
// answers with answer.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
}

func newReceiver(t *testing.T, answer http.HandlerFunc) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Method, req.URL.EscapedPath(), req.Header.Clone(), body})
		r.mu.Unlock()
		answer(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) }

func sampleEvent(event string) Event {
	return Event{
		Schema: Schema, Event: event, App: "hello", Environment: "prod", Namespace: "hello",
		Version: "1.4.0", Digest: "sha256:" + strings.Repeat("ab", 32),
		Image:  "127.0.0.1:5000/team/hello@sha256:" + strings.Repeat("ab", 32),
		Reason: "CrashLoopBackOff", Message: "pod hello-7d9 container app: <script>alert(1)</script> <!channel> & more",
		SourceCommit: strings.Repeat("c", 40), Who: "alice", Why: "fix the header", Mode: "direct",
		RolledBackTo: 3, Run: "https://ci.example.com/run/1", Time: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), Seconds: 12.5,
	}
}

// schema compiles docs/notify.schema.json.
func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	s, err := jsonschema.NewCompiler().Compile(filepath.Join("..", "..", "docs", "notify.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWebhookPayloadAndSignature: every event's body validates against
// the documented schema, names only fields the schema describes, and
// carries an HMAC the receiver can verify with the shared secret.
func TestWebhookPayloadAndSignature(t *testing.T) {
	s := schema(t)
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "notify.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	secret := []byte("s3cret-hmac-key")
	rec := newReceiver(t, ok)
	for _, event := range []string{Succeeded, Failed, RolledBack, Waiting, Superseded} {
		res := Send(context.Background(), []Target{Webhook{Label: "hook", URL: rec.URL + "/in", Secret: secret}}, sampleEvent(event), Options{})
		if res[0].Err != nil || res[0].Attempts != 1 || res[0].Status != 201 {
			t.Fatalf("%s: %+v %v", event, res[0], res[0].Err)
		}
	}
	got := rec.requests()
	if len(got) != 5 {
		t.Fatalf("received %d requests, want 5", len(got))
	}
	for _, r := range got {
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("the body does not match docs/notify.schema.json: %v\n%s", err, r.body)
		}
		for k := range v.(map[string]any) {
			if _, ok := doc.Properties[k]; !ok {
				t.Errorf("field %q is not described in docs/notify.schema.json", k)
			}
		}
		if want := Sign(secret, r.body); !hmac.Equal([]byte(r.header.Get(SignatureHeader)), []byte(want)) {
			t.Errorf("signature %q, want %q", r.header.Get(SignatureHeader), want)
		}
		if r.header.Get(EventHeader) != v.(map[string]any)["event"] || len(r.header.Get(DeliveryHeader)) != 32 {
			t.Errorf("headers %v", r.header)
		}
		if r.header.Get("Content-Type") != "application/json" || r.method != http.MethodPost || r.path != "/in" {
			t.Errorf("request %s %s %v", r.method, r.path, r.header)
		}
	}
}

// TestSign pins the signature to HMAC-SHA256 (RFC 4231 test case 2).
func TestSign(t *testing.T) {
	got := Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// TestCommitStatusShapes: GitHub and GitLab get their documented request
// shapes (testdata/*-status.schema.json, from their REST references), at
// their documented paths, with the token in their header, for each event.
func TestCommitStatusShapes(t *testing.T) {
	commit := strings.Repeat("c", 40)
	tests := []struct {
		name   string
		target func(api string) Target
		schema string
		path   string
		auth   [2]string
		state  map[string]string
		key    string
	}{
		{"github", func(api string) Target {
			return GitHub{Label: "github", API: api + "/", Repository: "acme/hello", Token: "ghp_token123"}
		}, "github-status.schema.json", "/repos/acme/hello/statuses/" + commit, [2]string{"Authorization", "Bearer ghp_token123"},
			map[string]string{Succeeded: "success", Failed: "failure", RolledBack: "failure", Waiting: "pending", Superseded: "error"}, "context"},
		{"gitlab", func(api string) Target {
			return GitLab{Label: "gitlab", API: api + "/api/v4", Project: "group/sub/hello", Token: "glpat-token123"}
		}, "gitlab-status.schema.json", "/api/v4/projects/group%2Fsub%2Fhello/statuses/" + commit, [2]string{"Private-Token", "glpat-token123"},
			map[string]string{Succeeded: "success", Failed: "failed", RolledBack: "failed", Waiting: "pending", Superseded: "canceled"}, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := jsonschema.NewCompiler().Compile(filepath.Join("testdata", tt.schema))
			if err != nil {
				t.Fatal(err)
			}
			rec := newReceiver(t, ok)
			for event, state := range tt.state {
				ev := sampleEvent(event)
				ev.Message = strings.Repeat("long ", 100)
				res := Send(context.Background(), []Target{tt.target(rec.URL)}, ev, Options{})
				if res[0].Err != nil {
					t.Fatalf("%s: %v", event, res[0].Err)
				}
				r := rec.requests()[len(rec.requests())-1]
				if r.path != tt.path || r.header.Get(tt.auth[0]) != tt.auth[1] {
					t.Errorf("%s: %s %v", event, r.path, r.header)
				}
				var v map[string]any
				if err := json.Unmarshal(r.body, &v); err != nil {
					t.Fatal(err)
				}
				if err := s.Validate(any(v)); err != nil {
					t.Errorf("%s: %v\n%s", event, err, r.body)
				}
				if v["state"] != state || v[tt.key] != "slipway/prod" || v["target_url"] != ev.Run {
					t.Errorf("%s: %s", event, r.body)
				}
			}
		})
	}
}

// TestNoCommitNoStatus: a deploy without a source commit sets no status,
// and says why, without a request.
func TestNoCommitNoStatus(t *testing.T) {
	rec := newReceiver(t, ok)
	ev := sampleEvent(Succeeded)
	ev.SourceCommit = ""
	res := Send(context.Background(), []Target{GitHub{Label: "github", API: rec.URL, Repository: "a/b", Token: "t"}}, ev, Options{})
	if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), "no source commit") || len(rec.requests()) != 0 {
		t.Errorf("%+v, %d requests", res[0], len(rec.requests()))
	}
}

// TestSlackText: remote text is escaped as Slack's mrkdwn asks, so that a
// reason cannot mention a channel or hide a link.
func TestSlackText(t *testing.T) {
	rec := newReceiver(t, ok)
	res := Send(context.Background(), []Target{Slack{Label: "slack", URL: rec.URL + "/services/T0/B0/XYZ"}}, sampleEvent(RolledBack), Options{})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	var msg map[string]string
	if err := json.Unmarshal(rec.requests()[0].body, &msg); err != nil {
		t.Fatal(err)
	}
	text := msg["text"]
	for _, bad := range []string{"<script>", "<!channel>", " & "} {
		if strings.Contains(text, bad) {
			t.Errorf("text holds %q unescaped:\n%s", bad, text)
		}
	}
	for _, want := range []string{":leftwards_arrow_with_hook: *hello 1.4.0 to prod: failed and rolled back (CrashLoopBackOff)*", "&lt;!channel&gt;", "by alice: fix the header"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

// TestBoundedDelivery: receivers that hang, answer 500, or are down cost
// at most the budget together, are tried again as far as the budget
// allows, and their warnings hold neither the URL's secret path nor the
// token; a 4xx is final; a working receiver beside them is told once.
func TestBoundedDelivery(t *testing.T) {
	release := make(chan struct{})
	hang := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	fail := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "oops\x1b[31m red", http.StatusInternalServerError)
	})
	refuse := newReceiver(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
	})
	good := newReceiver(t, ok)
	down := downURL(t)
	targets := []Target{
		Slack{Label: "hang", URL: hang.URL + "/services/SECRETPATH"},
		Webhook{Label: "fail", URL: fail.URL + "/hook?token=SECRETQUERY", Secret: []byte("k")},
		GitHub{Label: "refuse", API: refuse.URL, Repository: "a/b", Token: "SECRETTOKEN"},
		Slack{Label: "down", URL: down + "/services/SECRETDOWN"},
		Webhook{Label: "good", URL: good.URL},
	}
	o := Options{Budget: 1500 * time.Millisecond, Attempt: 400 * time.Millisecond, Backoff: func(int) time.Duration { return 50 * time.Millisecond }}
	start := time.Now()
	res := Send(context.Background(), targets, sampleEvent(Failed), o)
	if took := time.Since(start); took > o.Budget+time.Second {
		t.Errorf("Send took %s, budget %s", took, o.Budget)
	}
	byName := map[string]Result{}
	for _, r := range res {
		byName[r.Target] = r
		if r.Err == nil {
			continue
		}
		for _, secret := range []string{"SECRETPATH", "SECRETQUERY", "SECRETTOKEN", "SECRETDOWN", "\x1b"} {
			if strings.Contains(r.Err.Error(), secret) {
				t.Errorf("%s: warning holds %q: %v", r.Target, secret, r.Err)
			}
		}
	}
	if r := byName["good"]; r.Err != nil || r.Attempts != 1 || len(good.requests()) != 1 {
		t.Errorf("good: %+v %v", r, r.Err)
	}
	if r := byName["fail"]; r.Err == nil || r.Attempts != DefaultAttempts || r.Status != 500 || !strings.Contains(r.Err.Error(), "500") {
		t.Errorf("fail: %+v %v", r, r.Err)
	}
	if r := byName["refuse"]; r.Err == nil || r.Attempts != 1 || !strings.Contains(r.Err.Error(), "Bad credentials") {
		t.Errorf("refuse: %+v %v", r, r.Err)
	}
	for _, name := range []string{"hang", "down"} {
		if r := byName[name]; r.Err == nil || r.Attempts < 2 {
			t.Errorf("%s: %+v %v", name, r, r.Err)
		}
	}
}

// TestNoRedirect: a target's redirect is not followed, so its token
// header goes nowhere else.
func TestNoRedirect(t *testing.T) {
	other := newReceiver(t, ok)
	redirect := newReceiver(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/stolen", http.StatusTemporaryRedirect)
	})
	res := Send(context.Background(), []Target{GitLab{Label: "gitlab", API: redirect.URL, Project: "1", Token: "glpat-x"}}, sampleEvent(Succeeded), Options{})
	if res[0].Err == nil || len(other.requests()) != 0 {
		t.Errorf("%+v; the redirect's target got %d requests", res[0], len(other.requests()))
	}
}

// downURL is the URL of a port on 127.0.0.1 where nothing listens.
func downURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestTitle names the app, version, environment, event and reason.
func TestTitle(t *testing.T) {
	ev := sampleEvent(Succeeded)
	if got := ev.Title(); got != "hello 1.4.0 to prod: succeeded" {
		t.Error(got)
	}
	ev.Event = Waiting
	ev.Reason = "Gate"
	if got := ev.Title(); got != "hello 1.4.0 to prod: waiting at a gate (Gate)" {
		t.Error(got)
	}
}

// TestEchoedURLSecretsRedacted: a receiver whose reply echoes the request
// (Express's default 404 is "Cannot POST /path") shows neither the
// secret path of a Slack URL nor a webhook's token in the query.
func TestEchoedURLSecretsRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, "Cannot POST %s (path %s, query %s)", r.URL.RequestURI(), r.URL.Path, r.URL.RawQuery)
	}))
	defer srv.Close()
	targets := []Target{
		Slack{Label: "slack", URL: srv.URL + "/services/T000/B000/XXXXSECRETXXXX"},
		Webhook{Label: "hook", URL: srv.URL + "/hook?token=SECRETQUERYTOKEN&team=a"},
	}
	for _, res := range Send(context.Background(), targets, Event{Event: Failed, App: "a", Environment: "prod"}, Options{}) {
		if res.Err == nil {
			t.Fatalf("%s: no warning for a 404", res.Target)
		}
		if msg := res.Err.Error(); strings.Contains(msg, "SECRET") || !strings.Contains(msg, "404") {
			t.Errorf("%s: %s; want the 404 told without the URL's secret", res.Target, msg)
		}
	}
}
