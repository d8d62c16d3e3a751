package engine

import (
	"fmt"
	"strings"

	"github.com/slipwayhq/slipway/internal/short"
)

// Phases of an Argo CD operation (status.operationState.phase).
const (
	argoRunning     = "Running"
	argoTerminating = "Terminating"
	argoSucceeded   = "Succeeded"
	argoFailed      = "Failed"
	argoError       = "Error"
)

// AppCondition is an entry of an Application's status.conditions.
type AppCondition struct {
	Type    string `json:"type"` // ComparisonError, SyncError, InvalidSpecError, ...
	Message string `json:"message,omitempty"`
}

// ApplicationStatus is what ClassifyApplication reads of an Argo CD
// Application, for the one source that applies the environment.
type ApplicationStatus struct {
	// NoAutoSync says why Argo CD never syncs the Application by itself,
	// "" when it does: spec.syncPolicy.automated is missing, or its
	// enabled is false.
	NoAutoSync string
	// Revision is the commit Argo CD last compared the Application to,
	// status.sync.revision (status.sync.revisions[i] for spec.sources[i]),
	// and Sync the result, status.sync.status: Synced, OutOfSync, Unknown.
	Revision, Sync string
	// OpRevision is the commit of the last sync operation,
	// status.operationState.syncResult.revision, or the operation's own
	// operation.sync.revision before there is a result; Phase and
	// OpMessage are its phase (Running, Terminating, Succeeded, Failed,
	// Error) and message.
	OpRevision, Phase, OpMessage string
	// Conditions are status.conditions.
	Conditions []AppCondition
	// Newer is a commit the Application was compared or synced to that
	// descends from ours, "" when there is none or it is not known.
	Newer string
	// Expired says the deadline has passed.
	Expired bool
}

// ClassifyApplication says what Argo CD did with commit (a full hex sha),
// from the status of the Application that applies it; the package doc's
// Argo CD section is its specification. status.health is not read: the
// verdict on the pods is the caller's.
func ClassifyApplication(s ApplicationStatus, commit string) Outcome {
	o := Outcome{State: Pending, Commit: commit, Revision: s.Revision}
	ours := revisionIs(s.OpRevision, commit)
	running := s.Phase == argoRunning || s.Phase == argoTerminating
	switch {
	case ours && s.Phase == argoSucceeded:
		o.State, o.Confirmed = Applied, true
	case ours && (s.Phase == argoFailed || s.Phase == argoError):
		o.State, o.Reason, o.Message = Failed, "Sync"+s.Phase, opMessage(s, commit)
	case ours && running && s.Expired:
		o.State, o.Reason = Failed, "SyncNotFinished"
		o.Message = fmt.Sprintf("Argo CD's sync of %s was still %s at the deadline: %s",
			short.Commit(commit), strings.ToLower(s.Phase), opMessage(s, commit))
	case ours && running:
		// Not final: the sync may yet fail.
	case revisionIs(s.Revision, commit) && s.Sync == "Synced":
		// Nothing of ours differed from the cluster: no sync was needed.
		o.State, o.Confirmed = Applied, true
	case s.Newer != "":
		o.State, o.Commit = Superseded, s.Newer
		o.Message = fmt.Sprintf("the engine moved on to %s, a newer commit", short.Commit(s.Newer))
	case s.NoAutoSync != "":
		o.State, o.Reason = NotPickedUp, "AutoSyncOff"
		o.Message = "Argo CD never syncs this Application by itself (" + s.NoAutoSync +
			"): set spec.syncPolicy.automated, or sync it by hand (argocd app sync)"
	case s.Expired:
		o.State = NotPickedUp
		o.Reason, o.Message = appNotPickedUp(s, commit)
	}
	return o
}

// opMessage is the operation's message, quoted, or says the phase.
func opMessage(s ApplicationStatus, commit string) string {
	if m := Quote(s.OpMessage); m != "" {
		return m
	}
	return fmt.Sprintf("Argo CD's sync of %s ended in phase %s", short.Commit(commit), s.Phase)
}

// appNotPickedUp says why Argo CD never synced commit: the Application's
// first error condition when it has one.
func appNotPickedUp(s ApplicationStatus, commit string) (reason, msg string) {
	for _, c := range s.Conditions {
		if strings.HasSuffix(c.Type, "Error") {
			return c.Type, fmt.Sprintf("Argo CD never synced %s (%s): %s", short.Commit(commit), comparedTo(s), Quote(c.Message))
		}
	}
	if revisionIs(s.Revision, commit) {
		sync := s.Sync
		if sync == "" {
			sync = "Unknown"
		}
		return "NotSynced", fmt.Sprintf("Argo CD compared the Application to %s but never synced it (sync status %s)", short.Commit(commit), Quote(sync))
	}
	return "RevisionNotSeen", fmt.Sprintf("Argo CD never compared the Application to %s (%s)", short.Commit(commit), comparedTo(s))
}

// comparedTo says which commit Argo CD last compared the Application to.
func comparedTo(s ApplicationStatus) string {
	if s.Revision == "" {
		return "it has compared it to no commit yet"
	}
	return "it last compared it to " + Quote(s.Revision)
}
