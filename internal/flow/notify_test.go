package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/notify"
	"github.com/slipwayhq/slipway/internal/progress"
)

// hook records the verdicts a webhook target is told.
type hook struct {
	mu     sync.Mutex
	events []notify.Event
	sigs   []bool
}

func newHook(t *testing.T, secret string, status int) (*hook, string) {
	h := &hook{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev notify.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("body: %v", err)
		}
		h.mu.Lock()
		h.events = append(h.events, ev)
		h.sigs = append(h.sigs, r.Header.Get(notify.SignatureHeader) == notify.Sign([]byte(secret), body))
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func (h *hook) told() []notify.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.Event(nil), h.events...)
}

// TestDeployNotifies: each deploy's verdict reaches the targets that want
// it, signed, with what happened; a deploy that changed nothing tells no
// one; a target that fails is a warning, and the verdict stands.
func TestDeployNotifies(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	t.Setenv("HOOK_SECRET", "hmac-secret-value")
	all, allURL := newHook(t, "hmac-secret-value", http.StatusOK)
	failures, failURL := newHook(t, "", http.StatusOK)
	broken, brokenURL := newHook(t, "", http.StatusInternalServerError)
	f.p.Notify = []config.Notify{
		{Name: "all", Webhook: &config.WebhookNotify{URL: allURL, Secret: "env://HOOK_SECRET"}},
		{Name: "failures", Webhook: &config.WebhookNotify{URL: failURL}, Events: []string{"failed", "rolledBack"}, Environments: []string{"dev"}},
		{Name: "broken", Webhook: &config.WebhookNotify{URL: brokenURL}, Environments: []string{"prod"}},
	}
	f.push("dev", "1.2.3")
	r := f.runner()
	o := DeployOptions{Options: f.options(), Reason: "first"}
	if _, err := r.Deploy(ctx, "dev", o); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Deploy(ctx, "dev", o); err != nil { // up to date: no one is told
		t.Fatal(err)
	}
	f.kube.crashImage(f.image("dev", f.push("dev", "1.2.4")))
	if _, err := r.Deploy(ctx, "dev", DeployOptions{Options: f.options(), Version: "1.2.4"}); !errors.Is(err, deploy.ErrFailed) {
		t.Fatalf("err = %v, want a failed rollout", err)
	}
	f.push("rc", "1.2.3")
	if _, err := r.Deploy(ctx, "prod", DeployOptions{Options: f.options()}); !errors.Is(err, ErrGate) {
		t.Fatalf("err = %v, want the gate's refusal", err)
	}

	got := all.told()
	want := []struct{ event, env, version, reason string }{
		{notify.Succeeded, "dev", "1.2.3", ""},
		{notify.RolledBack, "dev", "1.2.4", "CrashLoopBackOff"},
		{notify.Waiting, "prod", "1.2.3", "Gate"},
	}
	if len(got) != len(want) {
		t.Fatalf("told %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		ev := got[i]
		if ev.Event != w.event || ev.Environment != w.env || ev.Version != w.version || ev.Reason != w.reason || ev.App != "hello" ||
			ev.Schema != notify.Schema || ev.Mode != "direct" || ev.Who != "alice" || !all.sigs[i] {
			t.Errorf("event %d = %+v, want %+v", i, ev, w)
		}
		if !strings.HasPrefix(ev.Digest, "sha256:") || !strings.HasSuffix(ev.Image, ev.Digest) || ev.Message == "" {
			t.Errorf("event %d lacks its image or message: %+v", i, ev)
		}
	}
	if got[0].SourceCommit != head.Commit || got[0].Why != "first" {
		t.Errorf("succeeded: commit %q why %q", got[0].SourceCommit, got[0].Why)
	}
	if got[1].RolledBackTo != 1 || !strings.Contains(got[1].Message, "CrashLoopBackOff") {
		t.Errorf("rolled back: %+v", got[1])
	}
	if f := failures.told(); len(f) != 1 || f[0].Event != notify.RolledBack {
		t.Errorf("failures told %+v, want only the rollback", f)
	}
	if b := broken.told(); len(b) != notify.DefaultAttempts {
		t.Errorf("broken was tried %d times, want %d", len(b), notify.DefaultAttempts)
	}
	warned := strings.Join(f.events.Msgs("notify"), "\n")
	if !strings.Contains(warned, "could not tell broken of the verdict (3 attempts)") || !strings.Contains(warned, "the verdict stands") {
		t.Errorf("warnings:\n%s", warned)
	}
	for _, e := range f.events.Events() {
		if strings.Contains(e.Msg, "hmac-secret-value") {
			t.Errorf("a report holds the secret: %s", e.Msg)
		}
	}
}

// TestNotifyMissingSecret: a target whose variable is not set is a
// warning naming the variable, and the others are still told.
func TestNotifyMissingSecret(t *testing.T) {
	f := newFixture(t)
	h, u := newHook(t, "", http.StatusOK)
	t.Setenv("SLIPWAY_TEST_BAD_SLACK", "ftp://hooks.example.com/secret-path")
	f.p.Notify = []config.Notify{
		{Slack: &config.SlackNotify{URL: "env://SLIPWAY_TEST_UNSET_SLACK"}},
		{Name: "bad", Slack: &config.SlackNotify{URL: "env://SLIPWAY_TEST_BAD_SLACK"}},
		{Webhook: &config.WebhookNotify{URL: u}},
	}
	f.push("dev", "1.2.3")
	if _, err := f.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options()}); err != nil {
		t.Fatal(err)
	}
	if len(h.told()) != 1 {
		t.Errorf("the webhook was told %d times", len(h.told()))
	}
	var warns []string
	for _, e := range f.events.Events() {
		if e.Kind == progress.Warn && e.Step == "notify" {
			warns = append(warns, e.Msg)
		}
	}
	if len(warns) != 2 || warns[0] != "not telling slack: variable SLIPWAY_TEST_UNSET_SLACK is not set" ||
		warns[1] != "not telling bad: variable SLIPWAY_TEST_BAD_SLACK does not hold an http(s) URL without credentials" {
		t.Errorf("warnings %q", warns)
	}
}

// TestVerdictEvent maps what a deploy returned to the event it tells.
func TestVerdictEvent(t *testing.T) {
	img := "r/hello@sha256:" + strings.Repeat("a", 64)
	ok := DeployResult{Result: deploy.Result{Env: "dev", Version: "1.0.0", Image: img, Verdict: &deploy.Verdict{Desired: 2, Available: 2}}}
	upToDate := DeployResult{Result: deploy.Result{Env: "dev", Version: "1.0.0", Image: img, UpToDate: true}}
	committed := DeployResult{Result: ok.Result, GitOps: &GitOpsResult{Commit: "abc"}}
	failed := &deploy.FailedError{Result: deploy.Result{Env: "dev", Version: "1.0.0", Image: img, Verdict: &deploy.Verdict{Reason: "ImagePullBackOff"}}}
	rolled := &deploy.FailedError{Result: deploy.Result{Env: "dev", Version: "1.0.0", Image: img, RolledBack: true, RolledBackTo: 4, Verdict: &deploy.Verdict{Reason: "CheckFailed"}}}
	gitopsFailed := &GitOpsFailedError{Result: failed.Result, GitOps: GitOpsResult{Commit: "c1", Revert: "c2"}}
	tests := []struct {
		name         string
		res          DeployResult
		err          error
		event        string // "" for none
		reason, mode string
	}{
		{"succeeded", ok, nil, notify.Succeeded, "", "direct"},
		{"up to date", upToDate, nil, "", "", ""},
		{"committed, not waited for", committed, nil, "", "", ""},
		{"failed, left", ok, failed, notify.Failed, "ImagePullBackOff", "direct"},
		{"rolled back", ok, rolled, notify.RolledBack, "CheckFailed", "direct"},
		{"gitops reverted", committed, gitopsFailed, notify.RolledBack, "ImagePullBackOff", "gitops"},
		{"gate", ok, fmt.Errorf("deploying: %w: soak", ErrGate), notify.Waiting, "Gate", "direct"},
		{"superseded", committed, fmt.Errorf("x: %w", ErrSuperseded), notify.Superseded, "Superseded", "gitops"},
		{"not picked up", committed, fmt.Errorf("x: %w", ErrNotPickedUp), notify.Failed, "NotPickedUp", "gitops"},
		{"bad input", DeployResult{}, config.ErrInvalid, "", "", ""},
		{"succeeded, then retiring a canary failed", DeployResult{Result: deploy.Result{Env: "prod", Version: "1.0.0", Image: img,
			Verdict: &deploy.Verdict{Phase: deploy.PhaseSucceeded}}}, errors.New("retiring canary: refused"), notify.Succeeded, "", "direct"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, told := verdictEvent(tt.res, tt.err)
			if told != (tt.event != "") || (told && (ev.Event != tt.event || ev.Reason != tt.reason || ev.Mode != tt.mode)) {
				t.Errorf("verdictEvent = %+v, %v; want %q %q %q", ev, told, tt.event, tt.reason, tt.mode)
			}
			if told && ev.Digest != "sha256:"+strings.Repeat("a", 64) {
				t.Errorf("digest %q", ev.Digest)
			}
		})
	}
}
