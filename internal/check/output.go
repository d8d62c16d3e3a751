package check

import (
	"strings"
	"sync"

	"github.com/slipwayhq/slipway/internal/termtext"
)

// Bounds of the output a failed check shows.
const (
	maxTailLines = 10
	maxTailLine  = 200
	// maxTaskOutput is the most bytes of a task's output kept: its end.
	maxTaskOutput = 64 << 10
)

// tail returns the last lines of s, cleaned for a terminal and each cut
// to maxTailLine bytes; blank lines at the end are dropped.
func tail(s string) []string {
	lines := strings.Split(strings.TrimRight(termtext.CleanLines(s, maxTailLine), "\n \t"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines[max(0, len(lines)-maxTailLines):]
}

// clean makes remote text (an API error, a Job's condition) safe for a
// terminal, its lines cut.
func clean(s string) string { return termtext.CleanLines(s, 512) }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
