package deploy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestChecksRecord: a record is bounded when written, and read back only
// when it is one, cleaned for a terminal; rollbacks leave records alone.
func TestChecksRecord(t *testing.T) {
	in := RenderInput{Version: "1.2.3", Image: "r/hello@sha256:" + strings.Repeat("a", 64)}
	var results []CheckResult
	for i := range 30 {
		results = append(results, CheckResult{Check: "task smoke", Passed: i != 29, Message: strings.Repeat("é", 300), Output: []string{"out"}})
	}
	rec := newChecksRecord(in, results[:25], time.Date(2026, 12, 7, 1, 2, 3, 456, time.UTC))
	if !rec.Passed || len(rec.Checks) != maxRecordChecks || rec.Digest != "sha256:"+strings.Repeat("a", 64) || rec.At.Nanosecond() != 0 {
		t.Errorf("record %+v", rec)
	}
	if m := rec.Checks[0].Message; len(m) > maxRecordMessage+len("…") || !strings.HasSuffix(m, "…") || rec.Checks[0].Output != nil {
		t.Errorf("message %q output %v", m, rec.Checks[0].Output)
	}
	failed := newChecksRecord(in, results, time.Now())
	if last := failed.Checks[len(failed.Checks)-1]; failed.Passed || last.Passed || len(encodeJSON(failed)) > maxChecksRecord {
		t.Errorf("a record of 30 results, the last failed: passed %v, last %+v, %d bytes", failed.Passed, last, len(encodeJSON(failed)))
	}
	// Text that escapes long still fits.
	var escapes []CheckResult
	for range 20 {
		escapes = append(escapes, CheckResult{Check: "task smoke", Message: strings.Repeat("\x01<", 100)})
	}
	if rec := newChecksRecord(in, escapes, time.Now()); len(encodeJSON(rec)) > maxChecksRecord || ReadChecksRecord(map[string]string{AnnotationChecks: string(encodeJSON(rec))}) == nil {
		t.Errorf("a record of escaped text is %d bytes, over %d", len(encodeJSON(rec)), maxChecksRecord)
	}
	text, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	hostile := `{"version":"1.0\u001b[2J","digest":"sha256:x","passed":true,"checks":[{"check":"task \u001b]8;;evil\u0007x","passed":true,"output":["kept?"]}]}`
	for _, tt := range []struct {
		name, text string
		want       bool
	}{
		{"written", string(text), true},
		{"too large", `{"version":"` + strings.Repeat("x", maxChecksRecord) + `"}`, false},
		{"not JSON", "<html>", false},
		{"escapes", hostile, true},
	} {
		got := ReadChecksRecord(map[string]string{AnnotationChecks: tt.text})
		if (got != nil) != tt.want {
			t.Errorf("%s: read %+v, want a record %v", tt.name, got, tt.want)
			continue
		}
		if got == nil {
			continue
		}
		for _, s := range []string{got.Version, got.Checks[0].Check} {
			if strings.ContainsAny(s, "\x1b\x07") {
				t.Errorf("%s: %q holds escapes", tt.name, s)
			}
		}
		if got.Checks[0].Output != nil {
			t.Errorf("%s: output read back", tt.name)
		}
	}
	if ReadChecksRecord(nil) != nil {
		t.Error("a record without the annotation")
	}
	if restoredAnnotation(AnnotationChecks) || restoredAnnotation("slipway.dev/analysis") || !restoredAnnotation(AnnotationVersion) {
		t.Error("a rollback restores the records, or not the version")
	}
}
