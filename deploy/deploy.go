package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipwayhq/slipway/progress"
)

// ErrFailed is matched by a deploy whose rollout failed.
var ErrFailed = errors.New("rollout failed")

// Options configure Deploy.
type Options struct {
	Render  RenderInput
	Cluster *Cluster
	// Timeout bounds the wait for a verdict (default: deploy.timeout).
	Timeout time.Duration
	// Stability is how long the rollout must look done before it counts as
	// done. The Deployment's minReadySeconds (deploy.stability) already
	// keeps a new pod from counting as available, or replacing an old one,
	// until it has stayed ready that long, so the default is 0.
	Stability time.Duration
	// NoRollback leaves a failed rollout as it is.
	NoRollback bool
	// ForceConflicts takes over fields other managers own.
	ForceConflicts bool
	// Who and Reason are recorded on the Deployment.
	Who, Reason string
	// Now is the deploy time (default time.Now).
	Now      func() time.Time
	Progress progress.Reporter
}

// Result is what a deploy did.
type Result struct {
	Env        string `json:"environment"`
	Namespace  string `json:"namespace"`
	Deployment string `json:"deployment"`
	Image      string `json:"image"`
	Version    string `json:"version"`
	Revision   int64  `json:"revision,omitempty"`
	UpToDate   bool   `json:"upToDate"`
	// Note says why an up-to-date deploy had nothing to do, when it is not
	// the obvious reason.
	Note       string   `json:"note,omitempty"`
	Verdict    *Verdict `json:"verdict,omitempty"`
	RolledBack bool     `json:"rolledBack,omitempty"`
	// RolledBackTo is the revision restored after a failure; 0 with
	// RolledBack means the new Deployment was removed (there was nothing
	// before it).
	RolledBackTo int64    `json:"rolledBackTo,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
	Seconds      float64  `json:"seconds"`
}

// FailedError is a failed rollout, with its verdict and what was done
// about it. It matches ErrFailed.
type FailedError struct {
	Result Result
}

// Error is a summary line, then the failing pods, the recent events, what
// was done about it and the next step, one per line.
func (e *FailedError) Error() string {
	v := e.Result.Verdict
	var b strings.Builder
	fmt.Fprintf(&b, "deploying %s to %s failed: %s: %s", e.Result.Version, e.Result.Env, v.Reason, v.Message)
	for _, p := range v.Pods {
		fmt.Fprintf(&b, "\npod %s", p.Pod)
		if p.Container != "" {
			fmt.Fprintf(&b, " container %s", p.Container)
		}
		fmt.Fprintf(&b, ": %s", p.Reason)
		if p.ExitCode != 0 {
			fmt.Fprintf(&b, " (exit code %d)", p.ExitCode)
		}
		if p.Message != "" {
			fmt.Fprintf(&b, ": %s", p.Message)
		}
	}
	for _, ev := range v.Events {
		fmt.Fprintf(&b, "\nevent %s", ev)
	}
	switch {
	case e.Result.RolledBack && e.Result.RolledBackTo > 0:
		fmt.Fprintf(&b, "\nrolled back to revision %d, which is running again", e.Result.RolledBackTo)
	case e.Result.RolledBack:
		b.WriteString("\nremoved the new Deployment: there was nothing to roll back to")
	default:
		b.WriteString("\nleft as it is (--no-rollback)")
	}
	if v.Hint != "" {
		b.WriteString("\nnext: " + v.Hint)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrFailed) true.
func (e *FailedError) Is(target error) bool { return target == ErrFailed }

// Deploy renders, applies and waits for a verdict; a failed rollout is
// rolled back (and waited for) unless NoRollback. Deploying what already
// runs, healthy, changes nothing.
func Deploy(ctx context.Context, o Options) (Result, error) {
	start := time.Now()
	rep := progress.Or(o.Progress)
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	in := o.Render
	env := in.Env
	m, err := Render(in)
	if err != nil {
		return Result{}, err
	}
	if len(m.Refusals) > 0 {
		return Result{Env: env.Name, Namespace: env.Namespace, Image: in.Image, Version: in.Version, Warnings: m.Warnings},
			fmt.Errorf("deploying %s to %s: %w: %s", in.Version, env.Name, ErrWouldNotStart, strings.Join(m.Refusals, "; "))
	}
	name := m.Deployment.Name
	var before int64 // the revision running before this deploy, 0 for none
	res := Result{Env: env.Name, Namespace: env.Namespace, Deployment: name, Image: in.Image, Version: in.Version, Warnings: m.Warnings}
	for _, w := range m.Warnings {
		rep.Report(progress.Event{Kind: progress.Warn, Step: "deploy", Msg: w})
	}
	c := o.Cluster
	deployments := c.Client.AppsV1().Deployments(env.Namespace)

	live, err := deployments.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return res, c.explain(err, "reading Deployment "+env.Namespace+"/"+name)
	}
	if live != nil {
		before = revisionOf(live)
	}
	if live != nil && live.Annotations[AnnotationDigest] == digestOf(in.Image) && healthy(live) {
		// Keep the live deploy record in the dry run: a Deployment's
		// generation counts annotation changes too.
		same := m.Deployment.DeepCopy()
		for _, k := range []string{AnnotationBy, AnnotationAt, AnnotationReason} {
			if v, ok := live.Annotations[k]; ok {
				same.Annotations[k] = v
			}
		}
		dry, err := c.Apply(ctx, Manifests{Namespace: m.Namespace, Deployment: same}, ApplyOptions{DryRun: true, Force: o.ForceConflicts})
		if err != nil {
			return res, err
		}
		if dry.Deployment.Generation == live.Generation {
			res.UpToDate, res.Revision = true, revisionOf(live)
			res.Seconds = time.Since(start).Seconds()
			return res, nil
		}
	}

	record := map[string]string{AnnotationBy: o.Who, AnnotationAt: now().UTC().Format(time.RFC3339)}
	if o.Reason != "" {
		record[AnnotationReason] = o.Reason
	}
	for k, v := range record {
		m.Deployment.Annotations[k] = v
	}
	rep.Report(progress.Event{Kind: progress.Start, Step: "deploy", Msg: fmt.Sprintf("applying %s to %s (context %s)", in.Version, env.Name, c.Context)})
	applied, err := c.Apply(ctx, m, ApplyOptions{Force: o.ForceConflicts})
	if err != nil {
		return res, err
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = in.Project.Deploy.Timeout.Duration
	}
	wait := WaitOptions{Namespace: env.Namespace, Name: name, Generation: applied.Deployment.Generation,
		Timeout: timeout, Stability: o.Stability, Progress: rep}
	v, err := Wait(ctx, c.Client, wait)
	if err != nil {
		return res, c.explain(err, "waiting for "+name)
	}
	res.Verdict, res.Revision = &v, v.Revision
	if v.Phase == PhaseSucceeded {
		res.Seconds = time.Since(start).Seconds()
		return res, nil
	}

	if !o.NoRollback {
		if err := rollbackAfter(ctx, c, &res, before, wait, rep); err != nil {
			return res, err
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, &FailedError{Result: res}
}

// rollbackAfter restores the revision that ran before this deploy
// (before), waiting for it, or removes a Deployment that had none.
func rollbackAfter(ctx context.Context, c *Cluster, res *Result, before int64, wait WaitOptions, rep progress.Reporter) error {
	rss, err := c.replicaSets(ctx, wait.Namespace, wait.Name)
	if err != nil {
		return err
	}
	var prev *appsv1.ReplicaSet
	for i := range rss {
		if before > 0 && revisionOfRS(&rss[i]) == before && before != res.Revision {
			prev = &rss[i]
		}
	}
	if prev == nil && before > 0 {
		prev, _ = PreviousRevision(rss, res.Revision)
	}
	if prev == nil {
		rep.Report(progress.Event{Kind: progress.Info, Step: "rollback", Msg: "no earlier revision: removing the new Deployment"})
		err := c.Client.AppsV1().Deployments(wait.Namespace).Delete(ctx, wait.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return c.explain(err, "removing the failed Deployment "+wait.Name)
		}
		res.RolledBack = true
		return nil
	}
	to := revisionOfRS(prev)
	rep.Report(progress.Event{Kind: progress.Start, Step: "rollback", Msg: fmt.Sprintf("rolling back to revision %d", to)})
	gen, err := Rollback(ctx, c.Client, wait.Namespace, wait.Name, prev, FieldManager)
	if err != nil {
		return c.explain(err, "")
	}
	wait.Generation = gen
	v, err := Wait(ctx, c.Client, wait)
	if err != nil {
		return c.explain(err, "waiting for the rollback of "+wait.Name)
	}
	if v.Phase != PhaseSucceeded {
		return fmt.Errorf("rolling back %s to revision %d: %s: %s; the environment needs a look: kubectl -n %s get pods",
			wait.Name, to, v.Reason, v.Message, wait.Namespace)
	}
	res.RolledBack, res.RolledBackTo = true, to
	return nil
}

func (c *Cluster) replicaSets(ctx context.Context, ns, name string) ([]appsv1.ReplicaSet, error) {
	d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, c.explain(err, "reading Deployment "+ns+"/"+name)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("reading the selector of %s: %w", name, err)
	}
	list, err := c.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, c.explain(err, "listing ReplicaSets of "+name)
	}
	var out []appsv1.ReplicaSet
	for _, rs := range list.Items {
		if metav1.IsControlledBy(&rs, d) {
			out = append(out, rs)
		}
	}
	return out, nil
}

// healthy reports whether a Deployment's current spec is fully rolled out.
func healthy(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.Replicas == want &&
		s.AvailableReplicas == want && s.ReadyReplicas == want
}

func revisionOf(d *appsv1.Deployment) int64 { return parseRevision(d.Annotations[AnnotationRevision]) }

func revisionOfRS(rs *appsv1.ReplicaSet) int64 {
	return parseRevision(rs.Annotations[AnnotationRevision])
}

func parseRevision(s string) int64 {
	var n int64
	fmt.Sscan(s, &n)
	return n
}
