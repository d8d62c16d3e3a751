package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/slipwayhq/slipway/progress"
)

// UndoOptions configure Undo.
type UndoOptions struct {
	// To picks the revision: "" for the one before the current, else a
	// revision number, a version or a digest.
	To string
	// Timeout bounds the wait for a verdict.
	Timeout time.Duration
	// Who and Reason are recorded on the Deployment.
	Who, Reason string
	Now         func() time.Time
	Progress    progress.Reporter
}

// Undo rolls an environment's Deployment back to an earlier revision and
// waits for the verdict, as deploy does. It is the emergency path: no gate
// applies, and a failure is reported, not rolled back again.
func (c *Cluster) Undo(ctx context.Context, ns, name string, o UndoOptions) (Result, error) {
	start := time.Now()
	rep := progress.Or(o.Progress)
	hist, err := c.History(ctx, ns, name)
	if err != nil {
		return Result{}, err
	}
	target, current, err := pick(hist, o.To)
	if err != nil {
		return Result{}, fmt.Errorf("rolling back %s: %w", c.Env, err)
	}
	res := Result{Env: c.Env, Namespace: ns, Deployment: name, Image: target.Image, Version: target.Version, Revision: target.Revision}
	if target.Revision == current.Revision {
		res.UpToDate = true
		return res, nil
	}
	rep.Report(progress.Event{Kind: progress.Start, Step: "rollback", Msg: fmt.Sprintf("rolling %s back to revision %d (%s)", c.Env, target.Revision, target.Version)})
	if _, err := Rollback(ctx, c.Client, ns, name, target.rs, FieldManager); err != nil {
		return res, c.explain(err, "")
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	reason := o.Reason
	if reason == "" {
		reason = fmt.Sprintf("rollback from revision %d", current.Revision)
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		AnnotationBy: o.Who, AnnotationAt: now().UTC().Format(time.RFC3339), AnnotationReason: reason,
		AnnotationCause: "slipway rollback " + c.Env + " " + target.Version,
	}}})
	d, err := c.Client.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return res, c.explain(err, "recording the rollback of "+name)
	}
	v, err := Wait(ctx, c.Client, WaitOptions{Namespace: ns, Name: name, Generation: d.Generation, Timeout: o.Timeout, Progress: rep})
	if err != nil {
		return res, c.explain(err, "waiting for the rollback of "+name)
	}
	res.Verdict, res.Seconds = &v, time.Since(start).Seconds()
	if v.Revision > 0 {
		res.Revision = v.Revision // the old template comes back as a new revision
	}
	if v.Phase != PhaseSucceeded {
		return res, &FailedError{Result: res}
	}
	return res, nil
}

// pick finds the revision to roll back to, and the current one.
func pick(hist []Revision, to string) (target, current Revision, err error) {
	for _, r := range hist {
		if r.Current {
			current = r
		}
	}
	var names []string
	for _, r := range hist {
		names = append(names, fmt.Sprintf("%d (%s)", r.Revision, r.Version))
		switch {
		case to == "" && !r.Current && r.Revision < current.Revision:
			return r, current, nil
		case to == "":
		case to == strconv.FormatInt(r.Revision, 10), to == r.Version, strings.HasPrefix(to, "sha256:") && to == r.Digest:
			return r, current, nil
		}
	}
	if to == "" {
		return target, current, fmt.Errorf("%w: only revision %d is kept", ErrNoRevision, current.Revision)
	}
	return target, current, fmt.Errorf("%w: no revision matches %q; kept: %s", ErrNoRevision, to, strings.Join(names, ", "))
}
