package check

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/deploy"
)

// AnnotationAnalysis, on a canary's Deployment, records the outcome of its
// last analysis: an AnalysisRecord as JSON.
const AnnotationAnalysis = "slipway.dev/analysis"

// analysisManager is the field manager of AnnotationAnalysis: not
// deploy.FieldManager, so that the next apply leaves the record alone.
const analysisManager = "slipway-analysis"

// maxRecord bounds the annotation read back: a record is a few hundred
// bytes.
const maxRecord = 4 << 10

// AnalysisRecord is the outcome of a canary's analysis of one digest.
type AnalysisRecord struct {
	Digest string `json:"digest"`
	// Verdict is "passed" or "failed".
	Verdict string    `json:"verdict"`
	At      time.Time `json:"at"`
	Message string    `json:"message,omitempty"`
}

// Passed reports whether the analysis passed.
func (r AnalysisRecord) Passed() bool { return r.Verdict == "passed" }

// verdictOf is a record's verdict: passed or failed.
func verdictOf(passed bool) string {
	if passed {
		return "passed"
	}
	return "failed"
}

// digestOf returns the digest of an image reference by digest.
// ReadAnalysisRecord reads the record in a Deployment's annotations: nil
// when there is none. Its message is cleaned for a terminal.
func ReadAnalysisRecord(annotations map[string]string) (*AnalysisRecord, error) {
	text, ok := annotations[AnnotationAnalysis]
	if !ok {
		return nil, nil
	}
	if len(text) > maxRecord {
		return nil, fmt.Errorf("reading annotation %s: it is %d bytes, more than a record's %d", AnnotationAnalysis, len(text), maxRecord)
	}
	var r AnalysisRecord
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		return nil, fmt.Errorf("reading annotation %s: %w", AnnotationAnalysis, err)
	}
	r.Digest, r.Verdict, r.Message = clean(r.Digest), clean(r.Verdict), clean(r.Message)
	return &r, nil
}

// record writes rec on t's Deployment.
func (a *Analysis) record(ctx context.Context, t deploy.CheckTarget, rec AnalysisRecord) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	if err := deploy.Annotate(ctx, a.Client, t.Namespace, t.Deployment, analysisManager, AnnotationAnalysis, rec); err != nil {
		return fmt.Errorf("writing the analysis record: %w", err)
	}
	return nil
}

// clip cuts s to at most n bytes, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
