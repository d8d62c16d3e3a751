package promote

// Event is a report of what Promote is doing, for Options.Progress.
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
