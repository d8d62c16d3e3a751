package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// faultPorts are the ports of the fault tests' own control plane: apart
// from k8s.sh's defaults (make demo) and testenv.ClusterPorts (the
// end-to-end scripts), which may run at the same time.
var faultPorts = map[string]string{
	"SLIPWAY_APISERVER_PORT": "29443", "SLIPWAY_ETCD_PORT": "29379", "SLIPWAY_ETCD_PEER_PORT": "29380",
	"SLIPWAY_KCM_PORT": "29457", "SLIPWAY_SCHEDULER_PORT": "29459", "SLIPWAY_KWOK_PORT": "29250",
}

// faultCluster is a control plane of the fault tests' own, started once
// for the package by useFaultCluster and stopped by TestMain.
var faultCluster struct {
	once   sync.Once
	err    error
	dir    string // SLIPWAY_TESTENV
	env    []string
	script string
	// restarts serialises restarts of the API server.
	restarts sync.Mutex
}

func TestMain(m *testing.M) {
	code := m.Run()
	if slipwayBin.dir != "" {
		os.RemoveAll(slipwayBin.dir)
	}
	if faultCluster.script != "" {
		cmd := exec.Command(faultCluster.script, "stop")
		cmd.Env = faultCluster.env
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the fault tests' control plane: %v\n%s", err, out)
		}
		os.RemoveAll(faultCluster.dir)
	}
	os.Exit(code)
}

// useFaultCluster starts the fault tests' control plane unless it runs,
// and returns its kubeconfig. Without the control plane's binaries it
// skips, unless SLIPWAY_E2E=1; with -short it skips.
func useFaultCluster(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the fault tests run a control plane; not with -short")
	}
	if !testenv.ClusterInstalled() && os.Getenv(testenv.E2EEnv) != "1" {
		t.Skip(testenv.ErrNoCluster)
	}
	f := &faultCluster
	f.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			f.err = err
			return
		}
		if f.dir, f.err = os.MkdirTemp("", "slipway-faults-"); f.err != nil {
			return
		}
		f.script = filepath.Join(root, "hack/testenv/k8s.sh")
		f.env = append(os.Environ(), "SLIPWAY_TESTENV="+f.dir)
		for k, v := range faultPorts {
			f.env = append(f.env, k+"="+v)
		}
		cmd := exec.Command(f.script, "start")
		cmd.Env = f.env
		if out, err := cmd.CombinedOutput(); err != nil {
			f.err = fmt.Errorf("starting the fault tests' control plane: %w\n%s", err, out)
		}
	})
	if f.err != nil {
		t.Fatal(f.err)
	}
	return filepath.Join(f.dir, "kubeconfig")
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("finding the module root: no go.mod above %s", dir)
		}
		dir = parent
	}
}

// stopAPIServer kills the fault cluster's kube-apiserver (SIGKILL: a crash,
// not a shutdown) and waits until it is gone. It returns its command line.
func stopAPIServer(t *testing.T) []string {
	t.Helper()
	state := filepath.Join(faultCluster.dir, "k8s")
	raw, err := os.ReadFile(filepath.Join(state, "kube-apiserver.cmdline"))
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	pidText, err := os.ReadFile(filepath.Join(state, "kube-apiserver.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	if cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); !bytes.Equal(cl, raw) {
		t.Fatalf("pid %d is not the fault cluster's kube-apiserver", pid)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if cl, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); !bytes.Equal(cl, raw) {
			return args
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("kube-apiserver (pid %d) still runs after SIGKILL", pid)
	return nil
}

// startAPIServer launches kube-apiserver again with args, the way k8s.sh
// does (own session, HOME in the state directory, log appended), and
// records its pid where k8s.sh stop finds it.
func startAPIServer(t *testing.T, args []string) {
	t.Helper()
	state := filepath.Join(faultCluster.dir, "k8s")
	log, err := os.OpenFile(filepath.Join(state, "kube-apiserver.log"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(state, "home"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting kube-apiserver again: %v", err)
	}
	go func() { _ = cmd.Wait() }() // reap it when k8s.sh stop ends it
	if err := os.WriteFile(filepath.Join(state, "kube-apiserver.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitAPI waits until the API server answers, at most 90s.
func waitAPI(t *testing.T, c kubernetes.Interface) {
	t.Helper()
	for i := 0; i < 450; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		cancel()
		if err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the API server did not come back within 90s")
}

func faultClient(t *testing.T, kubeconfig string) (*Cluster, kubernetes.Interface) {
	t.Helper()
	c, err := Connect(config.Environment{Name: "faults"}, ClusterOptions{Kubeconfig: kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	return c, c.Client
}

// faultDeployment creates namespace ns and a Deployment "app" of replicas
// kwok pods; crash makes kwok fail their containers a second or two after
// they run.
func faultDeployment(t *testing.T, c kubernetes.Interface, ns string, replicas int32, crash bool) *appsv1.Deployment {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Pods are refused until the namespace has its default ServiceAccount.
	// The controller manager makes it, late when the machine is busy or
	// the API server just came back: make it here, whoever is first.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}}
	if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating the default ServiceAccount in %s: %v", ns, err)
	}
	labels := map[string]string{"app": "app"}
	podLabels := map[string]string{"app": "app"}
	if crash {
		podLabels["pod-container-running-failed.stage.kwok.x-k8s.io"] = "true"
	}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}},
			},
		},
	}
	d, err := c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// reporter forwards Wait's progress events to f.
type reporter func(progress.Event)

func (r reporter) Report(e progress.Event) { r(e) }

// faultNamespace is a namespace of its own for try i of a fault test.
func faultNamespace(prefix string, i int) string {
	return fmt.Sprintf("%s-%d-%d", prefix, i, time.Now().UnixNano()%100000)
}

// TestFaultAPIServerRestart kills the API server (SIGKILL) while Wait
// judges a rollout on the real control plane, and starts it again: the
// verdict is the one the rollout earns, never a false success or a false
// failure. A healthy rollout is restarted under while it holds its
// stability time; a crash-looping one while its pods run, before kwok
// fails them; a slow rollout while its pods are still pending.
func TestFaultAPIServerRestart(t *testing.T) {
	kc := useFaultCluster(t)
	_, client := faultClient(t, kc)
	tests := []struct {
		name string
		// crash: kwok fails the containers soon after they run.
		crash     bool
		stability time.Duration
		// when a progress message contains this, the API server is killed.
		killOn string
		want   Phase
	}{
		{"healthy, killed while holding stability", false, 8 * time.Second, "all ready, holding", PhaseSucceeded},
		{"crash-looping, killed before its pods fail", true, 10 * time.Second, "", PhaseFailed},
		{"healthy, killed at the first look", false, 2 * time.Second, "", PhaseSucceeded},
	}
	var tally testutil.FaultTally
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tally.Tries++
			ns := faultNamespace("fault-apiserver", i)
			d := faultDeployment(t, client, ns, 2, tc.crash)
			var once sync.Once
			restarted := make(chan time.Duration, 1)
			rep := reporter(func(e progress.Event) {
				if !strings.Contains(e.Msg, tc.killOn) {
					return
				}
				once.Do(func() {
					go func() {
						faultCluster.restarts.Lock()
						defer faultCluster.restarts.Unlock()
						start := time.Now()
						args := stopAPIServer(t)
						time.Sleep(time.Second) // down for a while
						startAPIServer(t, args)
						waitAPI(t, client)
						restarted <- time.Since(start)
					}()
				})
			})
			var v Verdict
			var err error
			faultnet.Within(t, 3*time.Minute, func() {
				v, err = Wait(context.Background(), client, WaitOptions{Namespace: ns, Name: d.Name, Timeout: 2 * time.Minute,
					Stability: tc.stability, Progress: rep})
			})
			var took time.Duration
			select {
			case took = <-restarted:
			case <-time.After(2 * time.Minute):
				t.Fatalf("the API server was never restarted (waited for %q); verdict %s: %s", tc.killOn, v.Phase, v.Message)
			}
			tally.Recovered(took)
			if err != nil {
				t.Fatalf("Wait: %v (verdict %s: %s)", err, v.Phase, v.Message)
			}
			if v.Phase != tc.want {
				t.Fatalf("verdict %s (%s: %s), want %s", v.Phase, v.Reason, v.Message, tc.want)
			}
			tally.Correct++
			t.Logf("verdict %s (%s) after the API server was down and back in %s", v.Phase, v.Reason, took.Round(time.Millisecond))
		})
	}
	tally.Row(t, "API server killed and restarted during a deploy's wait")
}

// slowProxy forwards TCP connections to target, holding every chunk of
// bytes for delay in each direction: an API server that answers, slowly.
// TLS passes through untouched.
func slowProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	slow := func(dst, src net.Conn) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				time.Sleep(delay)
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			wg.Add(2)
			go slow(u, c)
			go slow(c, u)
		}
	}()
	return l.Addr().String()
}

// TestFaultSlowAPIServer puts a proxy that holds every chunk for 300ms
// between Wait and the real API server: a healthy rollout still succeeds,
// and one that cannot finish (its pods crash) fails; a rollout whose
// verdict needs longer than the timeout ends at the timeout, failed with
// ReasonTimeout, within the timeout and the last look's bound.
func TestFaultSlowAPIServer(t *testing.T) {
	kc := useFaultCluster(t)
	_, direct := faultClient(t, kc)
	raw, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range raw.Clusters {
		cl.Server = "https://" + slowProxy(t, strings.TrimPrefix(cl.Server, "https://"), 300*time.Millisecond)
	}
	slowKC := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*raw, slowKC); err != nil {
		t.Fatal(err)
	}
	_, client := faultClient(t, slowKC)
	tests := []struct {
		name      string
		crash     bool
		stability time.Duration
		timeout   time.Duration
		want      string
	}{
		{"healthy", false, time.Second, 2 * time.Minute, ReasonSucceeded},
		{"crash-looping", true, 0, 2 * time.Minute, ""},
		{"longer than the timeout", false, 5 * time.Minute, 5 * time.Second, ReasonTimeout},
	}
	var tally testutil.FaultTally
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tally.Tries++
			ns := faultNamespace("fault-slow", i)
			d := faultDeployment(t, direct, ns, 2, tc.crash)
			var v Verdict
			var err error
			start := time.Now()
			// Bounded: the timeout, the last look (10s) and room for a
			// loaded machine; it catches a wait that ignores its deadline.
			faultnet.Within(t, tc.timeout+finalLook+30*time.Second, func() {
				v, err = Wait(context.Background(), client, WaitOptions{Namespace: ns, Name: d.Name, Timeout: tc.timeout, Stability: tc.stability})
			})
			tally.Recovered(time.Since(start))
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
			switch {
			case tc.crash && v.Phase == PhaseFailed && v.Reason != ReasonTimeout:
			case !tc.crash && v.Reason == tc.want:
			default:
				t.Fatalf("verdict %s (%s: %s)", v.Phase, v.Reason, v.Message)
			}
			tally.Correct++
			t.Logf("verdict %s (%s) in %s", v.Phase, v.Reason, time.Since(start).Round(time.Millisecond))
		})
	}
	tally.Row(t, "API server answering 300ms late on every chunk")
}
