package deploy

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
)

// TestParsePodIsBounded holds that any pod.yml up to 1 MB is accepted or
// refused with a bounded report, allocating less than 100 MB. The time of
// each is logged, not asserted.
func TestParsePodIsBounded(t *testing.T) {
	var b strings.Builder
	inputs := map[string]string{}
	b.WriteString("spec:\n  containers:\n    - name: app\n      args: [")
	for b.Len() < 250<<10 {
		b.WriteString("x,")
	}
	inputs["a quarter of a million args"] = b.String() + "x]\n"
	b.Reset()
	b.WriteString("spec:\n  containers:\n    - name: app\n      ports: [")
	for b.Len() < 250<<10 {
		b.WriteString("{containerPort: x},")
	}
	inputs["thousands of bad ports"] = b.String() + "]\n"
	b.Reset()
	b.WriteString("metadata:\n  labels:\n")
	for b.Len() < 250<<10 {
		b.WriteString("    a: b\n")
	}
	inputs["thousands of duplicate keys"] = b.String()
	inputs["deep nesting"] = "spec: {containers: [{name: app, args: " + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + "}]}\n"
	inputs["a billion laughs"] = podBomb()
	inputs["one megabyte"] = "metadata: {annotations: {a: '" + strings.Repeat("x", 1<<20) + "'}}\n"
	inputs["a huge unknown key"] = "spec:\n  ? " + strings.Repeat("k", 200<<10) + "\n  : 1\n"

	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := ParsePod("pod.yml", []byte(data))
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes: %v, %.1f MB allocated", len(data), took, float64(alloc)/(1<<20))
			if alloc > 100<<20 {
				t.Errorf("allocated %.1f MB; want under 100 MB", float64(alloc)/(1<<20))
			}
			if err == nil {
				return
			}
			if !errors.Is(err, config.ErrInvalid) {
				t.Errorf("want config problems, got %T: %.200v", err, err)
			}
			if n := len(err.Error()); n > 64<<10 {
				t.Errorf("a %d-byte report", n)
			}
		})
	}
}
