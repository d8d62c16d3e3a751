package deploy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/remedy"
)

var leasesGVR = coordinationv1.SchemeGroupVersion.WithResource("leases")

// lockCluster is a fake cluster whose Leases behave as the API server's
// do for optimistic concurrency: every write gets a new resourceVersion,
// an update carrying another one is a conflict, and a Lease cannot be
// created in a namespace that does not exist. Namespace "hello" exists.
func lockCluster(t *testing.T) (*Cluster, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "hello"}})
	var rv atomic.Int64
	tracker := cs.Tracker()
	nsGVR := corev1.SchemeGroupVersion.WithResource("namespaces")
	// The fake serialises its reactions, so each one below is atomic.
	cs.PrependReactor("create", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		l := a.(k8stesting.CreateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
		if _, err := tracker.Get(nsGVR, "", a.GetNamespace()); err != nil {
			return true, nil, err
		}
		l.ResourceVersion = strconv.FormatInt(rv.Add(1), 10)
		if err := tracker.Create(leasesGVR, l, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, l.DeepCopy(), nil
	})
	cs.PrependReactor("update", "leases", func(a k8stesting.Action) (bool, runtime.Object, error) {
		l := a.(k8stesting.UpdateAction).GetObject().(*coordinationv1.Lease).DeepCopy()
		cur, err := tracker.Get(leasesGVR, a.GetNamespace(), l.Name)
		if err != nil {
			return true, nil, err
		}
		if cur.(*coordinationv1.Lease).ResourceVersion != l.ResourceVersion {
			return true, nil, apierrors.NewConflict(leasesGVR.GroupResource(), l.Name, errors.New("the object has been modified"))
		}
		l.ResourceVersion = strconv.FormatInt(rv.Add(1), 10)
		if err := tracker.Update(leasesGVR, l, a.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, l.DeepCopy(), nil
	})
	return NewCluster(cs, "prod"), cs
}

// otherLease is a Lease held by bob, last renewed at renewed.
func otherLease(t *testing.T, cs *fake.Clientset, renewed time.Time) {
	t.Helper()
	id, secs := "bob@ci-7/42/beef", int32(30)
	rt := metav1.NewMicroTime(renewed)
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "lock", Namespace: "hello", ResourceVersion: "100",
			Annotations: map[string]string{AnnotationLockWho: "bob", AnnotationLockHost: "ci-7", AnnotationLockPID: "42",
				AnnotationLockSince: renewed.Add(-time.Minute).UTC().Format(time.RFC3339), AnnotationLockOp: "deploy",
				AnnotationLockEnv: "prod", AnnotationLockVersion: "1.2.2", AnnotationLockJob: "https://ci.example.com/job/7"}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &id, LeaseDurationSeconds: &secs, AcquireTime: &rt, RenewTime: &rt},
	}
	if err := cs.Tracker().Add(l); err != nil {
		t.Fatal(err)
	}
}

func getLease(t *testing.T, cs *fake.Clientset) *coordinationv1.Lease {
	t.Helper()
	l, err := cs.Tracker().Get(leasesGVR, "hello", "lock")
	if err != nil {
		t.Fatal(err)
	}
	return l.(*coordinationv1.Lease)
}

func holderID(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

func lockOptions(who string) LockOptions {
	return LockOptions{Namespace: "hello", Name: "lock", Poll: 10 * time.Millisecond,
		Holder: Holder{Identity: who + "-id", Who: who, Host: "laptop", PID: 7, Env: "prod", Operation: "deploy", Version: "1.2.3"}}
}

func TestLockAcquireAndRelease(t *testing.T) {
	c, cs := lockCluster(t)
	l, err := c.Lock(context.Background(), lockOptions("alice"))
	if err != nil {
		t.Fatal(err)
	}
	got := getLease(t, cs)
	if holderID(got) != "alice-id" || *got.Spec.LeaseDurationSeconds != 30 {
		t.Errorf("lease %+v, want held by alice-id for 30s", got.Spec)
	}
	for k, want := range map[string]string{AnnotationLockWho: "alice", AnnotationLockHost: "laptop", AnnotationLockPID: "7",
		AnnotationLockVersion: "1.2.3", AnnotationLockEnv: "prod", AnnotationLockOp: "deploy"} {
		if got.Annotations[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, got.Annotations[k], want)
		}
	}
	if _, err := time.Parse(time.RFC3339, got.Annotations[AnnotationLockSince]); err != nil {
		t.Errorf("annotation %s: %v", AnnotationLockSince, err)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	got = getLease(t, cs)
	if holderID(got) != "" || got.Annotations[AnnotationLockWho] != "" {
		t.Errorf("released lease still names a holder: %q %v", holderID(got), got.Annotations)
	}
	// Released, it is free for the next run.
	l2, err := c.Lock(context.Background(), lockOptions("carol"))
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	_ = l2.Release(context.Background())
}

func TestLockHeldByAnother(t *testing.T) {
	c, cs := lockCluster(t)
	otherLease(t, cs, time.Now())
	start := time.Now()
	_, err := c.Lock(context.Background(), lockOptions("alice"))
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("Lock = %v, want a LockedError", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("failing took %s, want at once", time.Since(start))
	}
	for _, want := range []string{"bob on ci-7 (pid 42)", "deploying 1.2.2 to prod", "since ", "ago)", "job https://ci.example.com/job/7"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if r, ok := remedy.Of(err); !ok || r.Kind != remedy.WaitLock || r.Namespace != "hello" || r.Lease != "lock" || r.Expiry <= 0 {
		t.Errorf("remedy = %+v, want to wait for or break Lease hello/lock", r)
	}
	if holderID(getLease(t, cs)) != "bob@ci-7/42/beef" {
		t.Error("the lease changed hands")
	}
}

func TestLockWaits(t *testing.T) {
	tests := []struct {
		name     string
		release  bool
		wait     time.Duration
		wantLock bool
	}{
		{"released while waiting", true, 5 * time.Second, true},
		{"still held when the wait ends", false, 150 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cs := lockCluster(t)
			otherLease(t, cs, time.Now())
			if tt.release {
				go func() {
					time.Sleep(100 * time.Millisecond)
					l := getLease(t, cs).DeepCopy()
					l.Spec.HolderIdentity = nil
					_, _ = cs.CoordinationV1().Leases("hello").Update(context.Background(), l, metav1.UpdateOptions{})
				}()
			}
			o := lockOptions("alice")
			o.Wait = tt.wait
			l, err := c.Lock(context.Background(), o)
			if tt.wantLock {
				if err != nil {
					t.Fatal(err)
				}
				if holderID(getLease(t, cs)) != "alice-id" {
					t.Error("the lease is not alice's")
				}
				_ = l.Release(context.Background())
				return
			}
			var le *LockedError
			if !errors.As(err, &le) || le.Waited < tt.wait || !strings.Contains(err.Error(), "waited") {
				t.Errorf("Lock = %v, want a LockedError after waiting %s", err, tt.wait)
			}
		})
	}
}

func TestLockWaitInterrupted(t *testing.T) {
	c, cs := lockCluster(t)
	otherLease(t, cs, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once the lock has read bob's lease, whatever the machine's load.
	var once sync.Once
	cs.PrependReactor("get", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		once.Do(func() { time.AfterFunc(20*time.Millisecond, cancel) })
		return false, nil, nil
	})
	o := lockOptions("alice")
	o.Wait = time.Minute
	_, err := c.Lock(ctx, o)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "held by bob") {
		t.Errorf("Lock = %v, want cancelled naming bob", err)
	}
}

func TestLockTakesOverExpired(t *testing.T) {
	c, cs := lockCluster(t)
	otherLease(t, cs, time.Now().Add(-time.Minute))
	l, err := c.Lock(context.Background(), lockOptions("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	if l.Expired == nil || l.Expired.Who != "bob" || l.Broken != nil {
		t.Errorf("Expired = %+v, Broken = %+v; want bob's expired lock", l.Expired, l.Broken)
	}
	got := getLease(t, cs)
	if holderID(got) != "alice-id" || *got.Spec.LeaseTransitions != 1 {
		t.Errorf("lease %+v, want alice's after one transition", got.Spec)
	}
}

func TestLockBreak(t *testing.T) {
	c, cs := lockCluster(t)
	otherLease(t, cs, time.Now())
	o := lockOptions("alice")
	o.Break = true
	if _, err := c.Lock(context.Background(), o); !errors.Is(err, config.ErrInvalid) {
		t.Errorf("--break-lock without a reason = %v, want a usage error", err)
	}
	o.Reason = "bob's job hangs"
	l, err := c.Lock(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	if l.Broken == nil || l.Broken.Who != "bob" {
		t.Fatalf("Broken = %+v, want bob", l.Broken)
	}
	got := getLease(t, cs)
	broke := got.Annotations[AnnotationLockBroke]
	if holderID(got) != "alice-id" || !strings.Contains(broke, "alice broke the lock of bob on ci-7") || !strings.Contains(broke, "bob's job hangs") {
		t.Errorf("lease held by %q, %s = %q", holderID(got), AnnotationLockBroke, broke)
	}
	if r := brokeReason("", o.Reason, *l.Broken); !strings.HasPrefix(r, "broke the deploy lock held by bob on ci-7") || !strings.HasSuffix(r, ": bob's job hangs") {
		t.Errorf("recorded reason %q", r)
	}
}

func TestLockRenews(t *testing.T) {
	c, cs := lockCluster(t)
	o := lockOptions("alice")
	o.Duration, o.Renew = time.Second, 20*time.Millisecond
	l, err := c.Lock(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	first := getLease(t, cs).Spec.RenewTime.Time
	// Well past the lease's duration, renewals keep it alive.
	time.Sleep(1500 * time.Millisecond)
	got := getLease(t, cs)
	if !got.Spec.RenewTime.After(first) || expired(got, time.Now()) {
		t.Errorf("renewTime %s after %s: not renewed", got.Spec.RenewTime, first)
	}
	if _, err := c.Lock(context.Background(), lockOptions("bob")); !errors.Is(err, ErrLocked) {
		t.Errorf("second Lock = %v, want ErrLocked", err)
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := getLease(t, cs).Spec.RenewTime.Time
	time.Sleep(100 * time.Millisecond)
	if !getLease(t, cs).Spec.RenewTime.Time.Equal(after) {
		t.Error("renewed after Release")
	}
}

func TestLockLost(t *testing.T) {
	c, cs := lockCluster(t)
	o := lockOptions("alice")
	o.Renew = 20 * time.Millisecond
	l, err := c.Lock(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	b := lockOptions("bob")
	b.Break, b.Reason = true, "alice's run is stuck"
	lb, err := c.Lock(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("alice's lock not lost")
	}
	if l.LostTo().Who != "bob" {
		t.Errorf("LostTo = %+v, want bob", l.LostTo())
	}
	// Releasing a lost lock leaves the new holder's alone.
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if holderID(getLease(t, cs)) != "bob-id" {
		t.Errorf("holder %q, want bob-id", holderID(getLease(t, cs)))
	}
	_ = lb.Release(context.Background())
}

func TestLockRace(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, cs *fake.Clientset)
	}{
		{"no lease yet", func(*testing.T, *fake.Clientset) {}},
		{"an expired lease", func(t *testing.T, cs *fake.Clientset) { otherLease(t, cs, time.Now().Add(-time.Hour)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cs := lockCluster(t)
			tt.setup(t, cs)
			const n = 20
			var wg sync.WaitGroup
			var won atomic.Int32
			errs := make(chan error, n)
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					o := lockOptions(fmt.Sprint("run", i))
					o.Renew = time.Hour
					if _, err := c.Lock(context.Background(), o); err == nil {
						won.Add(1)
					} else if !errors.Is(err, ErrLocked) {
						errs <- err
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("Lock: %v", err)
			}
			if won.Load() != 1 {
				t.Errorf("%d runs took the lock, want exactly 1", won.Load())
			}
		})
	}
}

func TestLockNamespace(t *testing.T) {
	c, cs := lockCluster(t)
	o := lockOptions("alice")
	o.Namespace = "fresh"
	if _, err := c.Lock(context.Background(), o); !errors.Is(err, ErrNoNamespace) {
		t.Errorf("Lock in a missing namespace = %v, want ErrNoNamespace", err)
	}
	o.CreateNamespace = true
	l, err := c.Lock(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "fresh", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace not created: %v", err)
	}
}

func TestCIJobURL(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"BUILD_URL": "https://jenkins/job/app/7/"}, "https://jenkins/job/app/7/"},
		{map[string]string{"CI_JOB_URL": "https://gitlab/g/app/-/jobs/9"}, "https://gitlab/g/app/-/jobs/9"},
		{map[string]string{"GITHUB_SERVER_URL": "https://github.com/", "GITHUB_REPOSITORY": "o/app", "GITHUB_RUN_ID": "11"},
			"https://github.com/o/app/actions/runs/11"},
		{map[string]string{"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/app"}, ""},
		{map[string]string{"DRONE_BUILD_LINK": "https://drone/o/app/3"}, "https://drone/o/app/3"},
		{map[string]string{"BUILD_URL": "https://jenkins/1", "DRONE_BUILD_LINK": "https://drone/2"}, "https://jenkins/1"},
	}
	for _, tt := range tests {
		if got := CIJobURL(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("CIJobURL(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

func TestLockName(t *testing.T) {
	p := &config.Project{App: "hello"}
	tests := []struct {
		env  config.Environment
		want string
	}{
		{config.Environment{Name: "prod"}, "slipway-lock-hello-prod"},
		{config.Environment{Name: "canary", CanaryOf: "prod"}, "slipway-lock-hello-prod"}, // shares prod's lock
		{config.Environment{Name: "Dev_1"}, "slipway-lock-hello-dev-1"},
	}
	for _, tt := range tests {
		if got := LockName(p, tt.env); got != tt.want {
			t.Errorf("LockName(%s) = %q, want %q", tt.env.Name, got, tt.want)
		}
	}
}

func TestExpired(t *testing.T) {
	now := time.Now()
	at := func(d time.Duration) *metav1.MicroTime { t := metav1.NewMicroTime(now.Add(d)); return &t }
	secs := func(n int32) *int32 { return &n }
	tests := []struct {
		name string
		spec coordinationv1.LeaseSpec
		want bool
	}{
		{"renewed just now", coordinationv1.LeaseSpec{RenewTime: at(-time.Second), LeaseDurationSeconds: secs(30)}, false},
		{"renewed long ago", coordinationv1.LeaseSpec{RenewTime: at(-time.Minute), LeaseDurationSeconds: secs(30)}, true},
		{"acquired long ago, renewed just now", coordinationv1.LeaseSpec{AcquireTime: at(-time.Hour), RenewTime: at(-time.Second)}, false},
		{"no duration: the default", coordinationv1.LeaseSpec{RenewTime: at(-20 * time.Second)}, false},
		{"no times: alive", coordinationv1.LeaseSpec{}, false},
	}
	for _, tt := range tests {
		if got := expired(&coordinationv1.Lease{Spec: tt.spec}, now); got != tt.want {
			t.Errorf("%s: expired = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// leaseHeldBy is a Lease held by h, renewed just now.
func leaseHeldBy(t *testing.T, cs *fake.Clientset, h Holder) {
	t.Helper()
	secs, now := int32(30), metav1.NewMicroTime(time.Now())
	id := h.Identity
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "lock", Namespace: "hello", ResourceVersion: "100", Annotations: h.annotations()},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &id, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now},
	}
	if err := cs.Tracker().Add(l); err != nil {
		t.Fatal(err)
	}
}

// endedProcess runs a process and waits for its end: its PID and its
// AnnotationLockProcess, now stale.
func endedProcess(t *testing.T) (int, string) {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("starting a process to end: %v", err)
	}
	pid := cmd.Process.Pid
	_, start, _, err := procStat(pid)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	boot, ns, _, _ := parseProcessID(thisProcess())
	return pid, processID(boot, ns, start)
}

// TestLockTakesLockOfEndedRun checks that a lock left by a run killed on
// this machine is taken at once, saying so, and that one whose run is
// alive, may be alive, or ran elsewhere is not.
func TestLockTakesLockOfEndedRun(t *testing.T) {
	self := thisProcess()
	if self == "" {
		t.Skip("no process identity on this system: locks are left to expire")
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	dead, deadProc := endedProcess(t)
	boot, ns, start, _ := parseProcessID(self)
	tests := []struct {
		name  string
		h     Holder
		taken bool
	}{
		{"this host, its process ended", Holder{Host: host, PID: dead, Process: deadProc}, true},
		{"this host, its PID now another process's", Holder{Host: host, PID: os.Getpid(), Process: processID(boot, ns, start+1)}, true},
		{"this host, its process running", Holder{Host: host, PID: os.Getpid(), Process: self}, false},
		{"another host", Holder{Host: "ci-7", PID: dead, Process: deadProc}, false},
		{"this host, no process identity (an older Slipway)", Holder{Host: host, PID: dead}, false},
		{"this host, another boot", Holder{Host: host, PID: dead, Process: processID("0f0f0f0f-0000-4000-8000-000000000000", ns, start)}, false},
		{"this host, another PID namespace", Holder{Host: host, PID: dead, Process: processID(boot, "1", start)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cs := lockCluster(t)
			h := tt.h
			h.Identity, h.Who, h.Operation, h.Env, h.Version = "bob-id", "bob", "deploy", "prod", "1.2.2"
			leaseHeldBy(t, cs, h)
			var rec progress.Recorder
			o := lockOptions("alice")
			o.Progress = &rec
			start := time.Now()
			l, err := c.Lock(context.Background(), o)
			if !tt.taken {
				if !errors.Is(err, ErrLocked) {
					t.Fatalf("Lock = %v, want ErrLocked", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lock = %v, want the lock at once", err)
			}
			defer l.Release(context.Background())
			if time.Since(start) > time.Second || l.Dead == nil || l.Dead.PID != h.PID {
				t.Errorf("took %s, Dead = %+v; want bob's at once", time.Since(start), l.Dead)
			}
			want := fmt.Sprintf("took the lock of slipway PID %d on %s, which is no longer running", h.PID, host)
			if msgs := rec.Msgs("lock"); !slices.Contains(msgs, want) {
				t.Errorf("reported %q, want %q", msgs, want)
			}
			if holderID(getLease(t, cs)) != "alice-id" {
				t.Error("the lease is not alice's")
			}
		})
	}
}

// TestLockGoneInjected checks that Lock asks LockOptions.Gone about a
// live holder: taken when gone, waited for when not, never asked about a
// lock broken or expired.
func TestLockGoneInjected(t *testing.T) {
	for _, gone := range []bool{true, false} {
		c, cs := lockCluster(t)
		otherLease(t, cs, time.Now())
		var asked []Holder
		o := lockOptions("alice")
		o.Gone = func(h Holder) bool { asked = append(asked, h); return gone }
		l, err := c.Lock(context.Background(), o)
		if len(asked) != 1 || asked[0].PID != 42 || asked[0].Host != "ci-7" {
			t.Errorf("Gone asked about %+v, want bob's run once", asked)
		}
		if gone != (err == nil) || (gone && l.Dead == nil) || (!gone && !errors.Is(err, ErrLocked)) {
			t.Errorf("gone %v: Lock = %v, %v", gone, l, err)
		}
		if l != nil {
			_ = l.Release(context.Background())
		}
	}
	c, cs := lockCluster(t)
	otherLease(t, cs, time.Now().Add(-time.Hour))
	o := lockOptions("alice")
	o.Gone = func(Holder) bool { t.Error("asked about an expired lock"); return true }
	if l, err := c.Lock(context.Background(), o); err != nil || l.Expired == nil {
		t.Errorf("Lock of an expired lease = %v, %v", l, err)
	}
}

// TestExpiredBounds checks the bounds on times a Lease written by anyone
// can hold: its duration at most LeaseDuration (or LeaseEnv's longer
// one), renewals in the future not believed, no times counting from the
// Lease's creation.
func TestExpiredBounds(t *testing.T) {
	now := time.Now()
	at := func(d time.Duration) *metav1.MicroTime { t := metav1.NewMicroTime(now.Add(d)); return &t }
	secs := func(n int32) *int32 { return &n }
	tests := []struct {
		name    string
		env     string
		lease   coordinationv1.Lease
		want    bool
		wantDur time.Duration
	}{
		{"an hour asked, renewed 31s ago", "", coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: at(-31 * time.Second), LeaseDurationSeconds: secs(3600)}}, true, LeaseDuration},
		{"an hour asked, renewed 29s ago", "", coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: at(-29 * time.Second), LeaseDurationSeconds: secs(3600)}}, false, LeaseDuration},
		{"an hour asked, a longer lease set", "2m", coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: at(-time.Minute), LeaseDurationSeconds: secs(3600)}}, false, 2 * time.Minute},
		{"an hour asked, a longer lease set, renewed 3m ago", "2m", coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: at(-3 * time.Minute), LeaseDurationSeconds: secs(3600)}}, true, 2 * time.Minute},
		{"a shorter lease set: 3s asked", "3s", coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: at(-5 * time.Second), LeaseDurationSeconds: secs(3)}}, true, 3 * time.Second},
		{"renewed in the year 9999", "", coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: &metav1.MicroTime{Time: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}}}, true, LeaseDuration},
		{"renewed 10s ahead (clock skew)", "", coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: at(10 * time.Second), LeaseDurationSeconds: secs(30)}}, false, LeaseDuration},
		{"no times, created an hour ago", "", coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))}}, true, LeaseDuration},
		{"no times, created just now", "", coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(now.Add(-time.Second))}}, false, LeaseDuration},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(LeaseEnv, tt.env)
			if got := expired(&tt.lease, now); got != tt.want {
				t.Errorf("expired = %v, want %v", got, tt.want)
			}
			if got := leaseDuration(&tt.lease); got != tt.wantDur {
				t.Errorf("leaseDuration = %s, want %s", got, tt.wantDur)
			}
		})
	}
}

// TestLockForeignLeaseOfAnHour checks, through Lock, that a Lease asking
// for an hour and renewed 31s ago is taken over, and the remedy of one
// renewed just now promises 30s, not an hour.
func TestLockForeignLeaseOfAnHour(t *testing.T) {
	hour := func(cs *fake.Clientset) {
		l := getLease(t, cs).DeepCopy()
		secs := int32(3600)
		l.Spec.LeaseDurationSeconds = &secs
		if err := cs.Tracker().Update(leasesGVR, l, "hello"); err != nil {
			t.Fatal(err)
		}
	}
	c, cs := lockCluster(t)
	otherLease(t, cs, time.Now())
	hour(cs)
	_, err := c.Lock(context.Background(), lockOptions("alice"))
	if r, _ := remedy.Of(err); !errors.Is(err, ErrLocked) || r.Expiry != LeaseDuration {
		t.Errorf("Lock = %v (expiry %s), want ErrLocked expiring within %s", err, r.Expiry, LeaseDuration)
	}
	c, cs = lockCluster(t)
	otherLease(t, cs, time.Now().Add(-31*time.Second))
	hour(cs)
	l, err := c.Lock(context.Background(), lockOptions("alice"))
	if err != nil || l.Expired == nil {
		t.Fatalf("Lock = %v, %v; want bob's lock taken over", l, err)
	}
	_ = l.Release(context.Background())
}

// TestLockHostileHolder checks that a Lease written by someone else
// cannot bloat messages or keep the lock: its holder's text is cut to 64
// bytes, numbers out of range are dropped, and a transition count at its
// maximum does not overflow.
func TestLockHostileHolder(t *testing.T) {
	c, cs := lockCluster(t)
	otherLease(t, cs, time.Now())
	l := getLease(t, cs).DeepCopy()
	huge := strings.Repeat("é", 50<<10)
	id := strings.Repeat("x", 100<<10)
	l.Spec.HolderIdentity = &id
	for _, k := range []string{AnnotationLockWho, AnnotationLockHost, AnnotationLockJob, AnnotationLockEnv, AnnotationLockOp, AnnotationLockVersion} {
		l.Annotations[k] = huge
	}
	l.Annotations[AnnotationLockOp] = "deploy"
	l.Annotations[AnnotationLockPID] = "99999999999"
	l.Annotations[AnnotationLockProcess] = strings.Repeat("a/", 1000) + "1"
	n := int32(math.MaxInt32)
	l.Spec.LeaseTransitions = &n
	if err := cs.Tracker().Update(leasesGVR, l, "hello"); err != nil {
		t.Fatal(err)
	}
	h, _ := holderOf(l)
	for _, f := range []string{h.Identity, h.Who, h.Host, h.Job, h.Env, h.Version} {
		if len(f) > maxHolderText+len("…") || !utf8.ValidString(f) {
			t.Errorf("holder field of %d bytes (valid UTF-8: %v)", len(f), utf8.ValidString(f))
		}
	}
	if h.PID != 0 || h.Process != "" {
		t.Errorf("PID %d, process %q; want none", h.PID, h.Process)
	}
	_, err := c.Lock(context.Background(), lockOptions("alice"))
	if !errors.Is(err, ErrLocked) || len(err.Error()) > 1024 {
		t.Errorf("Lock = %d bytes: %.200v; want ErrLocked in under 1 KiB", len(err.Error()), err)
	}
	o := lockOptions("alice")
	o.Break, o.Reason = true, "stuck"
	lk, err := c.Lock(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Release(context.Background())
	got := getLease(t, cs)
	if *got.Spec.LeaseTransitions != math.MaxInt32 || len(got.Annotations[AnnotationLockBroke]) > 1024 {
		t.Errorf("transitions %d, %s of %d bytes", *got.Spec.LeaseTransitions, AnnotationLockBroke, len(got.Annotations[AnnotationLockBroke]))
	}
}
