package promote

// Event is a report of what Promote is doing, for Options.Progress.
//
// It is promote's own type, not Slipway's internal progress.Event, which
// it mirrors: promote is a public package, and a program outside this
// module cannot import an internal package to name that type, nor receive
// it through an API that mentions it (archtest's
// TestPublicAPIHidesInternalTypes holds this). Slipway's own runner passes
// each Event on as a progress.Event of the promote step (see
// internal/flow's promoteEvents).
type Event struct {
	Kind EventKind
	// Msg says what happened, for people; with EventCopy, how many blobs
	// of how many are copied.
	Msg string
	// Done and Total are, with EventCopy, the blob bytes copied and to
	// copy.
	Done, Total int64
}

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	// EventStart says the promotion began.
	EventStart EventKind = iota
	// EventCopy reports how far copying blobs has come.
	EventCopy
	// EventInfo is a line of information: a record written, an artifact
	// copied, a signature made.
	EventInfo
	// EventWarn is something to look at, e.g. a tag moved by force; the
	// promotion goes on.
	EventWarn
)
