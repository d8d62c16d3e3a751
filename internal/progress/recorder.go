package progress

import "sync"

// Recorder is a Reporter that keeps what it is told.
type Recorder struct {
	mu     sync.Mutex
	events []Event
}

var _ Reporter = (*Recorder)(nil)

// Report keeps e.
func (r *Recorder) Report(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Events are the events reported so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Msgs are the messages reported for step, or for all steps when step is
// "".
func (r *Recorder) Msgs(step string) []string {
	var out []string
	for _, e := range r.Events() {
		if step == "" || e.Step == step {
			out = append(out, e.Msg)
		}
	}
	return out
}
