package testutil

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

// FaultTally counts the tries of one fault in a fault test: how many ended
// correct, how many lost data, and the longest recovery.
type FaultTally struct {
	Tries, Correct, Lost int
	Longest              time.Duration
}

// Recovered notes a recovery that took d.
func (f *FaultTally) Recovered(d time.Duration) { f.Longest = max(f.Longest, d) }

// Row appends the fault's row of the fault table (hack/faults.sh) to the
// file SLIPWAY_FAULTS_OUT names, and logs it.
func (f FaultTally) Row(t testing.TB, fault string) {
	t.Helper()
	row := map[string]any{"fault": fault, "tries": f.Tries, "correct": f.Correct, "lost": f.Lost, "recoverySeconds": f.Longest.Seconds()}
	t.Logf("fault %q: %d tries, %d correct, %d lost, longest recovery %s", fault, f.Tries, f.Correct, f.Lost, f.Longest.Round(time.Millisecond))
	out := os.Getenv("SLIPWAY_FAULTS_OUT")
	if out == "" {
		return
	}
	b, _ := json.Marshal(row)
	file, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("writing the fault table: %v", err)
		return
	}
	defer file.Close()
	if _, err := file.Write(append(b, '\n')); err != nil {
		t.Errorf("writing the fault table: %v", err)
	}
}
