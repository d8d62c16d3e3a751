package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// restartOn restarts a proxy in front of the API server (stopped for
// down, then started again) just before the first request match picks is
// sent: that request, and the ones after it until the proxy is back, meet
// connection refused, as at an API server that restarts.
type restartOn struct {
	next  http.RoundTripper
	match func(r *http.Request, body string) bool
	proxy *faultnet.Restartable
	down  time.Duration

	once  sync.Once
	fired chan struct{}
}

func (o *restartOn) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		// Read the body to match it, and send a copy of the request with it.
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
		r = r.Clone(r.Context())
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	if o.match(r, string(body)) {
		o.once.Do(func() {
			o.proxy.Stop()
			close(o.fired)
			time.AfterFunc(o.down, o.proxy.Start)
		})
	}
	return o.next.RoundTrip(r)
}

// request matches requests by method and a part of the path.
func request(method, path string) func(*http.Request, string) bool {
	return func(r *http.Request, _ string) bool {
		return r.Method == method && strings.Contains(r.URL.Path, path) && r.URL.Query().Get("watch") != "true"
	}
}

// restartingCluster is a Cluster of the fault cluster reached through a
// restartable proxy, restarted once, for down, before the first request
// match picks; the channel is closed when it was.
func restartingCluster(t *testing.T, kc string, match func(*http.Request, string) bool, down time.Duration) (*Cluster, <-chan struct{}) {
	t.Helper()
	raw, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	var proxy *faultnet.Restartable
	for _, cl := range raw.Clusters {
		proxy = faultnet.NewRestartable(t, strings.TrimPrefix(cl.Server, "https://"))
		cl.Server = "https://" + proxy.Addr()
	}
	proxied := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*raw, proxied); err != nil {
		t.Fatal(err)
	}
	c, err := Connect(config.Environment{Name: "faults"}, ClusterOptions{Kubeconfig: proxied})
	if err != nil {
		t.Fatal(err)
	}
	ro := &restartOn{match: match, proxy: proxy, down: down, fired: make(chan struct{})}
	c.Config.Wrap(func(next http.RoundTripper) http.RoundTripper { ro.next = next; return ro })
	if c.Client, err = kubernetes.NewForConfig(c.Config); err != nil {
		t.Fatal(err)
	}
	return c, ro.fired
}

// faultDeploy is deployOptions for namespace ns of the fault cluster,
// made with its default ServiceAccount (see faultDeployment), renewing
// the lock every 500ms; crash makes kwok fail the pods a second or two
// after they run, and holds the stability time past that.
func faultDeploy(t *testing.T, c *Cluster, direct kubernetes.Interface, ns string, crash bool) Options {
	t.Helper()
	ctx := context.Background()
	if _, err := direct.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if _, err := direct.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	o := deployOptions(t, c)
	o.Render.Env.Namespace = ns
	o.Render.Project.Deploy.Stability.Duration = time.Second
	o.Timeout = 90 * time.Second
	o.Lock.Renew = 100 * time.Millisecond
	if crash {
		o.Render.Pod.Labels["pod-container-running-failed.stage.kwok.x-k8s.io"] = "true"
		o.Render.Project.Deploy.Stability.Duration = 6 * time.Second
	}
	return o
}

// deployOrUndo deploys with o, or with undo deploys 1.2.4 and rolls it
// back with `slipway rollback`.
func deployOrUndo(c *Cluster, o Options, ns string, undo bool) (Result, error) {
	if !undo {
		return Deploy(context.Background(), o)
	}
	o.Render.Image, o.Render.Version = otherImage, "1.2.4"
	if res, err := Deploy(context.Background(), o); err != nil {
		return res, err
	}
	return c.Undo(context.Background(), ns, "hello", UndoOptions{Timeout: 90 * time.Second, Progress: o.Progress,
		Lock: &LockOptions{Name: "slipway-lock-hello-dev", Holder: Holder{Identity: "undo-id", Who: "faults"}}})
}

// TestFaultAPIServerRestartEveryPhase restarts the API server (a proxy in
// front of the real one, down for 2s) at each phase of a deploy and of a
// rollback on the real control plane: taking the lock, reading the live
// Deployment, the apply, the rollout wait, renewing and releasing the
// lock, the rollback of a failed rollout and `slipway rollback`'s own
// apply. Each ends as it would without the restart, and lets go of the
// lock.
func TestFaultAPIServerRestartEveryPhase(t *testing.T) {
	kc := useFaultCluster(t)
	_, direct := faultClient(t, kc)
	// The deploy's holder identity is alice-id (deployOptions): a renewal
	// writes it, the release clears it (in JSON or protobuf alike).
	hasHolder := func(r *http.Request, body string) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/leases/") && strings.Contains(body, "alice-id")
	}
	released := func(r *http.Request, body string) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/leases/") && !strings.Contains(body, "alice-id")
	}
	rollingBack := func(r *http.Request, _ string) bool {
		return request(http.MethodPatch, "/deployments/")(r, "") && r.URL.Query().Get("force") == "true"
	}
	tests := []struct {
		phase string
		match func(*http.Request, string) bool
		// before deploys the first version first; crash deploys a second
		// whose pods crash (rolled back); undo then rolls back.
		before, crash, undo bool
	}{
		{phase: "taking the lock", match: request(http.MethodGet, "/leases/")},
		{phase: "reading the live Deployment", match: request(http.MethodGet, "/deployments/"), before: true},
		{phase: "applying", match: request(http.MethodPatch, "/deployments/")},
		{phase: "the rollout wait", match: request(http.MethodGet, "/pods")},
		{phase: "renewing the lock", match: hasHolder},
		{phase: "releasing the lock", match: released},
		{phase: "the rollback of a failed rollout", match: rollingBack, before: true, crash: true},
		{phase: "slipway rollback", match: rollingBack, before: true, undo: true},
	}
	var tally testutil.FaultTally
	for i, tc := range tests {
		t.Run(tc.phase, func(t *testing.T) {
			tally.Tries++
			ns := faultNamespace("fault-phase", i)
			if tc.before {
				c, _ := faultClient(t, kc)
				if _, err := Deploy(context.Background(), faultDeploy(t, c, direct, ns, false)); err != nil {
					t.Fatalf("deploying the first version: %v", err)
				}
			}
			c, fired := restartingCluster(t, kc, tc.match, 2*time.Second)
			var rec progress.Recorder
			o := faultDeploy(t, c, direct, ns, tc.crash)
			o.Progress = &rec
			if tc.before && !tc.undo {
				o.Render.Image, o.Render.Version = otherImage, "1.2.4"
			}
			start := time.Now()
			var res Result
			var err error
			faultnet.Within(t, 3*time.Minute, func() { res, err = deployOrUndo(c, o, ns, tc.undo) })
			select {
			case <-fired:
			default:
				t.Fatalf("the API server was never restarted (result %+v, %v)", res, err)
			}
			tally.Recovered(time.Since(start))
			var fe *FailedError
			switch {
			case tc.crash && errors.As(err, &fe) && res.RolledBack && res.RolledBackTo == 1:
			case tc.undo && err == nil && res.Version == "1.2.3":
			case !tc.crash && !tc.undo && err == nil && res.Verdict != nil && res.Verdict.Phase == PhaseSucceeded:
			default:
				t.Fatalf("result %+v: %v\nprogress: %q", res, err, rec.Msgs(""))
			}
			l, lerr := direct.CoordinationV1().Leases(ns).Get(context.Background(), "slipway-lock-hello-dev", metav1.GetOptions{})
			if lerr != nil || (l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "") {
				t.Fatalf("the lock is not released (%v)", lerr)
			}
			tally.Correct++
			t.Logf("restarted while %s: done in %s; %q", tc.phase, time.Since(start).Round(time.Millisecond), rec.Msgs("cluster"))
		})
	}
	tally.Row(t, "API server restarted at each phase of a deploy and a rollback")
}
