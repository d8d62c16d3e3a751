package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/progress"
)

// refused is the error client-go returns for a call to an API server
// that is down: connection refused.
func refused(what string) error {
	return &url.Error{Op: "Get", URL: "https://127.0.0.1:6443/" + what, Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}}
}

// refusals counts the calls a restarting fake refused, by verb and
// resource.
type refusals struct {
	mu    sync.Mutex
	calls map[string]int
	by    map[string]int
}

// refuseEach makes every call to cs but watches and the rollout wait's
// own pod and event lists fail n times with connection refused, then
// pass once, then fail n times again, per verb and resource: each call a
// deploy makes meets n refusals in a row, as it would at an API server
// that restarts just before it.
func refuseEach(cs *fake.Clientset, n int) *refusals {
	r := &refusals{calls: map[string]int{}, by: map[string]int{}}
	cs.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		key := a.GetVerb() + " " + a.GetResource().Resource
		if key == "list pods" || key == "list events" {
			return false, nil, nil // Wait's own retries are tested by TestWaitRetriesTransientErrors
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		i := r.calls[key]
		r.calls[key]++
		if i%(n+1) < n {
			r.by[key]++
			return true, nil, refused(key)
		}
		return false, nil, nil
	})
	return r
}

// refused lists the calls refused at least once.
func (r *refusals) refused() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k := range r.by {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// rollingCluster is lockCluster playing the deployment controller and
// the kubelet: the rollout of an applied Deployment (a deploy's or a
// rollback's) completes at once, its pods ready, unless its image is
// crash, whose pods crash-loop. Dry runs change nothing. Retries pause
// 1ms.
func rollingCluster(t *testing.T, crash string) (*Cluster, *fake.Clientset) {
	t.Helper()
	c, cs := lockCluster(t)
	c.retryFirst = time.Millisecond
	tracker := cs.Tracker()
	apply := k8stesting.ObjectReaction(tracker)
	cs.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchActionImpl)
		var old *appsv1.Deployment
		if obj, err := tracker.Get(deploymentsGVR, pa.GetNamespace(), pa.GetName()); err == nil {
			old = obj.(*appsv1.Deployment).DeepCopy()
		}
		_, obj, err := apply(a)
		if err != nil {
			return true, nil, err
		}
		d := obj.(*appsv1.Deployment).DeepCopy()
		// Generations count changes of spec and annotations, as the API
		// server's do.
		d.UID, d.Generation = types.UID("uid-"+d.Name), 1
		if old != nil {
			d.Generation = old.Generation
			if !apiequality.Semantic.DeepEqual(old.Spec, d.Spec) || !apiequality.Semantic.DeepEqual(old.Annotations, d.Annotations) {
				d.Generation++
			}
		}
		if len(pa.PatchOptions.DryRun) > 0 {
			if old == nil {
				return true, d, tracker.Delete(deploymentsGVR, d.Namespace, d.Name)
			}
			return true, d, tracker.Update(deploymentsGVR, old, old.Namespace)
		}
		return true, d, rollOut(tracker, d, crash)
	})
	return c, cs
}

var (
	deploymentsGVR = appsv1.SchemeGroupVersion.WithResource("deployments")
	replicaSetsGVR = appsv1.SchemeGroupVersion.WithResource("replicasets")
	podsGVR        = corev1.SchemeGroupVersion.WithResource("pods")
)

// rollOut plays the controller for d: its template's ReplicaSet (the one
// already there, or a new one) at the next revision, its pods in place of
// all others, and the Deployment's status.
func rollOut(tracker k8stesting.ObjectTracker, d *appsv1.Deployment, crash string) error {
	list, err := tracker.List(replicaSetsGVR, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), d.Namespace)
	if err != nil {
		return err
	}
	var rev int64
	var rs *appsv1.ReplicaSet
	for _, r := range list.(*appsv1.ReplicaSetList).Items {
		rev = max(rev, revisionOfRS(&r))
		if equalIgnoreHash(&r.Spec.Template, &d.Spec.Template) {
			rs = r.DeepCopy()
		}
	}
	if rs == nil || strconv.FormatInt(revisionOfRS(rs), 10) != d.Annotations[AnnotationRevision] {
		rev++
	}
	exists := rs != nil
	if !exists {
		r := testRS(d, fmt.Sprint("r", rev), d.Spec.Template.Spec.Containers[0].Image, "", *d.Spec.Replicas)
		r.Spec.Template.Labels = maps2(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, r.Name)
		rs = &r
	}
	// The controller copies the Deployment's annotations to it.
	rs.Annotations = maps2(d.Annotations, AnnotationRevision, strconv.FormatInt(rev, 10))
	if exists {
		err = tracker.Update(replicaSetsGVR, rs, d.Namespace)
	} else {
		err = tracker.Add(rs)
	}
	if err != nil {
		return err
	}
	pods, err := tracker.List(podsGVR, corev1.SchemeGroupVersion.WithKind("Pod"), d.Namespace)
	if err != nil {
		return err
	}
	for _, p := range pods.(*corev1.PodList).Items {
		if err := tracker.Delete(podsGVR, p.Namespace, p.Name); err != nil {
			return err
		}
	}
	want := *d.Spec.Replicas
	for i := range want {
		var change []func(*corev1.Pod)
		if d.Spec.Template.Spec.Containers[0].Image == crash {
			change = append(change, crashLoop(1, "Error", 3))
		}
		p := testPod(*rs, fmt.Sprint(i), change...)
		p.Namespace = d.Namespace
		if err := tracker.Add(&p); err != nil {
			return err
		}
	}
	d.Annotations[AnnotationRevision] = strconv.FormatInt(rev, 10)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: want, UpdatedReplicas: want}
	if d.Spec.Template.Spec.Containers[0].Image != crash {
		d.Status.ReadyReplicas, d.Status.AvailableReplicas = want, want
	}
	return tracker.Update(deploymentsGVR, d, d.Namespace)
}

// maps2 is m with k set to v, in a new map.
func maps2(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

// devHolder is the holder of dev's lock, "" when free, read past the
// refusals.
func devHolder(t *testing.T, cs *fake.Clientset) string {
	t.Helper()
	l, err := cs.Tracker().Get(leasesGVR, testNS, "slipway-lock-hello-dev")
	if err != nil {
		t.Fatal(err)
	}
	return holderID(l.(*coordinationv1.Lease))
}

// otherImage is the image of examples/hello-go at another digest.
const otherImage = "127.0.0.1:5000/team/hello@sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

// TestDeployRidesOutRestarts makes every call of a deploy meet an API
// server that refuses connections twice before it answers: taking the
// lock, reading the live Deployment, each apply, the wait, the release.
// The deploy finishes as if nothing happened, saying it retried.
func TestDeployRidesOutRestarts(t *testing.T) {
	c, cs := rollingCluster(t, "")
	r := refuseEach(cs, 2)
	var rec progress.Recorder
	o := deployOptions(t, c)
	o.Progress = &rec
	res, err := Deploy(context.Background(), o)
	if err != nil {
		t.Fatalf("Deploy = %v after refusals of %v", err, r.refused())
	}
	if res.Verdict == nil || res.Verdict.Phase != PhaseSucceeded || res.Revision != 1 {
		t.Errorf("result %+v, want revision 1 rolled out", res)
	}
	for _, want := range []string{"get leases", "create leases", "update leases", "get deployments", "patch deployments", "patch services"} {
		if !slices.Contains(r.refused(), want) {
			t.Errorf("%q never refused (refused: %v)", want, r.refused())
		}
	}
	if h := devHolder(t, cs); h != "" {
		t.Errorf("lock still held by %q", h)
	}
	if !slices.ContainsFunc(rec.Msgs("cluster"), func(m string) bool {
		return strings.Contains(m, "refuses connections while taking") || strings.Contains(m, "refuses connections while reading Lease")
	}) {
		t.Errorf("retries not reported: %q", rec.Msgs("cluster"))
	}
	// Deployed again, unchanged: the up-to-date path (a dry run) rides it
	// out too.
	res, err = Deploy(context.Background(), o)
	if err != nil || !res.UpToDate {
		t.Errorf("second Deploy = %+v, %v; want up to date", res, err)
	}
}

// TestDeployRollbackRidesOutRestarts checks the rollback after a failed
// rollout under the same refusals: it reads the revisions, applies the
// one before, waits for it and releases the lock.
func TestDeployRollbackRidesOutRestarts(t *testing.T) {
	c, cs := rollingCluster(t, otherImage)
	o := deployOptions(t, c)
	if _, err := Deploy(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	r := refuseEach(cs, 2)
	o.Render.Image, o.Render.Version = otherImage, "1.2.4"
	res, err := Deploy(context.Background(), o)
	var fe *FailedError
	if !errors.As(err, &fe) || !res.RolledBack || res.RolledBackTo != 1 {
		t.Fatalf("Deploy = %+v, %v; want failed and rolled back to revision 1 (refused: %v)", res, err, r.refused())
	}
	if !slices.Contains(r.refused(), "list replicasets") {
		t.Errorf("the rollback's reads never refused (refused: %v)", r.refused())
	}
	if h := devHolder(t, cs); h != "" {
		t.Errorf("lock still held by %q", h)
	}
}

// TestUndoRidesOutRestarts checks `slipway rollback` under the same
// refusals: the lock, the history, the rollback's apply, the wait.
func TestUndoRidesOutRestarts(t *testing.T) {
	c, cs := rollingCluster(t, "")
	o := deployOptions(t, c)
	if _, err := Deploy(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	o.Render.Image, o.Render.Version = otherImage, "1.2.4"
	if _, err := Deploy(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	r := refuseEach(cs, 2)
	res, err := c.Undo(context.Background(), testNS, "hello", UndoOptions{Timeout: time.Minute,
		Lock: &LockOptions{Name: "slipway-lock-hello-dev", Holder: Holder{Identity: "carol-id", Who: "carol"}}})
	if err != nil {
		t.Fatalf("Undo = %v (refused: %v)", err, r.refused())
	}
	if res.Version != "1.2.3" || res.Verdict == nil || res.Verdict.Phase != PhaseSucceeded {
		t.Errorf("Undo = %+v, want 1.2.3 back", res)
	}
	if !slices.Contains(r.refused(), "patch deployments") {
		t.Errorf("the rollback's apply never refused (refused: %v)", r.refused())
	}
	if h := devHolder(t, cs); h != "" {
		t.Errorf("lock still held by %q", h)
	}
}

// TestLockRidesOutRestarts checks the lock's own calls: taking it,
// renewing it and releasing it while every call is refused twice first;
// and a write that landed though its answer was lost, which leaves the
// lock this run's rather than another's to wait for.
func TestLockRidesOutRestarts(t *testing.T) {
	c, cs := lockCluster(t)
	c.retryFirst = time.Millisecond
	refuseEach(cs, 2)
	o := lockOptions("alice")
	o.Renew = 20 * time.Millisecond
	l, err := c.Lock(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	first := getLease(t, cs).Spec.RenewTime.Time
	time.Sleep(200 * time.Millisecond)
	if got := getLease(t, cs).Spec.RenewTime.Time; !got.After(first) {
		t.Errorf("not renewed: renewTime %s, was %s", got, first)
	}
	select {
	case <-l.Lost():
		t.Fatal("lock lost")
	default:
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h := holderID(getLease(t, cs)); h != "" {
		t.Errorf("released lock held by %q", h)
	}

	t.Run("answer lost", func(t *testing.T) {
		c, cs := lockCluster(t)
		c.retryFirst = time.Millisecond
		otherLease(t, cs, time.Now().Add(-time.Hour))
		var once sync.Once
		cs.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
			var lost bool
			once.Do(func() {
				lost = true
				obj := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
				obj.ResourceVersion = "101"
				if err := cs.Tracker().Update(leasesGVR, obj, "hello"); err != nil {
					t.Error(err)
				}
			})
			if lost {
				return true, nil, &url.Error{Op: "Put", URL: "https://127.0.0.1:6443/", Err: io.EOF}
			}
			return false, nil, nil
		})
		start := time.Now()
		o := lockOptions("alice")
		o.Wait = time.Minute
		l, err := c.Lock(context.Background(), o)
		if err != nil || time.Since(start) > 5*time.Second {
			t.Fatalf("Lock = %v after %s, want the lock at once", err, time.Since(start))
		}
		if holderID(getLease(t, cs)) != "alice-id" {
			t.Error("the lease is not alice's")
		}
		_ = l.Release(context.Background())
	})
}

// TestCallRetries checks which errors Cluster.call retries, and that a
// call failing for good ends within its spell, saying how long it tried.
func TestCallRetries(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	tests := []struct {
		name  string
		err   error
		retry bool
	}{
		{"connection refused", refused("x"), true},
		{"connection reset", &url.Error{Op: "Get", URL: "https://h/", Err: &net.OpError{Op: "read", Err: &os.SyscallError{Syscall: "read", Err: syscall.ECONNRESET}}}, true},
		{"EOF", &url.Error{Op: "Get", URL: "https://h/", Err: io.EOF}, true},
		{"unexpected EOF, wrapped", fmt.Errorf("reading deployment: %w", io.ErrUnexpectedEOF), true},
		{"GOAWAY", errors.New("http2: server sent GOAWAY and closed the connection; LastStreamID=1"), true},
		{"503", apierrors.NewServiceUnavailable("the server is currently unable to handle the request"), true},
		{"429", apierrors.NewTooManyRequests("slow down", 1), true},
		{"504", apierrors.NewTimeoutError("etcd", 1), true},
		{"server timeout", apierrors.NewServerTimeout(gr, "get", 1), true},
		{"no answer in time", &deadline.Error{Server: "Kubernetes API server", Host: "h:6443", Wait: deadline.WaitHeaders, Limit: time.Second}, true},
		{"403", apierrors.NewForbidden(gr, "hello", errors.New("no")), false},
		{"404", apierrors.NewNotFound(gr, "hello"), false},
		{"409", apierrors.NewConflict(gr, "hello", errors.New("modified")), false},
		{"500", apierrors.NewInternalError(errors.New("webhook failed")), false},
		{"invalid", apierrors.NewBadRequest("no"), false},
		{"certificate", errors.New("tls: failed to verify certificate: x509: certificate signed by unknown authority"), false},
		{"cancelled", fmt.Errorf("reading: %w", context.Canceled), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCluster(fake.NewClientset(), "dev").WithProgress(nil)
			c.retryFirst = time.Millisecond
			tries := 0
			err := c.call(context.Background(), "reading Deployment hello/hello", func(context.Context) error {
				tries++
				if tries <= 3 {
					return tt.err
				}
				return nil
			})
			if tt.retry && (err != nil || tries != 4) {
				t.Errorf("call = %v after %d tries, want nil after 4", err, tries)
			}
			if !tt.retry && (!errors.Is(err, tt.err) || tries != 1) {
				t.Errorf("call = %v after %d tries, want the error at once", err, tries)
			}
		})
	}

	t.Run("a plain Cluster (status, history, diff)", func(t *testing.T) {
		c := NewCluster(fake.NewClientset(), "dev")
		tries := 0
		if err := c.call(context.Background(), "reading", func(context.Context) error { tries++; return refused("x") }); err == nil || tries != 1 {
			t.Errorf("call = %v after %d tries, want the error at once", err, tries)
		}
	})
	t.Run("for good", func(t *testing.T) {
		c := NewCluster(fake.NewClientset(), "dev").with(nil, 50*time.Millisecond)
		c.retryFirst = time.Millisecond
		start, tries := time.Now(), 0
		err := c.call(context.Background(), "reading", func(context.Context) error { tries++; return refused("x") })
		if !errors.Is(err, syscall.ECONNREFUSED) || !strings.Contains(err.Error(), "(retried for ") || tries < 3 {
			t.Errorf("call = %v after %d tries", err, tries)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("took %s, want about 50ms", took)
		}
	})
	t.Run("cancelled while retrying", func(t *testing.T) {
		c := NewCluster(fake.NewClientset(), "dev").WithProgress(nil)
		c.retryFirst = time.Hour
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		if err := c.call(ctx, "reading", func(context.Context) error { return refused("x") }); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("call = %v", err)
		}
	})
}

// TestRetrySpell checks how long a call is retried: briefly while the API
// server has answered nothing (it may not be there at all), up to the
// request timeouts' Retries once it has, and never longer than the run's
// own bound.
func TestRetrySpell(t *testing.T) {
	ctx := context.Background()
	c := NewCluster(fake.NewClientset(), "dev")
	if got := c.retrySpell(ctx); got != unansweredSpell {
		t.Errorf("before any answer: %s, want %s", got, unansweredSpell)
	}
	run := c.with(nil, 45*time.Second)
	if err := run.call(ctx, "reading", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := c.retrySpell(ctx); got != deadline.Defaults.Retries {
		t.Errorf("once answered: %s, want %s", got, deadline.Defaults.Retries)
	}
	if got := run.retrySpell(ctx); got != 45*time.Second {
		t.Errorf("with the run's bound: %s, want 45s", got)
	}
	if got := c.retrySpell(deadline.WithContext(ctx, deadline.Timeouts{Retries: 5 * time.Second})); got != 5*time.Second {
		t.Errorf("with --network-timeout retries=5s: %s, want 5s", got)
	}
}

// TestRestartingErrors: the errors of a restarting API server are retried,
// refusals and a cancelled context are not.
func TestRestartingErrors(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{errors.New(`Patch "https://127.0.0.1:1/apis/networking.k8s.io/v1/namespaces/a/ingresses/b": http2: client connection force closed via ClientConn.Close`), true},
		{errors.New("http2: client connection lost"), true},
		{io.ErrUnexpectedEOF, true},
		{context.Canceled, false},
		{apierrors.NewForbidden(schema.GroupResource{Resource: "deployments"}, "x", errors.New("no")), false},
		{apierrors.NewServiceUnavailable("restarting"), true},
	}
	for _, tt := range tests {
		if got := restarting(tt.err); got != tt.want {
			t.Errorf("restarting(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
