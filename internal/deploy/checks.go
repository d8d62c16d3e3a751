package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/slipwayhq/slipway/internal/progress"
)

// ReasonCheckFailed is the Reason of a rollout whose pods passed but one
// of its after-rollout checks failed.
const ReasonCheckFailed = "CheckFailed"

// AnalysisCheckName names a canary's analysis among the results of its
// checks (check.AnalysisCheck).
const AnalysisCheckName = "canary analysis"

// CheckTarget is what after-rollout checks run against: the new pods of a
// rollout whose verdict succeeded.
type CheckTarget struct {
	Env, Namespace, Deployment string
	Version, Image             string
	Revision                   int64
	// Pods are the ready pods of the new ReplicaSet, by name, sorted.
	Pods []string
	// Port is the container port the Service targets (deploy.port).
	Port int
}

// CheckResult is the outcome of one after-rollout check.
type CheckResult struct {
	// Check names the check, e.g. "http GET /healthz" or "task smoke".
	Check  string `json:"check"`
	Passed bool   `json:"passed"`
	// Message says what failed, naming the pod or the exit code.
	Message string `json:"message,omitempty"`
	// Output is the tail of what the failing check got: the answer's body,
	// or the task's output; cleaned for a terminal.
	Output []string `json:"output,omitempty"`
}

// Checker runs the after-rollout checks of a deploy.
type Checker interface {
	// Check runs the checks on t in order, stopping at the first that
	// fails, and returns their results. The error is for when no answer
	// could be had (ctx ended); a check that fails is a result.
	Check(ctx context.Context, t CheckTarget) ([]CheckResult, error)
}

// failedCheck returns the first failed result, nil when all passed.
func failedCheck(results []CheckResult) *CheckResult {
	if i := slices.IndexFunc(results, func(r CheckResult) bool { return !r.Passed }); i >= 0 {
		return &results[i]
	}
	return nil
}

// runChecks runs o.Checker on the new pods of the rollout v, which
// succeeded, and fails v when a check fails: Reason ReasonCheckFailed,
// naming the check, with every result in v.Checks.
func (c *Cluster) runChecks(ctx context.Context, o Options, res *Result, v *Verdict) error {
	return c.RunChecks(ctx, o.Checker, o.Render, res.Deployment, v, o.Progress)
}

// RunChecks runs ch on the new pods of Deployment deployment's rollout of
// in, whose verdict v succeeded, and fails v when a check fails (see
// runChecks): for a rollout that another applied, such as a GitOps
// engine.
func (c *Cluster) RunChecks(ctx context.Context, ch Checker, in RenderInput, deployment string, v *Verdict, rep progress.Reporter) error {
	o := Options{Checker: ch, Render: in, Progress: progress.Or(rep)}
	res := &Result{Deployment: deployment}
	pods, err := c.newPods(ctx, in.Env.Namespace, res.Deployment, v.Revision)
	if err != nil {
		return err
	}
	t := CheckTarget{Env: in.Env.Name, Namespace: in.Env.Namespace, Deployment: res.Deployment,
		Version: in.Version, Image: in.Image, Revision: v.Revision, Pods: pods, Port: in.Project.Deploy.Port}
	o.Progress.Report(progress.Event{Kind: progress.Start, Step: "checks", Msg: fmt.Sprintf("checking %s in %s on %d pods", in.Version, in.Env.Name, len(pods))})
	start := time.Now()
	results, err := o.Checker.Check(ctx, t)
	v.Checks = results
	if err != nil {
		return fmt.Errorf("checking %s in %s: %w", in.Version, in.Env.Name, err)
	}
	if err := c.recordChecks(ctx, t.Namespace, t.Deployment, newChecksRecord(in, results, time.Now())); err != nil {
		// The record is for status to show; the verdict stands without it.
		o.Progress.Report(progress.Event{Kind: progress.Warn, Step: "checks", Msg: err.Error()})
	}
	f := failedCheck(results)
	if f == nil {
		names := make([]string, len(results))
		for i, r := range results {
			names[i] = r.Check
		}
		o.Progress.Report(progress.Event{Kind: progress.Finish, Step: "checks", Msg: fmt.Sprintf("checks passed in %.1fs: %s", time.Since(start).Seconds(), strings.Join(names, ", "))})
		return nil
	}
	v.Phase, v.Reason = PhaseFailed, ReasonCheckFailed
	v.Message = fmt.Sprintf("the pods are ready, but check %s failed: %s", f.Check, f.Message)
	v.Hint = fmt.Sprintf("fix what the check found, or the check in slipway.yaml (environments.%s.checks or deploy.checks), and deploy again", in.Env.Name)
	if f.Check == AnalysisCheckName {
		v.Hint = fmt.Sprintf("fix what the canary's analysis found, or its metrics in slipway.yaml (environments.%s.analysis), and deploy again", in.Env.Name)
	}
	return nil
}

// newPods lists the ready, running pods of Deployment ns/name's
// ReplicaSet at revision, by name.
func (c *Cluster) newPods(ctx context.Context, ns, name string, revision int64) ([]string, error) {
	rss, err := c.replicaSets(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(rss, func(rs appsv1.ReplicaSet) bool { return revisionOfRS(&rs) == revision })
	if i < 0 {
		return nil, fmt.Errorf("finding the ReplicaSet of %s at revision %d: there is none", name, revision)
	}
	// Pods are made from the template, which carries its hash.
	hash := appsv1.DefaultDeploymentUniqueLabelKey
	sel := labels.SelectorFromSet(labels.Set{hash: rss[i].Spec.Template.Labels[hash]})
	list, err := retried(ctx, c, "listing the pods of "+rss[i].Name, func(ctx context.Context) (*corev1.PodList, error) {
		return c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	})
	if err != nil {
		return nil, c.explain(err, "listing the pods of "+rss[i].Name)
	}
	var out []string
	for _, p := range list.Items {
		if metav1.IsControlledBy(&p, &rss[i]) && p.DeletionTimestamp == nil && podReady(&p) {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// checkLines writes the tail of the output of v's failed checks for
// FailedError; the summary line already says what failed.
func checkLines(b *strings.Builder, v *Verdict) {
	for _, r := range v.Checks {
		if r.Passed || len(r.Output) == 0 {
			continue
		}
		fmt.Fprintf(b, "\ncheck %s, its output ends:", r.Check)
		for _, l := range r.Output {
			fmt.Fprintf(b, "\n  | %s", l)
		}
	}
}
