package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/slipwayhq/slipway/internal/progress"
)

// DefaultPoll is how often Wait looks at a rollout when WaitOptions.Poll is 0.
const DefaultPoll = 250 * time.Millisecond

// finalLook bounds the last look Wait takes when its timeout runs out.
const finalLook = 10 * time.Second

// wakeGap is the least time between two looks prompted by watch events.
const wakeGap = 50 * time.Millisecond

// watchRetryMax is the longest pause between tries to open a watch that
// keeps failing.
const watchRetryMax = 5 * time.Second

// errorSpell is how long Wait keeps retrying API errors that may pass
// (timeouts, 5xx, throttling, connection trouble) before giving up.
const errorSpell = 30 * time.Second

// WaitOptions configure Wait.
type WaitOptions struct {
	Namespace, Name string
	// Generation is the Deployment generation the apply produced; 0 means
	// the generation Wait first sees.
	Generation int64
	// Timeout bounds the wait; 0 leaves it to ctx and the Deployment's
	// progress deadline.
	Timeout time.Duration
	// Stability is how long the rollout must stay complete before it
	// succeeds; 0 succeeds as soon as it is complete.
	Stability time.Duration
	// Poll is how often to look (default DefaultPoll). Changes to the
	// Deployment or its pods are also watched, and looked at at once.
	Poll time.Duration
	// SchedulingGrace is how long new pods may stay unschedulable with
	// nothing that could unblock them (default DefaultSchedulingGrace).
	SchedulingGrace time.Duration
	// Started is when the rollout began; zero means when Wait is called.
	// Set it to just before the apply so events of the first instants count.
	Started time.Time
	// Progress receives an Update (step "rollout") each time the counts or
	// the pods' phases change.
	Progress progress.Reporter
}

// Wait watches a Deployment's rollout until Judge reaches a verdict and
// returns it: succeeded or failed, with the reason.
//
// A rollout still incomplete when Timeout runs out is a failed Verdict
// with Reason ReasonTimeout, naming what was missing, and a nil error:
// like every failed verdict it is an answer about the rollout, and the
// caller decides what to do with it. The error is for when no answer
// could be had: the Deployment is missing, the API refuses or stays
// unreachable for 30 seconds, or ctx ends; then the Verdict is the last
// one seen (progressing). API errors are wrapped with %w, so apierrors
// predicates still apply.
func Wait(ctx context.Context, c kubernetes.Interface, o WaitOptions) (Verdict, error) {
	if o.Namespace == "" || o.Name == "" {
		return Verdict{}, errors.New("waiting for a rollout: namespace and name are required")
	}
	w := waiter{c: c, o: o, rep: progress.Or(o.Progress), gen: o.Generation, started: o.Started}
	if w.o.Poll <= 0 {
		w.o.Poll = DefaultPoll
	}
	if w.started.IsZero() {
		w.started = time.Now()
	}
	w.what = fmt.Sprintf("deployment %s/%s", o.Namespace, o.Name)

	var timeout <-chan time.Time
	lookCtx := ctx
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		timeout = t.C
		// Looks end with the wait: a request the API server never answers
		// must not hold it past its timeout.
		var cancel context.CancelFunc
		lookCtx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	tick := time.NewTicker(w.o.Poll)
	defer tick.Stop()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	wake := make(chan struct{}, 1)

	w.last = Verdict{Phase: PhaseProgressing, Reason: ReasonProgressing, Message: "waiting for " + w.what}
	for {
		if done, err := w.step(ctx, lookCtx, wctx, wake); done {
			return w.last, err
		}
		looked := time.Now()
		select {
		case <-ctx.Done():
			return w.last, fmt.Errorf("waiting for %s: %w", w.what, ctx.Err())
		case <-timeout:
			fctx, cancel := context.WithTimeout(ctx, finalLook)
			defer cancel()
			return w.timedOut(fctx, w.last)
		case <-tick.C:
		case <-wake:
			// Many pods changing at once must not turn into a burst of
			// looks: leave at least wakeGap between them.
			pause(ctx, wakeGap-time.Since(looked))
		}
	}
}

// step looks once (through lookCtx) and keeps the verdict in w.last;
// done says Wait ends there, with err. The first look that finds the
// rollout in progress starts watching it (until wctx ends), waking the
// wait on changes. Transient errors end the wait only when they last
// errorSpell.
func (w *waiter) step(ctx, lookCtx, wctx context.Context, wake chan<- struct{}) (done bool, err error) {
	v, obs, err := w.look(lookCtx, false)
	switch {
	case err == nil:
		w.errSince = time.Time{}
		w.last = v
		if v.Phase != PhaseProgressing {
			return true, nil
		}
		if !w.watching {
			w.watching = true
			go w.watch(wctx, obs.Deployment, wake)
		}
		return false, nil
	case ctx.Err() != nil:
		return true, fmt.Errorf("waiting for %s: %w", w.what, ctx.Err())
	case !transient(err):
		return true, err
	}
	if w.errSince.IsZero() {
		w.errSince = time.Now()
	} else if time.Since(w.errSince) >= errorSpell {
		return true, err
	}
	return false, nil
}

// pause waits for d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// waiter holds what Wait carries from one look to the next.
type waiter struct {
	c                        kubernetes.Interface
	o                        WaitOptions
	rep                      progress.Reporter
	gen                      int64
	started                  time.Time
	readySince, blockedSince time.Time
	reported                 string
	eventsFailed             bool
	// what names the Deployment in messages.
	what string
	// last is the latest verdict; errSince is when looks began to fail
	// (zero while they succeed); watching is true once a watch runs.
	last     Verdict
	errSince time.Time
	watching bool
}

// look observes the rollout once and judges it. It lists events only when
// they can change or explain the verdict (pods blocked, or a failure), or
// when withEvents.
func (w *waiter) look(ctx context.Context, withEvents bool) (Verdict, Observation, error) {
	obs, err := w.observe(ctx)
	if err != nil {
		return Verdict{}, obs, err
	}
	v := Judge(obs)
	if withEvents || v.Phase == PhaseFailed || !v.BlockedSince.IsZero() {
		// Events only add detail: without them (no permission to list
		// them, say) the verdict stands.
		evs, err := w.c.CoreV1().Events(w.o.Namespace).List(ctx, metav1.ListOptions{})
		if err == nil {
			obs.Events = evs.Items
			v = Judge(obs)
		} else if !w.eventsFailed && ctx.Err() == nil {
			w.eventsFailed = true
			w.rep.Report(progress.Event{Kind: progress.Warn, Step: "rollout",
				Msg: fmt.Sprintf("cannot list events in namespace %s, verdicts will lack their detail: %v", w.o.Namespace, err)})
		}
	}
	w.readySince, w.blockedSince = v.ReadySince, v.BlockedSince
	w.report(v, obs)
	return v, obs, nil
}

// observe reads the Deployment, its ReplicaSets and their pods.
func (w *waiter) observe(ctx context.Context) (Observation, error) {
	ns, name := w.o.Namespace, w.o.Name
	d, err := w.c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return Observation{}, fmt.Errorf("reading deployment %s/%s: %w", ns, name, err)
	}
	w.gen = cmp.Or(w.gen, d.Generation)
	obs := Observation{
		Deployment: d, Generation: w.gen, Now: time.Now(), Started: w.started,
		ReadySince: w.readySince, BlockedSince: w.blockedSince,
		Stability: w.o.Stability, SchedulingGrace: w.o.SchedulingGrace,
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return obs, fmt.Errorf("reading the selector of deployment %s/%s: %w", ns, name, err)
	}
	opts := metav1.ListOptions{LabelSelector: sel.String()}
	rss, err := w.c.AppsV1().ReplicaSets(ns).List(ctx, opts)
	if err != nil {
		return obs, fmt.Errorf("listing replica sets of deployment %s/%s: %w", ns, name, err)
	}
	owned := map[string]bool{}
	for _, rs := range rss.Items {
		if metav1.IsControlledBy(&rs, d) {
			obs.ReplicaSets = append(obs.ReplicaSets, rs)
			owned[string(rs.UID)] = true
		}
	}
	pods, err := w.c.CoreV1().Pods(ns).List(ctx, opts)
	if err != nil {
		return obs, fmt.Errorf("listing pods of deployment %s/%s: %w", ns, name, err)
	}
	for _, p := range pods.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && owned[string(ref.UID)] {
			obs.Pods = append(obs.Pods, p)
		}
	}
	return obs, nil
}

// report sends an Update when the counts or the new pods' phases changed.
func (w *waiter) report(v Verdict, obs Observation) {
	if v.Phase != PhaseProgressing {
		return
	}
	msg := v.Counts()
	if v.Revision == 0 {
		msg = "waiting for the new ReplicaSet"
	} else if ph := newPodPhases(obs); ph != "" {
		msg += "; pods: " + ph
	}
	if v.Reason == ReasonStabilizing {
		msg += fmt.Sprintf("; all ready, holding %s", w.o.Stability)
	}
	if msg == w.reported {
		return
	}
	w.reported = msg
	w.rep.Report(progress.Event{Kind: progress.Update, Step: "rollout", Msg: msg,
		Done: int64(v.Available), Total: int64(v.Desired)})
}

// newPodPhases counts the new ReplicaSet's pods by phase, e.g.
// "2 Running, 1 Pending"; terminating pods count as Terminating.
func newPodPhases(obs Observation) string {
	d := obs.Deployment
	if d == nil {
		return ""
	}
	rs := newReplicaSet(d, obs.ReplicaSets)
	if rs == nil {
		return ""
	}
	pods, _ := splitPods(obs, rs)
	counts := map[string]int{}
	for _, p := range pods {
		ph := string(p.Status.Phase)
		if p.DeletionTimestamp != nil {
			ph = "Terminating"
		} else if ph == "" {
			ph = string(corev1.PodPending)
		}
		counts[ph]++
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	return strings.Join(parts, ", ")
}

// timedOut looks one last time, with events, and turns a verdict still
// progressing into a failed one with ReasonTimeout.
func (w *waiter) timedOut(ctx context.Context, last Verdict) (Verdict, error) {
	v, obs, err := w.look(ctx, true)
	if err != nil {
		v = last
	} else if v.Phase != PhaseProgressing {
		return v, nil
	}
	name := w.o.Name
	v.Phase, v.Reason = PhaseFailed, ReasonTimeout
	v.Message = fmt.Sprintf("Deployment %s did not finish rolling out within %s: %s", name, w.o.Timeout, strings.TrimPrefix(v.Message, "waiting for the rollout: "))
	v.Hint = fmt.Sprintf("see kubectl describe deployment -n %s %s", w.o.Namespace, name)
	if d := obs.Deployment; d != nil {
		v.Hint = stuckHint(w.o.Namespace, d, v.Pods)
		rs := newReplicaSet(d, obs.ReplicaSets)
		var pods []corev1.Pod
		if rs != nil {
			pods, _ = splitPods(obs, rs)
		}
		v.Events = relevantEvents(obs, d, rs, pods)
	}
	v.ReadySince, v.BlockedSince = time.Time{}, time.Time{}
	return v, nil
}

// watch wakes the Wait loop whenever the Deployment or its pods change, so
// a verdict does not wait for the next poll. It is best effort: while a
// watch cannot be opened (the API server restarting, say), polling alone
// carries on and the watch is tried again, backing off from Poll to
// watchRetryMax; once it is open again the loop is woken, since changes
// made while nobody watched were missed.
func (w *waiter) watch(ctx context.Context, d *appsv1.Deployment, wake chan<- struct{}) {
	ns := w.o.Namespace
	open := []func() (watch.Interface, error){
		func() (watch.Interface, error) {
			return w.c.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{
				FieldSelector: fields.OneTermEqualSelector("metadata.name", w.o.Name).String()})
		},
	}
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
		open = append(open, func() (watch.Interface, error) {
			return w.c.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		})
	}
	for _, f := range open {
		go func() {
			pause, reopened := w.o.Poll, false
			for ctx.Err() == nil {
				wi, err := f()
				if err == nil {
					if reopened {
						signal(wake)
					}
					forward(ctx, wi, wake)
					wi.Stop()
					pause = w.o.Poll
				} else {
					pause = min(2*pause, max(watchRetryMax, w.o.Poll))
				}
				reopened = true
				select {
				case <-ctx.Done():
				case <-time.After(pause):
				}
			}
		}()
	}
}

// forward turns the events of one watch into wake-ups until it closes or
// ctx ends.
func forward(ctx context.Context, wi watch.Interface, wake chan<- struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-wi.ResultChan():
			if !ok || e.Type == watch.Error {
				return
			}
			signal(wake)
		}
	}
}

// signal wakes the Wait loop unless a wake-up is pending already.
func signal(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}

// transient reports whether an API error may go away by itself.
func transient(err error) bool {
	switch {
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err), apierrors.IsUnauthorized(err),
		apierrors.IsBadRequest(err), apierrors.IsInvalid(err), apierrors.IsMethodNotSupported(err):
		return false
	}
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		code := se.Status().Code
		return code == 0 || code >= 500 || code == 429 || apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err)
	}
	// Not from the API server: the network, most likely (Wait has checked
	// its own context first).
	return true
}
