// Package progress is how core packages report what they are doing without printing.
package progress

// Kind says what an Event is.
type Kind int

// Event kinds.
const (
	// Info is a line of information.
	Info Kind = iota
	// Start says a step began.
	Start
	// Update reports how far a step has come (Done of Total, in Unit).
	Update
	// Finish says a step ended well.
	Finish
	// Skip says a step was up to date and did nothing.
	Skip
	// Warn is something the user should look at; the work goes on.
	Warn
)

// Event is one progress report.
type Event struct {
	Kind  Kind
	Step  string // short name of the step, e.g. "push"
	Msg   string // what happened, for people
	Done  int64  // with Update: how much is done
	Total int64  // with Update: how much there is, 0 when unknown
	Unit  string // with Update: "B" for bytes, "" for items
}

// Reporter receives progress events. Implementations must be safe for
// concurrent use.
type Reporter interface {
	Report(Event)
}

// Func adapts a function to a Reporter.
type Func func(Event)

// Report calls f(e).
func (f Func) Report(e Event) { f(e) }

// Discard drops every event; it is what core packages use by default.
var Discard Reporter = Func(func(Event) {})

// Or returns r, or Discard when r is nil.
func Or(r Reporter) Reporter {
	if r == nil {
		return Discard
	}
	return r
}
