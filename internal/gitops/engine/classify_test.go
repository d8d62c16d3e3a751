package engine

import (
	"strings"
	"testing"
)

const (
	ours  = "c2ddcf1f00000000000000000000000000000001"
	older = "c2ddcf1f00000000000000000000000000000000"
	later = "c2ddcf1f00000000000000000000000000000002"
)

func rev(c string) string { return "main@sha1:" + c }

func TestClassify(t *testing.T) {
	ready := Condition{Status: "True", Reason: "ReconciliationSucceeded"}
	inProgress := Condition{Status: "Unknown", Reason: "Progressing", Message: "Reconciliation in progress"}
	authFailed := Condition{Status: "False", Reason: "GitOperationFailed",
		Message: "failed to checkout and determine revision: unable to clone 'http://127.0.0.1:37061/env.git': authentication required"}
	tests := []struct {
		name          string
		s             Status
		state         State
		commit        string
		confirmed     bool
		reason, quote string
	}{
		{name: "nothing yet", s: Status{Attempted: rev(older), Applied: rev(older), Ready: ready, Source: rev(older)}, state: Pending},
		{name: "source fetched, not attempted", s: Status{Attempted: rev(older), Ready: ready, Source: rev(ours)}, state: Pending},
		{name: "attempted, health check running", s: Status{Attempted: rev(ours), Applied: rev(older), Ready: inProgress, Source: rev(ours)},
			state: Applied, commit: ours},
		// Ready=True is the older commit's until Flux's health poll: only
		// the revision tells.
		{name: "attempted, Ready still the older commit's", s: Status{Attempted: rev(ours), Applied: rev(older), Ready: ready},
			state: Applied, commit: ours},
		{name: "applied and Ready", s: Status{Attempted: rev(ours), Applied: rev(ours), Ready: ready},
			state: Applied, commit: ours, confirmed: true},
		{name: "build failed", s: Status{Attempted: rev(ours), Applied: rev(older), Ready: Condition{Status: "False", Reason: "BuildFailed",
			Message: "failed to decode Kubernetes YAML from /tmp/kustomization-2042705723/envs/dev/broken.yaml: MalformedYAMLError: yaml: line 2"}},
			state: Failed, commit: ours, reason: "BuildFailed", quote: "failed to decode Kubernetes YAML from envs/dev/broken.yaml: MalformedYAMLError"},
		// Measured: the nudge of the Kustomization itself cancels the
		// health check of our revision, which the source's nudge started.
		{name: "health check canceled", s: Status{Attempted: rev(ours), Applied: rev(ours), Ready: Condition{Status: "False", Reason: "HealthCheckCanceled",
			Message: "New reconciliation triggered by Kustomization/flux-system/dev"}},
			state: Applied, commit: ours},
		{name: "older revision failed", s: Status{Attempted: rev(older), Ready: Condition{Status: "False", Reason: "BuildFailed"}, Source: rev(older)},
			state: Pending},
		{name: "superseded at the source", s: Status{Attempted: rev(older), Ready: ready, Source: rev(later), Newer: later},
			state: Superseded, commit: later},
		{name: "ours attempted wins over a newer source", s: Status{Attempted: rev(ours), Ready: inProgress, Source: rev(later), Newer: later},
			state: Applied, commit: ours},
		// A suspended Kustomization keeps Ready=True for the old commit and
		// updates lastHandledReconcileAt: only spec.suspend tells.
		{name: "suspended", s: Status{Suspended: true, Attempted: rev(older), Applied: rev(older), Ready: ready, Source: rev(ours)},
			state: NotPickedUp, commit: ours, reason: "Suspended", quote: "suspended"},
		{name: "source failing, not expired", s: Status{Attempted: rev(older), Ready: ready, Source: rev(older), SourceReady: authFailed},
			state: Pending},
		{name: "source failing, expired", s: Status{Attempted: rev(older), Ready: ready, Source: rev(older), SourceReady: authFailed, Expired: true},
			state: NotPickedUp, commit: ours, reason: "GitOperationFailed", quote: "authentication required"},
		{name: "source behind, expired", s: Status{Attempted: rev(older), Ready: ready, Source: rev(older), Expired: true},
			state: NotPickedUp, commit: ours, reason: "SourceNotFetched", quote: "it is at main@sha1:" + older},
		{name: "fetched, never attempted, expired", s: Status{Attempted: rev(older), Ready: Condition{Status: "False", Reason: "DependencyNotReady", Message: "dependency 'flux-system/infra' is not ready"}, Source: rev(ours), Expired: true},
			state: NotPickedUp, commit: ours, reason: "NotAttempted", quote: "dependency 'flux-system/infra' is not ready"},
		// Flux records the revision before building it (measured at v1.9.6):
		// a build that fails turns it Failed a moment later.
		{name: "attempted, still building", s: Status{Attempted: rev(ours), Applied: rev(older), Ready: Condition{Status: "Unknown", Reason: "Progressing",
			Message: "Building manifests for revision main@sha1:" + ours + " with a timeout of 1m0s"}}, state: Pending},
		{name: "attempted, still fetching", s: Status{Attempted: rev(ours), Ready: Condition{Status: "Unknown", Reason: "Progressing",
			Message: "Fetching manifests for revision main@sha1:" + ours + " with a timeout of 1m0s"}}, state: Pending},
		// Flux compares before it applies: nothing of ours is applied yet.
		{name: "attempted, detecting drift", s: Status{Attempted: rev(ours), Ready: Condition{Status: "Unknown", Reason: "Progressing",
			Message: "Detecting drift for revision main@sha1:" + ours + " with a timeout of 1m0s"}}, state: Pending},
		// Measured at v1.9.6: Ready stays "Reconciliation in progress" from
		// the fetch to the health checks; the stage is in Reconciling.
		{name: "attempted, Reconciling says building", s: Status{Attempted: rev(ours), Ready: inProgress,
			Reconciling: reconciling("Building manifests for revision main@sha1:" + ours + " with a timeout of 5m0s")}, state: Pending},
		{name: "attempted, Reconciling says detecting drift", s: Status{Attempted: rev(ours), Ready: inProgress,
			Reconciling: reconciling("Detecting drift for revision main@sha1:" + ours + " with a timeout of 5m0s")}, state: Pending},
		{name: "applied, Reconciling says health checks", s: Status{Attempted: rev(ours), Ready: inProgress,
			Reconciling: reconciling("Running health checks for revision main@sha1:" + ours + " with a timeout of 5m0s")}, state: Applied, commit: ours},
		// A reconciliation of a later commit begins; ours was applied.
		{name: "applied, Reconciling fetches a later commit", s: Status{Attempted: rev(ours), Ready: inProgress, Source: rev(later),
			Reconciling: reconciling("Fetching manifests for revision main@sha1:" + later + " with a timeout of 5m0s")}, state: Applied, commit: ours},
		{name: "applied at the deadline", s: Status{Attempted: rev(ours), Ready: inProgress, Expired: true}, state: Applied, commit: ours},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Classify(tt.s, ours)
			if o.State != tt.state {
				t.Fatalf("state %s, want %s (%+v)", o.State, tt.state, o)
			}
			if tt.commit != "" && o.Commit != tt.commit {
				t.Errorf("commit %s, want %s", o.Commit, tt.commit)
			}
			if o.Confirmed != tt.confirmed {
				t.Errorf("confirmed %v, want %v", o.Confirmed, tt.confirmed)
			}
			if o.Reason != tt.reason {
				t.Errorf("reason %q, want %q", o.Reason, tt.reason)
			}
			if !strings.Contains(o.Message, tt.quote) {
				t.Errorf("message %q does not hold %q", o.Message, tt.quote)
			}
			if strings.Contains(o.Message, "/tmp/") {
				t.Errorf("message %q holds Flux's temporary directory", o.Message)
			}
		})
	}
}

// reconciling is Flux's Reconciling condition at a stage.
func reconciling(msg string) Condition {
	return Condition{Status: "True", Reason: "Progressing", Message: msg}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a\n\tb  c", "a b c"},
		{"from /var/tmp/x/kustomization-12/envs/dev/a.yaml: bad", "from envs/dev/a.yaml: bad"},
		{"\x1b]0;title\x07red", `\x1b]0;title\x07red`},
		{strings.Repeat("é", 300), strings.Repeat("é", MaxMessage/2) + "…"},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRevisionCommit(t *testing.T) {
	for in, want := range map[string]string{
		"main@sha1:ABC": "abc", "env/prod@sha1:abc": "abc", "sha1:abc": "abc", "abc": "abc", "v1@abc": "abc", "": "",
	} {
		if got := RevisionCommit(in); got != want {
			t.Errorf("RevisionCommit(%q) = %q, want %q", in, got, want)
		}
	}
}
