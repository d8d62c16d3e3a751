package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/slipwayhq/slipway/internal/termtext"
)

// AnnotationChecks, on a Deployment, records the results of the last
// after-rollout checks run on it: a ChecksRecord as JSON.
const AnnotationChecks = "slipway.dev/checks"

// checksManager owns AnnotationChecks: not FieldManager, so that the next
// apply (and a rollback) leaves the record of the last checks alone.
const checksManager = "slipway-checks"

// Bounds of a checks record: what is written, and what is read back.
const (
	maxRecordChecks  = 20
	maxRecordMessage = 200
	maxChecksRecord  = 8 << 10
)

// ChecksRecord is the outcome of the checks of one rollout.
type ChecksRecord struct {
	Version string    `json:"version"`
	Digest  string    `json:"digest"`
	Passed  bool      `json:"passed"`
	At      time.Time `json:"at"`
	// Checks are the checks run, in order, up to the first that failed.
	Checks []CheckResult `json:"checks"`
}

// newChecksRecord is the record of results, the checks of in at now,
// bounded: at most maxRecordChecks results, messages cut, no output.
func newChecksRecord(in RenderInput, results []CheckResult, now time.Time) ChecksRecord {
	rec := ChecksRecord{Version: in.Version, Digest: DigestOf(in.Image), Passed: failedCheck(results) == nil, At: now.UTC().Truncate(time.Second)}
	kept := results
	if len(kept) > maxRecordChecks {
		// The last result is the one that failed, when one did: keep it.
		kept = append(slices.Clone(results[:maxRecordChecks-1]), results[len(results)-1])
	}
	for _, r := range kept {
		rec.Checks = append(rec.Checks, CheckResult{Check: termtext.Clip(r.Check, maxRecordMessage), Passed: r.Passed, Message: termtext.Clip(r.Message, maxRecordMessage)})
	}
	// Escapes can make the text longer than its bytes: drop the results
	// before the last until the record fits what ReadChecksRecord reads.
	for len(rec.Checks) > 1 && len(encodeJSON(rec)) > maxChecksRecord {
		rec.Checks = slices.Delete(rec.Checks, len(rec.Checks)-2, len(rec.Checks)-1)
	}
	return rec
}

// encodeJSON is v as Annotate writes it, without HTML escaping; nil when
// it cannot be encoded.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// recordChecks writes rec on Deployment ns/name.
func (c *Cluster) recordChecks(ctx context.Context, ns, name string, rec ChecksRecord) error {
	if err := Annotate(ctx, c.Client, ns, name, checksManager, AnnotationChecks, rec); err != nil {
		return fmt.Errorf("recording the checks' results: %w", err)
	}
	return nil
}

// Annotate sets annotation key of Deployment ns/name to value as JSON,
// with a merge patch under field manager manager (not FieldManager, so
// that the next apply leaves it alone), within 10s.
func Annotate(ctx context.Context, client kubernetes.Interface, ns, name, manager, key string, value any) error {
	text := encodeJSON(value)
	if text == nil {
		return fmt.Errorf("encoding annotation %s: not JSON", key)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: string(text)}}})
	if err != nil {
		return fmt.Errorf("encoding annotation %s: %w", key, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := client.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: manager}); err != nil {
		return fmt.Errorf("annotating Deployment %s/%s: %w", ns, name, err)
	}
	return nil
}

// ReadChecksRecord reads the checks record in a Deployment's annotations:
// nil when there is none, or it is not one (too large, not JSON: others
// can write annotations). Its text is cleaned for a terminal.
func ReadChecksRecord(annotations map[string]string) *ChecksRecord {
	text, ok := annotations[AnnotationChecks]
	if !ok || len(text) > maxChecksRecord {
		return nil
	}
	var rec ChecksRecord
	if err := json.Unmarshal([]byte(text), &rec); err != nil {
		return nil
	}
	rec.Version, rec.Digest = termtext.Clean(rec.Version), termtext.Clean(rec.Digest)
	if len(rec.Checks) > maxRecordChecks {
		rec.Checks = rec.Checks[:maxRecordChecks]
	}
	for i := range rec.Checks {
		r := &rec.Checks[i]
		r.Check, r.Message, r.Output = termtext.CleanLines(r.Check, maxRecordMessage), termtext.CleanLines(r.Message, maxRecordMessage), nil
	}
	return &rec
}
