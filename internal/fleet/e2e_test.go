package fleet

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/testenv"
)

// clusterPorts keep this package's control plane apart from the others
// make test starts.
var clusterPorts = map[string]string{
	"SLIPWAY_APISERVER_PORT": "28443", "SLIPWAY_ETCD_PORT": "28379", "SLIPWAY_ETCD_PEER_PORT": "28380",
	"SLIPWAY_KCM_PORT": "28457", "SLIPWAY_SCHEDULER_PORT": "28459", "SLIPWAY_KWOK_PORT": "28250",
}

// counting counts the requests a client sends.
type counting struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// TestRealControlPlane deploys apps x 4 environments (25 apps; more with
// SLIPWAY_FLEET_APPS) as Slipway labels them into the local control
// plane (kwok nodes run the pods of the first 25), with one image changed
// behind Slipway's back and one deploy rolled back the way Slipway rolls
// back a failure, and reads them with two requests, beside a cluster that
// refuses.
func TestRealControlPlane(t *testing.T) {
	if testing.Short() || !testenv.ClusterInstalled() && os.Getenv(testenv.E2EEnv) != "1" {
		t.Skip("needs the local control plane: hack/testenv/k8s.sh install (make test does)")
	}
	c, err := testenv.StartClusterOn(t.TempDir(), clusterPorts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.QPS, rc.Burst = 500, 1000
	var requests atomic.Int64
	rc.Wrap(func(next http.RoundTripper) http.RoundTripper { return counting{next, &requests} })
	client := kubernetes.NewForConfigOrDie(rc)
	apps := 25
	if n, err := strconv.Atoi(os.Getenv("SLIPWAY_FLEET_APPS")); err == nil && n > 0 {
		apps = n
	}
	// The two apps changed first, while the controller is not yet busy
	// with the rest.
	seed(t, client, 0, 2)
	driftAndRollback(t, client)
	seed(t, client, 2, min(apps, 25))
	waitSettled(t, client, min(apps, 25)*4)
	seed(t, client, 25, apps)
	requests.Store(0)
	start := time.Now()
	f := Collect(t.Context(), []Source{{Context: c.Context, Client: client}, {Context: "gone", Client: restClient(t, "http://127.0.0.1:1")}}, Options{})
	took := time.Since(start)
	if got := requests.Load(); got != 2 {
		t.Errorf("reading %d app environments took %d requests, want 2", len(f.Rows), got)
	}
	checkStates(t, f, min(apps, 25))
	if f.Clusters[1].Reachable || !f.Clusters[0].Reachable {
		t.Errorf("clusters = %+v", f.Clusters)
	}
	page, err := Page(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d app environments read in %s with 2 requests; the page is %d bytes", len(f.Rows), took.Round(time.Millisecond), len(page))
}

// checkStates checks the states of the first n apps, whose rollouts
// settled: canaries, one drift, one failed deploy rolled back, and the
// rest healthy.
func checkStates(t *testing.T, f Fleet, n int) {
	t.Helper()
	states := map[State]int{}
	for _, r := range f.Rows {
		if r.App < settled {
			states[r.State]++
		}
	}
	want := map[State]int{Healthy: n*4 - n - 2, Canary: n, Drifted: 1, Failed: 1}
	for s, n := range want {
		if states[s] != n {
			t.Errorf("%d rows %s, want %d (all: %v)", states[s], s, n, states)
		}
	}
}

var envs = []string{"dev", "showcase", "prod", "canary"} // prod makes the namespace its canary shares

// seed creates the Deployments of apps from to to (not included) in
// every environment, a namespace per app and environment (the canary
// beside prod), in parallel.
func seed(t *testing.T, client kubernetes.Interface, from, to int) {
	t.Helper()
	ctx := t.Context()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				if err := seedApp(ctx, client, i); err != nil {
					failed.Store(err)
				}
			}
		})
	}
	for i := from; i < to; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
}

func seedApp(ctx context.Context, client kubernetes.Interface, i int) error {
	name := fmt.Sprintf("app%03d", i)
	for _, env := range envs {
		a := app{name: name, env: env, ns: name + "-" + env, version: "1.0.0", by: "seed", at: time.Now().Add(-time.Hour)}
		if env == "canary" {
			a.canaryOf, a.version, a.ns = "prod", "1.1.0", name+"-prod"
		} else if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: a.ns}}, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating namespace %s: %w", a.ns, err)
		}
		d := live(a, "1")
		if name >= settled {
			// Beyond 25 apps, no pods: the scale is in the objects
			// listed, and kwok on two cores takes minutes to run
			// thousands of pods.
			d.Spec.Replicas = new(int32)
		}
		if _, err := client.AppsV1().Deployments(a.ns).Create(ctx, &d, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Deployment %s/%s: %w", name, d.Name, err)
		}
	}
	return nil
}

// live is a's Deployment as the API server takes it: a selector, pod
// labels, one replica, no status; tag tells its templates apart.
func live(a app, tag string) appsv1.Deployment {
	d := a.deployment()
	d.UID, d.Generation, d.Status = "", 0, appsv1.DeploymentStatus{}
	delete(d.Annotations, deploy.AnnotationRevision)
	sel := map[string]string{deploy.LabelName: a.name, deploy.LabelEnv: a.env}
	one := int32(1)
	d.Spec.Replicas, d.Spec.Selector = &one, &metav1.LabelSelector{MatchLabels: sel}
	d.Spec.Template.Labels = sel
	d.Spec.Template.Annotations = map[string]string{"tag": tag}
	return d
}

// driftAndRollback changes app000's prod image behind Slipway's back,
// and deploys 2.0.0 to app001's prod, then puts 1.0.0 back as Slipway
// does when a deploy fails (the template and annotations of before).
func driftAndRollback(t *testing.T, client kubernetes.Interface) {
	t.Helper()
	ctx := t.Context()
	// The deployment controller writes the Deployments too: an update
	// that lost to it is made again on what it wrote.
	update := func(app string, change func(d *appsv1.Deployment)) {
		ns := app + "-prod"
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			d, err := client.AppsV1().Deployments(ns).Get(ctx, app, metav1.GetOptions{})
			if err != nil {
				return err
			}
			change(d)
			_, err = client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	update("app000", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "docker.io/someone/debug:latest"
	})
	before := live(app{name: "app001", env: "prod", ns: "app001-prod", version: "1.0.0", by: "seed", at: time.Now().Add(-time.Hour)}, "1")
	failed := live(app{name: "app001", env: "prod", ns: "app001-prod", version: "2.0.0", by: "eve", reason: "big bang", at: time.Now().Add(-time.Minute)}, "2")
	for _, next := range []appsv1.Deployment{failed, before} {
		update("app001", func(d *appsv1.Deployment) { d.Annotations, d.Spec.Template = next.Annotations, next.Spec.Template })
		waitRevision(t, client, "app001")
	}
}

// waitRevision waits for the controller to give the template of app's
// prod Deployment a ReplicaSet.
func waitRevision(t *testing.T, client kubernetes.Interface, app string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		d, err := client.AppsV1().Deployments(app+"-prod").Get(t.Context(), app, metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration >= d.Generation {
			return
		}
	}
	t.Fatalf("the controller did not observe %s", app)
}

// settled is the first app past those whose rollouts the test waits for:
// the controller manager asks the API server 20 times a second, and takes
// minutes to observe thousands of Deployments.
const settled = "app025"

// waitSettled reads the fleet until it has n rows, none progressing.
func waitSettled(t *testing.T, client kubernetes.Interface, n int) {
	t.Helper()
	var f Fleet
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		f = Collect(t.Context(), []Source{{Context: "local", Client: client}}, Options{})
		done := len(f.Rows) == n
		for _, r := range f.Rows {
			done = done && r.State != InProgress
		}
		if done {
			return
		}
	}
	t.Fatalf("the fleet did not settle: %d rows of %d, %+v", len(f.Rows), n, f.Clusters)
}
