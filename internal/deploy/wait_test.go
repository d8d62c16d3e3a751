package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/slipwayhq/slipway/internal/progress"
)

// cluster plays the deployment and ReplicaSet controllers and the kubelet
// on a fake clientset, one step at a time, for Wait to watch.
type cluster struct {
	t   *testing.T
	c   *fake.Clientset
	d   *appsv1.Deployment
	old appsv1.ReplicaSet
	new appsv1.ReplicaSet
}

// newCluster holds hello at revision 1 (v1, three ready pods) with the
// apply of v2 (generation 2) not yet seen by the controller.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	d := testDeployment(3, "registry.example.com/hello:v2", "1")
	d.Status.ObservedGeneration = 1
	k := &cluster{t: t, d: d,
		old: testRS(d, "old", "registry.example.com/hello:v1", "1", 3),
		new: testRS(d, "new", "registry.example.com/hello:v2", "2", 0)}
	k.c = fake.NewClientset(d, &k.old,
		podPtr(testPod(k.old, "x")), podPtr(testPod(k.old, "y")), podPtr(testPod(k.old, "z")))
	return k
}

func podPtr(p corev1.Pod) *corev1.Pod { return &p }

func (k *cluster) ctx() context.Context { return context.Background() }

// observe is the controller seeing generation 2: it creates the new
// ReplicaSet and its pods (not ready yet), and scales the old one away.
func (k *cluster) observe(change ...func(*corev1.Pod)) {
	k.t.Helper()
	must(k.t)(k.c.AppsV1().ReplicaSets(testNS).Create(k.ctx(), &k.new, metav1.CreateOptions{}))
	for _, s := range []string{"a", "b", "c"} {
		p := testPod(k.new, s, append([]func(*corev1.Pod){waiting("ContainerCreating", "")}, change...)...)
		must(k.t)(k.c.CoreV1().Pods(testNS).Create(k.ctx(), &p, metav1.CreateOptions{}))
	}
	for _, s := range []string{"x", "y", "z"} {
		if err := k.c.CoreV1().Pods(testNS).Delete(k.ctx(), k.old.Name+"-"+s, metav1.DeleteOptions{}); err != nil {
			k.t.Error(err)
		}
	}
	k.d.Annotations[AnnotationRevision] = "2"
	k.status(3, 0, 0)
}

// status sets the Deployment's and the new ReplicaSet's counts.
func (k *cluster) status(updated, ready, available int32) {
	k.t.Helper()
	k.new.Status = appsv1.ReplicaSetStatus{Replicas: updated, ReadyReplicas: ready, AvailableReplicas: available}
	must(k.t)(k.c.AppsV1().ReplicaSets(testNS).Update(k.ctx(), &k.new, metav1.UpdateOptions{}))
	k.d.Status.ObservedGeneration = 2
	k.d.Status.UpdatedReplicas, k.d.Status.Replicas = updated, updated
	k.d.Status.ReadyReplicas, k.d.Status.AvailableReplicas = ready, available
	must(k.t)(k.c.AppsV1().Deployments(testNS).Update(k.ctx(), k.d, metav1.UpdateOptions{}))
}

// pods replaces the new pods with testPod(new, ...) changed by change.
func (k *cluster) pods(change ...func(*corev1.Pod)) {
	k.t.Helper()
	for _, s := range []string{"a", "b", "c"} {
		p := testPod(k.new, s, change...)
		must(k.t)(k.c.CoreV1().Pods(testNS).Update(k.ctx(), &p, metav1.UpdateOptions{}))
	}
}

// must reports the error of a client call: must(t)(c.Create(...)).
func must(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Error(err)
		}
	}
}

func waitOptions(rep progress.Reporter) WaitOptions {
	return WaitOptions{Namespace: testNS, Name: "hello", Generation: 2, Timeout: 10 * time.Second,
		Poll: 20 * time.Millisecond, Stability: 200 * time.Millisecond, Progress: rep}
}

type waitResult struct {
	v   Verdict
	err error
	at  time.Time
}

func startWait(ctx context.Context, k *cluster, o WaitOptions) <-chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		v, err := Wait(ctx, k.c, o)
		ch <- waitResult{v, err, time.Now()}
	}()
	return ch
}

func TestWaitSucceeds(t *testing.T) {
	k := newCluster(t)
	rep := &progress.Recorder{}
	done := startWait(context.Background(), k, waitOptions(rep))

	time.Sleep(60 * time.Millisecond)
	k.observe()
	time.Sleep(60 * time.Millisecond)
	k.pods(func(p *corev1.Pod) {})
	ready := time.Now() // before the status says so: Wait cannot have seen it earlier
	k.status(3, 3, 3)

	r := <-done
	if r.err != nil || r.v.Phase != PhaseSucceeded || r.v.Revision != 2 {
		t.Fatalf("Wait = %+v, %v", r.v, r.err)
	}
	if held := r.at.Sub(ready); held < 200*time.Millisecond {
		t.Errorf("succeeded %s after the pods were ready, want at least the stability window (200ms)", held)
	}
	msgs := strings.Join(rep.Msgs(""), "\n")
	for _, want := range []string{
		"waiting for the new ReplicaSet",
		"3/3 updated, 0 ready, 0 available; pods: 3 Pending",
		"3/3 updated, 3 ready, 3 available; pods: 3 Running; all ready, holding 200ms",
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("progress:\n%s\nlacks %q", msgs, want)
		}
	}
	for i, m := range rep.Msgs("") {
		if i > 0 && m == rep.Msgs("")[i-1] {
			t.Errorf("progress repeats %q", m)
		}
	}
}

// TestWaitFailsFast checks that a crash is reported at once, well before
// the next poll: the watch wakes Wait up.
func TestWaitFailsFast(t *testing.T) {
	k := newCluster(t)
	o := waitOptions(nil)
	o.Poll = 5 * time.Second // only the watch can make Wait look in time
	o.Stability = 10 * time.Second
	done := startWait(context.Background(), k, o)

	time.Sleep(50 * time.Millisecond)
	k.observe()
	k.pods(func(p *corev1.Pod) {})
	k.status(3, 3, 3)
	time.Sleep(100 * time.Millisecond)
	p := testPod(k.new, "b", terminated(1, 0, true), func(p *corev1.Pod) { p.CreationTimestamp = metav1.Now() })
	must(t)(k.c.CoreV1().Pods(testNS).Update(k.ctx(), &p, metav1.UpdateOptions{}))
	crashed := time.Now()

	select {
	case r := <-done:
		if r.err != nil || r.v.Phase != PhaseFailed || r.v.Reason != ReasonContainerCrashed {
			t.Fatalf("Wait = %+v, %v", r.v, r.err)
		}
		if !strings.Contains(r.v.Message, "hello-new-b") {
			t.Errorf("message %q does not name the pod", r.v.Message)
		}
		if lag := r.at.Sub(crashed); lag > time.Second {
			t.Errorf("verdict %s after the crash", lag)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("Wait did not return after the crash")
	}
}

func TestWaitImagePullWithEvents(t *testing.T) {
	k := newCluster(t)
	done := startWait(context.Background(), k, waitOptions(nil))
	time.Sleep(30 * time.Millisecond)
	ev := event("Pod", "hello-new-a", "uid-pod-hello-new-a", "Warning", "Failed",
		`Failed to pull image "registry.example.com/hello:v2": not found`, time.Now())
	must(t)(k.c.CoreV1().Events(testNS).Create(k.ctx(), &ev, metav1.CreateOptions{}))
	k.observe(waiting("ErrImagePull", "not found"))

	r := <-done
	if r.err != nil || r.v.Reason != ReasonErrImagePull {
		t.Fatalf("Wait = %+v, %v", r.v, r.err)
	}
	if len(r.v.Events) != 1 || !strings.Contains(r.v.Events[0], "Failed to pull image") {
		t.Errorf("Events = %q", r.v.Events)
	}
	if !strings.Contains(r.v.Message, `Failed to pull image "registry.example.com/hello:v2": not found`) {
		t.Errorf("Message = %q", r.v.Message)
	}
}

func TestWaitUnschedulable(t *testing.T) {
	k := newCluster(t)
	o := waitOptions(nil)
	o.SchedulingGrace = 150 * time.Millisecond
	done := startWait(context.Background(), k, o)
	time.Sleep(30 * time.Millisecond)
	k.observe(unschedulable)
	seen := time.Now()

	r := <-done
	if r.err != nil || r.v.Reason != ReasonUnschedulable {
		t.Fatalf("Wait = %+v, %v", r.v, r.err)
	}
	if lag := r.at.Sub(seen); lag < 150*time.Millisecond {
		t.Errorf("failed after %s, before the grace", lag)
	}
}

func TestWaitTimeout(t *testing.T) {
	k := newCluster(t)
	o := waitOptions(nil)
	o.Timeout = 300 * time.Millisecond
	done := startWait(context.Background(), k, o)
	time.Sleep(30 * time.Millisecond)
	k.observe()
	k.pods(notReady)
	k.status(3, 0, 0)
	ev := event("Pod", "hello-new-a", "uid-pod-hello-new-a", "Warning", "Unhealthy",
		`Readiness probe failed: HTTP probe failed with statuscode: 503`, time.Now())
	must(t)(k.c.CoreV1().Events(testNS).Create(k.ctx(), &ev, metav1.CreateOptions{}))

	start := time.Now()
	r := <-done
	if r.err != nil {
		t.Fatalf("Wait error %v, want a verdict", r.err)
	}
	if r.v.Phase != PhaseFailed || r.v.Reason != ReasonTimeout {
		t.Fatalf("Wait = %s %s: %s", r.v.Phase, r.v.Reason, r.v.Message)
	}
	for _, want := range []string{"did not finish rolling out within 300ms", "3/3 updated, 0 ready, 0 available", "hello-new-a container app: NotReady"} {
		if !strings.Contains(r.v.Message, want) {
			t.Errorf("Message %q lacks %q", r.v.Message, want)
		}
	}
	if !strings.Contains(r.v.Hint, "readiness probe") {
		t.Errorf("Hint = %q", r.v.Hint)
	}
	if len(r.v.Events) != 1 || !strings.HasPrefix(r.v.Events[0], "Unhealthy: Readiness probe failed") {
		t.Errorf("Events = %q", r.v.Events)
	}
	if len(r.v.Pods) != 3 {
		t.Errorf("Pods = %+v", r.v.Pods)
	}
	if lag := r.at.Sub(start); lag > 2*time.Second {
		t.Errorf("returned %s after the timeout", lag)
	}
}

func TestWaitCanceled(t *testing.T) {
	k := newCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := startWait(ctx, k, waitOptions(nil))
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", r.err)
		}
		if r.v.Phase != PhaseProgressing || !strings.Contains(r.v.Message, "observe generation 2") {
			t.Errorf("Verdict = %+v, want the last one seen", r.v)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Wait ignored the cancellation")
	}
}

func TestWaitNotFound(t *testing.T) {
	c := fake.NewClientset()
	_, err := Wait(context.Background(), c, WaitOptions{Namespace: testNS, Name: "nope", Poll: 10 * time.Millisecond})
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "reading deployment hello-dev/nope") {
		t.Errorf("err = %v, want a wrapped NotFound", err)
	}
	if _, err := Wait(context.Background(), c, WaitOptions{Name: "x"}); err == nil {
		t.Error("no namespace: want an error")
	}
}

// TestWaitAlreadyDone returns at once (Stability 0) for a rollout that is
// complete, with the generation taken from the Deployment.
func TestWaitAlreadyDone(t *testing.T) {
	d := testDeployment(2, "registry.example.com/hello:v2", "2")
	rs := testRS(d, "new", "registry.example.com/hello:v2", "2", 2)
	c := fake.NewClientset(d, &rs, podPtr(testPod(rs, "a")), podPtr(testPod(rs, "b")))
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := Wait(ctx, c, WaitOptions{Namespace: testNS, Name: "hello"})
	if err != nil || v.Phase != PhaseSucceeded {
		t.Fatalf("Wait = %+v, %v", v, err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}

// TestWaitWithoutEvents still reaches the verdict when events may not be
// listed, and warns once.
func TestWaitWithoutEvents(t *testing.T) {
	k := newCluster(t)
	k.c.PrependReactor("list", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New("no RBAC"))
	})
	rep := &progress.Recorder{}
	done := startWait(context.Background(), k, waitOptions(rep))
	time.Sleep(30 * time.Millisecond)
	k.observe(crashLoop(1, "Error", 2))
	r := <-done
	if r.err != nil || r.v.Reason != ReasonCrashLoopBackOff {
		t.Fatalf("Wait = %+v, %v", r.v, r.err)
	}
	warns := 0
	for _, e := range rep.Events() {
		if e.Kind == progress.Warn {
			warns++
		}
	}
	if warns != 1 {
		t.Errorf("%d warnings, want 1", warns)
	}
}

// TestWaitRetriesTransientErrors keeps going through API hiccups.
func TestWaitRetriesTransientErrors(t *testing.T) {
	k := newCluster(t)
	fails := 0
	k.c.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if fails < 3 {
			fails++
			return true, nil, apierrors.NewServiceUnavailable("etcd leader changed")
		}
		return false, nil, nil
	})
	done := startWait(context.Background(), k, waitOptions(nil))
	time.Sleep(30 * time.Millisecond)
	k.observe()
	k.pods(func(p *corev1.Pod) {})
	k.status(3, 3, 3)
	r := <-done
	if r.err != nil || r.v.Phase != PhaseSucceeded || fails != 3 {
		t.Fatalf("Wait = %+v, %v after %d failures", r.v, r.err, fails)
	}
}
