package notify

import "time"

// Schema names the version of Event's JSON form, described by
// docs/notify.schema.json.
const Schema = "slipway/notify/v1"

// Events: a deploy's verdict, one per deploy.
const (
	Succeeded  = "succeeded"
	Failed     = "failed"
	RolledBack = "rolledBack"
	Waiting    = "waiting"
	Superseded = "superseded"
)

// Event is the verdict of one deploy, as every target is told it. Its
// JSON form is the webhook's body.
type Event struct {
	Schema string `json:"schema"`
	// Event is one of Succeeded, Failed, RolledBack, Waiting, Superseded.
	Event       string `json:"event"`
	App         string `json:"app"`
	Environment string `json:"environment"`
	Namespace   string `json:"namespace,omitempty"`
	Version     string `json:"version,omitempty"`
	// Digest is the image's (sha256:...), Image its reference by digest.
	Digest string `json:"digest,omitempty"`
	Image  string `json:"image,omitempty"`
	// Reason is short and machine-readable: the verdict's reason
	// (CrashLoopBackOff, CheckFailed, ...), Gate or Superseded.
	Reason string `json:"reason,omitempty"`
	// Message is one or a few sentences for people.
	Message string `json:"message"`
	// SourceCommit is the commit of the app's repository deployed, which
	// commit statuses are set on.
	SourceCommit string `json:"sourceCommit,omitempty"`
	Who          string `json:"who,omitempty"`
	Why          string `json:"why,omitempty"`
	// Mode is direct or gitops; Commit is a GitOps deploy's commit in the
	// environment repository.
	Mode   string `json:"mode"`
	Commit string `json:"commit,omitempty"`
	// RolledBackTo is the revision a failed rollout was rolled back to.
	RolledBackTo int64 `json:"rolledBackTo,omitempty"`
	// Run links to the CI run that deployed, when one did.
	Run     string    `json:"run,omitempty"`
	Time    time.Time `json:"time"`
	Seconds float64   `json:"seconds"`
}

// Title is a one-line summary: "hello 1.4.0 to prod: failed
// (CrashLoopBackOff)".
func (e Event) Title() string {
	s := e.App
	if e.Version != "" {
		s += " " + e.Version
	}
	s += " to " + e.Environment + ": " + words[e.Event]
	if e.Reason != "" && e.Event != Succeeded {
		s += " (" + e.Reason + ")"
	}
	return s
}

// words are the events as a sentence says them.
var words = map[string]string{
	Succeeded: "succeeded", Failed: "failed", RolledBack: "failed and rolled back",
	Waiting: "waiting at a gate", Superseded: "superseded",
}
