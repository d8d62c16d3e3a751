package engine

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/slipwayhq/slipway/internal/short"
	"github.com/slipwayhq/slipway/internal/termtext"
)

// State is what the engine did with a commit.
type State string

// States of an Outcome. Pending is not final: Wait keeps looking.
const (
	Pending     State = "pending"
	Applied     State = "applied"
	Failed      State = "failed"
	Superseded  State = "superseded"
	NotPickedUp State = "not-picked-up"
)

// Condition is a status condition of a Flux object.
type Condition struct {
	Status  string `json:"status"` // "True", "False", "Unknown" or "" when absent
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Status is what Classify reads of a Kustomization and its GitRepository.
type Status struct {
	// Suspended is the Kustomization's spec.suspend.
	Suspended bool
	// Attempted and Applied are the Kustomization's lastAttemptedRevision
	// and lastAppliedRevision, such as "main@sha1:COMMIT".
	Attempted, Applied string
	// Ready is the Kustomization's Ready condition, and Reconciling the
	// one in which Flux says which stage of a reconciliation it is at.
	Ready, Reconciling Condition
	// Source is the GitRepository's status.artifact.revision, and
	// SourceReady its Ready condition.
	Source      string
	SourceReady Condition
	// Newer is a commit the source or the Kustomization is at that
	// descends from ours, "" when there is none or it is not known.
	Newer string
	// Expired says the deadline has passed.
	Expired bool
}

// Outcome is what the engine did with a commit.
type Outcome struct {
	State State `json:"state"`
	// Commit is the commit the outcome is about: ours, or for Superseded
	// the newer one.
	Commit string `json:"commit"`
	// Revision is the Kustomization's lastAttemptedRevision.
	Revision string `json:"revision,omitempty"`
	// Confirmed says Flux has recorded our commit as lastAppliedRevision
	// with Ready=True (Applied only).
	Confirmed bool `json:"confirmed,omitempty"`
	// Reason is the engine's reason (BuildFailed, Suspended, ...), and
	// Message its words or ours, cleaned and cut to MaxMessage bytes.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Final says Wait may stop looking.
func (o Outcome) Final() bool { return o.State != Pending }

// healthCheckCanceled is the Ready=False reason of a health check that a
// newer reconciliation cut short: with CancelHealthCheckOnNewRevision, a
// nudge of the Kustomization right after its source's is one. The
// revision was applied by then; only Flux's own health check stopped.
const healthCheckCanceled = "HealthCheckCanceled"

// MaxMessage bounds an engine message an Outcome quotes: enough for a
// kustomize error, which names the file and the line.
const MaxMessage = 400

// Classify says what the engine did with commit (a full hex sha), from the
// status of its Kustomization and GitRepository; the package doc is its
// specification.
func Classify(s Status, commit string) Outcome {
	o := Outcome{State: Pending, Commit: commit, Revision: s.Attempted}
	switch {
	case revisionIs(s.Attempted, commit) && s.Ready.Status == "False" && s.Ready.Reason != healthCheckCanceled:
		o.State, o.Reason, o.Message = Failed, s.Ready.Reason, Quote(s.Ready.Message)
	case revisionIs(s.Attempted, commit) && building(s, commit):
		// Flux records the revision before it builds it: not applied yet.
	case revisionIs(s.Attempted, commit):
		o.State = Applied
		o.Confirmed = revisionIs(s.Applied, commit) && s.Ready.Status == "True"
	case s.Newer != "":
		o.State, o.Commit = Superseded, s.Newer
		o.Message = fmt.Sprintf("the engine moved on to %s, a newer commit", short.Commit(s.Newer))
	case s.Suspended:
		o.State, o.Reason = NotPickedUp, "Suspended"
		o.Message = "the Kustomization is suspended (spec.suspend: true): Flux applies nothing; resume it (flux resume kustomization)"
	case s.Expired:
		o.State = NotPickedUp
		o.Reason, o.Message = notPickedUp(s, commit)
	}
	return o
}

// building says Flux is still fetching, building or comparing commit's
// manifests, before it applies anything of them. Flux (v1.9.6, measured)
// says so in its Reconciling condition, "Fetching manifests for revision
// BRANCH@sha1:COMMIT ...", then "Building manifests ...", then "Detecting
// drift ...", and applies after that, while Ready stays "Reconciliation
// in progress"; the same words in Ready count too.
func building(s Status, commit string) bool {
	for _, c := range []Condition{s.Ready, s.Reconciling} {
		if c.Status == "False" || !strings.Contains(strings.ToLower(c.Message), strings.ToLower(commit)) {
			continue
		}
		for _, stage := range []string{"Fetching manifests", "Building manifests", "Detecting drift"} {
			if strings.HasPrefix(c.Message, stage) {
				return true
			}
		}
	}
	return false
}

// notPickedUp says why the engine never attempted commit: the source's own
// error when it has one.
func notPickedUp(s Status, commit string) (reason, msg string) {
	switch {
	case !revisionIs(s.Source, commit) && s.SourceReady.Status == "False":
		return s.SourceReady.Reason, "the source never fetched " + short.Commit(commit) + ": " + Quote(s.SourceReady.Message)
	case !revisionIs(s.Source, commit):
		return "SourceNotFetched", fmt.Sprintf("the source never fetched %s (it is at %s)", short.Commit(commit), orNone(s.Source))
	case s.Ready.Message != "":
		return "NotAttempted", fmt.Sprintf("the source has %s but the Kustomization never attempted it (it is at %s): %s",
			short.Commit(commit), orNone(s.Attempted), Quote(s.Ready.Message))
	}
	return "NotAttempted", fmt.Sprintf("the source has %s but the Kustomization never attempted it (it is at %s)", short.Commit(commit), orNone(s.Attempted))
}

// RevisionCommit is the commit of a Flux revision: "main@sha1:C",
// "sha1:C" or a bare "C" give C; "" when there is none.
func RevisionCommit(rev string) string {
	if i := strings.LastIndex(rev, ":"); i >= 0 {
		rev = rev[i+1:]
	} else if i := strings.LastIndex(rev, "@"); i >= 0 {
		rev = rev[i+1:]
	}
	return strings.ToLower(rev)
}

// revisionIs says whether Flux revision rev is commit.
func revisionIs(rev, commit string) bool {
	return commit != "" && RevisionCommit(rev) == strings.ToLower(commit)
}

// tempDir is the temporary directory Flux builds a Kustomization in, as
// its messages embed it: /tmp/kustomization-2042705723/envs/dev/x.yaml.
var tempDir = regexp.MustCompile(`\S*/kustomization-[0-9]+/`)

// Quote makes an engine message fit to quote: on one line, without Flux's
// temporary directory, safe for a terminal, and cut to MaxMessage bytes.
func Quote(msg string) string {
	msg = tempDir.ReplaceAllString(msg, "")
	msg = strings.Join(strings.Fields(msg), " ")
	msg = termtext.CleanLines(msg, termtext.MaxLine)
	if len(msg) <= MaxMessage {
		return msg
	}
	i := MaxMessage
	for i > 0 && !utf8.RuneStart(msg[i]) {
		i--
	}
	return msg[:i] + "…"
}

func orNone(s string) string {
	if s == "" {
		return "nothing yet"
	}
	return Quote(s)
}
