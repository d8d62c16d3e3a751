package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/remedy"
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
	// Lock, when set, takes the environment's deploy lock (Cluster.Lock)
	// before anything is read, and releases it at the end, also on failure
	// and interrupt. Empty Namespace and Name are the environment's
	// (LockName); the namespace is created for the lock when Slipway
	// creates it anyway. Breaking a lock adds whose it was to the reason
	// recorded on the Deployment.
	Lock *LockOptions
	// Checker, when set, runs the environment's after-rollout checks once
	// the pods pass; a failed check fails the rollout, which is rolled
	// back like any other.
	Checker Checker
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
	RolledBackTo int64 `json:"rolledBackTo,omitempty"`
	// BrokeLock is the run whose lock --break-lock took, if any.
	BrokeLock *Holder  `json:"brokeLock,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Seconds   float64  `json:"seconds"`
}

// FailedError is a failed rollout, with its verdict and what was done
// about it. It matches ErrFailed.
type FailedError struct {
	Result Result
}

// Error is a summary line, then the failing pods, the recent events, what
// was done about it and the next step, one per line.
func (e *FailedError) Error() string {
	var b strings.Builder
	b.WriteString(e.Summary())
	b.WriteString(e.Evidence())
	switch {
	case e.Result.RolledBack && e.Result.RolledBackTo > 0:
		fmt.Fprintf(&b, "\nrolled back to revision %d, which is running again", e.Result.RolledBackTo)
	case e.Result.RolledBack:
		b.WriteString("\nremoved the new Deployment: there was nothing to roll back to")
	default:
		b.WriteString("\nleft as it is (--no-rollback)")
	}
	if h := e.Result.Verdict.Hint; h != "" {
		b.WriteString("\nnext: " + h)
	}
	return b.String()
}

// Summary is the first line of Error: what failed, and why.
func (e *FailedError) Summary() string {
	v := e.Result.Verdict
	return fmt.Sprintf("deploying %s to %s failed: %s: %s", e.Result.Version, e.Result.Env, v.Reason, v.Message)
}

// Evidence is what Error lists after the summary, each on a line of its
// own after a newline: the failing pods with their last log lines, the
// recent events and the failed checks' output.
func (e *FailedError) Evidence() string {
	v := e.Result.Verdict
	var b strings.Builder
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
		if len(p.Logs) > 0 {
			fmt.Fprintf(&b, "\n  its last log lines:")
			for _, l := range p.Logs {
				fmt.Fprintf(&b, "\n  | %s", l)
			}
		}
	}
	for _, ev := range v.Events {
		fmt.Fprintf(&b, "\nevent %s", ev)
	}
	checkLines(&b, v)
	return b.String()
}

// Is makes errors.Is(err, ErrFailed) true.
func (e *FailedError) Is(target error) bool { return target == ErrFailed }

// Deploy renders, applies and waits for a verdict; a failed rollout is
// rolled back (and waited for) unless NoRollback. Deploying what already
// runs, healthy, changes nothing. With Lock, all of it happens under the
// environment's deploy lock.
//
// Every call to the cluster rides out an API server that restarts (see
// Cluster.call), for at most the timeout in each call.
//
// When ctx is cancelled (an interrupt), Deploy stops waiting, leaves the
// cluster as it is (a rollout under way carries on in Kubernetes; it is
// not rolled back), releases the lock and returns an InterruptedError
// saying what it left. When another run breaks the lock, Deploy stops
// waiting in the same way and returns an error matching ErrLockLost.
func Deploy(ctx context.Context, o Options) (res Result, err error) {
	start := time.Now()
	o.Progress = progress.Or(o.Progress)
	in := o.Render
	m, res, err := renderDeploy(in, o.Progress)
	if err != nil {
		return res, err
	}
	o.Timeout = cmp.Or(o.Timeout, in.Project.Deploy.Timeout.Duration)
	c := o.Cluster.with(o.Progress, o.Timeout)
	intr := &interrupt{ctx: ctx, env: in.Env.Name, version: in.Version}

	reason := o.Reason
	wctx := ctx // the context of the waits, cancelled when the lock is lost
	if o.Lock != nil {
		lo := deployLock(*o.Lock, in, m)
		held, lerr := c.holdLock(ctx, lo, o.Progress, "deploying "+in.Version+" to "+in.Env.Name)
		if lerr != nil {
			return res, intr.of(lerr, 0)
		}
		defer func() { err = held.end(ctx, err) }()
		wctx = held.ctx
		res.BrokeLock, reason = held.broke(reason, lo.Reason)
	}

	// before is the revision running before this deploy, 0 for none.
	before, same, err := c.current(ctx, m, in.Image, o.ForceConflicts)
	if err != nil {
		return res, intr.of(err, 0)
	}
	if same {
		res.UpToDate, res.Revision = true, before
		res.Seconds = time.Since(start).Seconds()
		return res, nil
	}
	stampDeploy(m.Deployment, o, reason)
	failed, err := c.rollOut(ctx, wctx, m, o, before, intr, &res)
	if err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	if failed {
		return res, &FailedError{Result: res}
	}
	return res, nil
}

// rollOut applies m, waits for the verdict on its rollout and rolls a
// failed one back to the revision before (0 for none) unless
// o.NoRollback, recording all of it in res; failed is true when the
// rollout failed. The waits use wctx, which ends when the lock is lost;
// intr follows how far it came.
func (c *Cluster) rollOut(ctx, wctx context.Context, m Manifests, o Options, before int64, intr *interrupt, res *Result) (failed bool, err error) {
	in := o.Render
	o.Progress.Report(progress.Event{Kind: progress.Start, Step: "deploy", Msg: fmt.Sprintf("applying %s to %s (context %s)", in.Version, in.Env.Name, c.Context)})
	intr.stage = stageApplying
	applied, err := c.Apply(ctx, m, ApplyOptions{Force: o.ForceConflicts})
	if err != nil {
		return false, intr.of(err, 0)
	}
	intr.stage = stageRollout
	wait := WaitOptions{Namespace: in.Env.Namespace, Name: res.Deployment, Generation: applied.Deployment.Generation,
		Timeout: o.Timeout, Stability: o.Stability, Progress: o.Progress}
	v, err := Wait(wctx, c.Client, wait)
	if err != nil {
		return false, intr.of(c.explain(err, "waiting for "+res.Deployment), res.Revision)
	}
	res.Verdict, res.Revision = &v, v.Revision
	if v.Phase == PhaseSucceeded && o.Checker != nil {
		intr.stage = stageChecks
		if err := c.runChecks(wctx, o, res, &v); err != nil {
			return false, intr.of(err, res.Revision)
		}
	}
	if v.Phase == PhaseSucceeded {
		return false, nil
	}
	if !o.NoRollback {
		intr.stage = stageRollback
		if err := rollbackAfter(wctx, c, res, before, wait, o.Progress); err != nil {
			return true, intr.ofRollback(err, before, v)
		}
	}
	return true, nil
}

// renderDeploy renders the manifests of a deploy and reports their
// warnings; it refuses pods that would not start. The result names what
// is deployed where.
func renderDeploy(in RenderInput, rep progress.Reporter) (Manifests, Result, error) {
	env := in.Env
	m, err := Render(in)
	if err != nil {
		return Manifests{}, Result{}, err
	}
	if len(m.Refusals) > 0 {
		return Manifests{}, Result{Env: env.Name, Namespace: env.Namespace, Image: in.Image, Version: in.Version, Warnings: m.Warnings},
			fmt.Errorf("deploying %s to %s: %w: %s", in.Version, env.Name, ErrWouldNotStart, strings.Join(m.Refusals, "; "))
	}
	for _, w := range m.Warnings {
		rep.Report(progress.Event{Kind: progress.Warn, Step: "deploy", Msg: w})
	}
	return m, Result{Env: env.Name, Namespace: env.Namespace, Deployment: m.Deployment.Name, Image: in.Image, Version: in.Version, Warnings: m.Warnings}, nil
}

// deployLock fills in what lo leaves out for a deploy of in: the
// environment's lock, made with the namespace when Slipway creates it.
func deployLock(lo LockOptions, in RenderInput, m Manifests) LockOptions {
	env := in.Env
	lo.Namespace = cmp.Or(lo.Namespace, env.Namespace)
	lo.Name = cmp.Or(lo.Name, LockName(in.Project, env))
	lo.CreateNamespace = lo.CreateNamespace || m.Namespace != nil
	lo.Holder.Env = cmp.Or(lo.Holder.Env, env.Name)
	lo.Holder.Operation = cmp.Or(lo.Holder.Operation, "deploy")
	lo.Holder.Version = cmp.Or(lo.Holder.Version, in.Version)
	return lo
}

// current reads the live Deployment of m: its revision (0 when there is
// none), and whether it already runs image as applying m would leave it.
func (c *Cluster) current(ctx context.Context, m Manifests, image string, force bool) (revision int64, same bool, err error) {
	ns, name := m.Deployment.Namespace, m.Deployment.Name
	live, err := c.deployment(ctx, ns, name)
	switch {
	case apierrors.IsNotFound(err):
		return 0, false, nil
	case err != nil:
		return 0, false, c.explain(err, "reading Deployment "+ns+"/"+name)
	}
	same, err = c.runsAlready(ctx, live, m, image, force)
	return revisionOf(live), same, err
}

// runsAlready reports whether live runs image, healthy, and applying m
// would change nothing (a server-side dry run keeps its generation).
func (c *Cluster) runsAlready(ctx context.Context, live *appsv1.Deployment, m Manifests, image string, force bool) (bool, error) {
	if live.Annotations[AnnotationDigest] != DigestOf(image) || !healthy(live) {
		return false, nil
	}
	// Keep the live deploy record in the dry run: a Deployment's
	// generation counts annotation changes too.
	same := m.Deployment.DeepCopy()
	for _, k := range []string{AnnotationBy, AnnotationAt, AnnotationReason} {
		if v, ok := live.Annotations[k]; ok {
			same.Annotations[k] = v
		}
	}
	dry, err := c.Apply(ctx, Manifests{Namespace: m.Namespace, Deployment: same}, ApplyOptions{DryRun: true, Force: force})
	if err != nil {
		return false, err
	}
	return dry.Deployment.Generation == live.Generation, nil
}

// stampDeploy records on d who deployed it, when and why.
func stampDeploy(d *appsv1.Deployment, o Options, reason string) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	record := map[string]string{AnnotationBy: o.Who, AnnotationAt: now().UTC().Format(time.RFC3339)}
	if reason != "" {
		record[AnnotationReason] = reason
	}
	maps.Copy(d.Annotations, record)
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
		err := c.call(ctx, "removing Deployment "+wait.Namespace+"/"+wait.Name, func(ctx context.Context) error {
			return c.Client.AppsV1().Deployments(wait.Namespace).Delete(ctx, wait.Name, metav1.DeleteOptions{})
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return c.explain(err, "removing the failed Deployment "+wait.Name)
		}
		res.RolledBack = true
		return nil
	}
	to := revisionOfRS(prev)
	rep.Report(progress.Event{Kind: progress.Start, Step: "rollback", Msg: fmt.Sprintf("rolling back to revision %d", to)})
	gen, err := retried(ctx, c, "rolling back "+wait.Name, func(ctx context.Context) (int64, error) {
		return Rollback(ctx, c.Client, wait.Namespace, wait.Name, prev, FieldManager)
	})
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

// deployment reads Deployment ns/name, riding out an API server restart.
func (c *Cluster) deployment(ctx context.Context, ns, name string) (*appsv1.Deployment, error) {
	return retried(ctx, c, "reading Deployment "+ns+"/"+name, func(ctx context.Context) (*appsv1.Deployment, error) {
		return c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	})
}

func (c *Cluster) replicaSets(ctx context.Context, ns, name string) ([]appsv1.ReplicaSet, error) {
	d, err := c.deployment(ctx, ns, name)
	if err != nil {
		return nil, c.explain(err, "reading Deployment "+ns+"/"+name)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("reading the selector of %s: %w", name, err)
	}
	list, err := retried(ctx, c, "listing ReplicaSets of "+name, func(ctx context.Context) (*appsv1.ReplicaSetList, error) {
		return c.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	})
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

// ErrInterrupted is matched by a deploy or rollback stopped by an
// interrupt (its context cancelled); such an error also matches
// context.Canceled.
var ErrInterrupted = errors.New("interrupted")

// InterruptedError says what an interrupted deploy or rollback left in the
// cluster. It matches ErrInterrupted and the context's error.
type InterruptedError struct {
	Env string
	// State is what the environment was left with, e.g. "the rollout of
	// 1.2.3 to prod continues in the cluster".
	State string
	// Next is what to do next, for the command line to word.
	Next remedy.Remedy
	// Released is true when the deploy lock was held and released.
	Released bool
	Err      error
}

// Error is "interrupted: STATE" and whether the lock was released; the
// next step is its Remedy.
func (e *InterruptedError) Error() string {
	msg := "interrupted: " + e.State
	if e.Released {
		msg += "; released the lock of " + e.Env
	}
	return msg
}

// Remedy returns e.Next.
func (e *InterruptedError) Remedy() remedy.Remedy { return e.Next }

// Unwrap makes errors.Is match ErrInterrupted and the context's error.
func (e *InterruptedError) Unwrap() []error { return []error{ErrInterrupted, e.Err} }

// deployStage is how far a deploy has come, for what an interrupt leaves.
type deployStage int

// Stages of a deploy.
const (
	stageNothing  deployStage = iota // nothing changed yet
	stageApplying                    // applying the manifests
	stageRollout                     // the rollout runs
	stageChecks                      // checking a rollout that completed
	stageRollback                    // rolling back a failed rollout
)

// deployState says what an interrupt at stage left in env.
func deployState(stage deployStage, version, env string, revision int64) string {
	switch stage {
	case stageApplying:
		return fmt.Sprintf("while applying %s to %s: some of its objects may be applied, and if the Deployment was, its rollout continues in the cluster", version, env)
	case stageRollout:
		rev := ""
		if revision > 0 {
			rev = fmt.Sprintf(" (revision %d)", revision)
		}
		return fmt.Sprintf("the rollout of %s to %s%s continues in the cluster: Kubernetes carries it on, and it was not rolled back", version, env, rev)
	case stageChecks:
		return fmt.Sprintf("the rollout of %s to %s completed, and its checks were cut short: it was not rolled back", version, env)
	case stageRollback:
		return fmt.Sprintf("the rollback of %s continues in the cluster", env)
	}
	return fmt.Sprintf("nothing was changed in %s", env)
}

// deployNext is the next step after an interrupt at stage.
func deployNext(stage deployStage, env string) remedy.Remedy {
	if stage == stageNothing {
		return remedy.Remedy{Kind: remedy.DeployAgain, Env: env}
	}
	return remedy.Remedy{Kind: remedy.FollowDeploy, Env: env}
}

// interrupt turns a deploy's errors into an *InterruptedError once ctx is
// cancelled (an interrupt), saying what it left at stage.
type interrupt struct {
	ctx          context.Context
	env, version string
	stage        deployStage
}

// of returns err, or when ctx was cancelled an *InterruptedError;
// revision is the one rolling out, 0 when not known.
func (i *interrupt) of(err error, revision int64) error {
	if err == nil || i.ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		return err
	}
	return &InterruptedError{Env: i.env, State: deployState(i.stage, i.version, i.env, revision), Next: deployNext(i.stage, i.env), Err: i.ctx.Err()}
}

// ofRollback is of for the rollback after the rollout v failed.
func (i *interrupt) ofRollback(err error, before int64, v Verdict) error {
	err = i.of(err, before)
	if ie, ok := err.(*InterruptedError); ok {
		ie.State = fmt.Sprintf("%s failed in %s (%s), and the rollback to the revision before it continues in the cluster", i.version, i.env, v.Reason)
	}
	return err
}

// heldLock is the lock a deploy or rollback holds while it changes an
// environment.
type heldLock struct {
	lock *Lock
	// ctx is the context of the waits, cancelled when the lock is lost.
	ctx    context.Context
	cancel context.CancelFunc
	doing  string // what the holder does, for the error when it is lost
	rep    progress.Reporter
}

// holdLock takes the lock lo describes (reporting to rep unless lo has a
// reporter of its own) for doing; defer end with the operation's error.
func (c *Cluster) holdLock(ctx context.Context, lo LockOptions, rep progress.Reporter, doing string) (*heldLock, error) {
	if lo.Progress == nil {
		lo.Progress = rep
	}
	lock, err := c.Lock(ctx, lo)
	if err != nil {
		return nil, err
	}
	h := &heldLock{lock: lock, doing: doing, rep: rep}
	h.ctx, h.cancel = lock.bound(ctx)
	return h, nil
}

// broke returns the lock this one broke, nil for none, and the reason to
// record for the operation: reason, else why it was broken, naming whose
// lock it was (see brokeReason).
func (h *heldLock) broke(reason, why string) (*Holder, string) {
	if h.lock.Broken == nil {
		return nil, reason
	}
	return h.lock.Broken, brokeReason(reason, why, *h.lock.Broken)
}

// end turns err into the lost-lock error when the lock was lost, stops the
// waits' context and releases the lock.
func (h *heldLock) end(ctx context.Context, err error) error {
	err = lostError(h.ctx, h.lock, err, h.doing)
	h.cancel()
	return release(ctx, h.lock, err, h.rep)
}

// release releases the lock at the end of a deploy or rollback that
// returns err, noting on an InterruptedError that it did. A lock that
// cannot be released is a warning: it expires by itself.
func release(ctx context.Context, l *Lock, err error, rep progress.Reporter) error {
	rerr := l.Release(ctx)
	var ie *InterruptedError
	if errors.As(err, &ie) {
		ie.Released = rerr == nil
	}
	if rerr != nil {
		rep.Report(progress.Event{Kind: progress.Warn, Step: "lock", Msg: fmt.Sprintf("%v; it expires by itself within %s", rerr, l.o.Duration)})
	}
	return err
}

// lostError turns err, when wctx was cancelled because the lock was lost,
// into an error that says who took it and what was left.
func lostError(wctx context.Context, l *Lock, err error, doing string) error {
	if err == nil || !errors.Is(context.Cause(wctx), ErrLockLost) {
		return err
	}
	return fmt.Errorf("%s: %w by %s; stopped waiting and left the rollout as it is: that run decides now",
		doing, ErrLockLost, l.LostTo())
}

// brokeReason is the reason recorded on a Deployment deployed after
// breaking the lock of holder: the deploy's reason (else why the lock was
// broken) and whose lock it was.
func brokeReason(reason, why string, holder Holder) string {
	note := "broke the deploy lock held by " + holder.String()
	switch {
	case reason == "":
		return note + ": " + why
	case reason == why || strings.HasSuffix(reason, ": "+why):
		return reason + "; " + note
	}
	return reason + "; " + note + ": " + why
}
