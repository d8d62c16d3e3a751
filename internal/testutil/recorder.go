package testutil

import (
	"sync"

	"github.com/slipwayhq/slipway/internal/progress"
)

// Recorder is a progress.Reporter that keeps what it is told.
type Recorder struct {
	mu     sync.Mutex
	events []progress.Event
}

var _ progress.Reporter = (*Recorder)(nil)

// Report keeps e.
func (r *Recorder) Report(e progress.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// Events are the events reported so far.
func (r *Recorder) Events() []progress.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]progress.Event(nil), r.events...)
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
