package testenv_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// outside is an address that must never be reached: TEST-NET-3
// (RFC 5737), documentation only. (This machine's gateway is in TEST-NET-1,
// so 192.0.2.1 would be a real host here.)
const outside = "203.0.113.1:80"

// startNode starts a control plane and a real node for one test, and stops
// both when it ends.
func startNode(t *testing.T) *testenv.Node {
	t.Helper()
	testenv.RequireNode(t)
	before, err := testenv.HostSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	n, err := testenv.StartNode(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("timing: control plane and node up in %.1fs", time.Since(t0).Seconds())
	t.Cleanup(func() {
		t0 := time.Now()
		if err := n.Stop(); err != nil {
			t.Error(err)
		}
		t.Logf("timing: node and control plane stopped in %.1fs", time.Since(t0).Seconds())
		after, err := testenv.HostSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		if after != before {
			t.Errorf("the host differs after stop:\n%s", diffLines(before, after))
		}
	})
	return n
}

func kubectl(t *testing.T, n *testenv.Node, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(n.Kubectl, append([]string{"--kubeconfig", n.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// pushNetcheck builds testdata/netcheck into a one-layer image and pushes it
// to the node's registry; it returns the image reference.
func pushNetcheck(t *testing.T, n *testenv.Node) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "netcheck")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./testdata/netcheck")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building netcheck: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := tw.WriteHeader(&tar.Header{Name: "netcheck", Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar.Bytes())), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: runtime.GOARCH, OS: "linux",
		Config: v1.Config{Entrypoint: []string{"/netcheck"}, User: "65534:65534"},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: mustDiffIDs(t, img)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(n.Registry+"/slipway-test/netcheck:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("pushing netcheck: %v", err)
	}
	return ref.String()
}

func mustDiffIDs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return cf.RootFS.DiffIDs
}

// deployNetcheck runs image as a Deployment with a readiness probe and a
// ClusterIP Service on port 80 in namespace ns, waits until it is rolled out,
// and returns the Service's ClusterIP.
func deployNetcheck(t *testing.T, n *testenv.Node, ns, image string) string {
	t.Helper()
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: netcheck, namespace: %[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: netcheck}}
  template:
    metadata: {labels: {app: netcheck}}
    spec:
      terminationGracePeriodSeconds: 1
      securityContext: {runAsNonRoot: true, runAsUser: 65534}
      containers:
      - name: netcheck
        image: %[2]s
        ports: [{containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: netcheck, namespace: %[1]s}
spec:
  selector: {app: netcheck}
  ports: [{port: 80, targetPort: 8080}]
`, ns, image)
	t0 := time.Now()
	kubectl(t, n, manifest, "apply", "-f", "-")
	kubectl(t, n, "", "-n", ns, "rollout", "status", "deploy/netcheck", "--timeout=120s")
	t.Logf("timing: 2 netcheck pods Ready (cold pull) in %.1fs", time.Since(t0).Seconds())
	return kubectl(t, n, "", "-n", ns, "get", "svc", "netcheck", "-o", "jsonpath={.spec.clusterIP}")
}

// get fetches url from the host, retrying for up to wait while kube-proxy
// programs its rules; it returns the body and when it first answered.
func get(t *testing.T, url string, wait time.Duration) string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(wait)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("status %d, %v", resp.StatusCode, rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// failsLocally asserts that a TCP connection to addr from the host fails
// within 2 s with an error the host's own stack gives (unreachable or
// refused), not a timeout waiting for a far end. The node's namespace
// answers a SYN it cannot route with an ICMP error at once; when that
// arrives while connect still holds the socket, the host's TCP takes it as
// a soft error and the retransmitted SYN, 1 s later, gets the hard one.
func failsLocally(t *testing.T, addr string) {
	t.Helper()
	t0 := time.Now()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	elapsed := time.Since(t0)
	if err == nil {
		c.Close()
		t.Fatalf("connected to %s", addr)
	}
	if !errors.Is(err, syscall.EHOSTUNREACH) && !errors.Is(err, syscall.ENETUNREACH) && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dialing %s: %v after %s; want unreachable or refused", addr, err, elapsed)
	}
	if elapsed > 2*time.Second {
		t.Fatalf("dialing %s failed only after %s", addr, elapsed)
	}
	t.Logf("timing: %s failed locally in %s: %v", addr, elapsed.Round(time.Millisecond), err)
}

// TestRealNodeIsolation proves that nothing leaves the machine: a ClusterIP
// with kube-proxy stopped, and an outside address dialled from a pod, fail
// at once, on this host; with kube-proxy back the same ClusterIP answers.
func TestRealNodeIsolation(t *testing.T) {
	n := startNode(t)
	image := pushNetcheck(t, n)
	ip := deployNetcheck(t, n, "isolation", image)
	t0 := time.Now()
	body := get(t, "http://"+ip+"/", 10*time.Second)
	t.Logf("timing: ClusterIP %s answered %.1fs after rollout: %q", ip, time.Since(t0).Seconds(), strings.TrimSpace(body))

	t.Run("host DROP guards", func(t *testing.T) {
		// The routes aside, iptables drops host traffic to or from the pod
		// and service CIDRs that would leave by another link than the node's.
		for _, chain := range []string{"OUTPUT", "FORWARD"} {
			out, err := exec.Command("iptables", "-w", "-S", chain).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "-j SLIPWAY-NODE-HOST") {
				t.Fatalf("iptables %s does not jump to SLIPWAY-NODE-HOST: %v\n%s", chain, err, out)
			}
		}
		out, err := exec.Command("iptables", "-w", "-S", "SLIPWAY-NODE-HOST").CombinedOutput()
		if err != nil {
			t.Fatalf("reading SLIPWAY-NODE-HOST: %v\n%s", err, out)
		}
		for _, want := range []string{"-d 10.88.0.0/16 ! -o slw-host -j DROP", "-d 10.96.0.0/16 ! -o slw-host -j DROP", "-s 10.88.0.0/16 ! -o slw-host -j DROP"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("SLIPWAY-NODE-HOST lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("pod to outside", func(t *testing.T) {
		var res struct {
			Connected bool   `json:"connected"`
			Error     string `json:"error"`
			Millis    int64  `json:"ms"`
		}
		raw := get(t, "http://"+ip+"/dial?addr="+outside, 5*time.Second)
		if err := json.Unmarshal([]byte(raw), &res); err != nil {
			t.Fatalf("decoding %q: %v", raw, err)
		}
		if res.Connected || res.Millis >= 2000 || !strings.Contains(res.Error, "unreachable") {
			t.Fatalf("a pod dialling %s: %+v; want a failure (unreachable) within 2s", outside, res)
		}
		t.Logf("timing: pod dialling %s failed in %dms: %s", outside, res.Millis, res.Error)
		// And the node's namespace has no route for it at all.
		if out, err := n.Exec("ip", "route", "get", strings.Split(outside, ":")[0]); err == nil {
			t.Fatalf("the node's namespace routes %s: %s", outside, out)
		}
	})

	t.Run("ClusterIP without kube-proxy", func(t *testing.T) {
		out, err := exec.Command("ip", "route", "get", ip).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "dev slw-host") {
			t.Fatalf("ip route get %s on the host = %s (%v); want the node's veth", ip, out, err)
		}
		if err := n.StopProxy(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			failsLocally(t, ip+":80")
			// A ClusterIP no Service holds fails the same way.
			failsLocally(t, "10.96.255.254:80")
		}
		if err := n.StartProxy(); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		get(t, "http://"+ip+"/", 10*time.Second)
		t.Logf("timing: ClusterIP answered again %.1fs after kube-proxy was healthy", time.Since(t0).Seconds())
	})
}

// TestRealNodeTeardownAfterCrash kills every process of a node that runs
// containers with SIGKILL, then stops it, and compares the host with how
// it was before start.
func TestRealNodeTeardownAfterCrash(t *testing.T) {
	testenv.RequireNode(t)
	before, err := testenv.HostSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n, err := testenv.StartNode(dir)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = n.Stop()
		}
	}()
	image := pushNetcheck(t, n)
	clusterIP := deployNetcheck(t, n, "crash", image)
	podIP := kubectl(t, n, "", "-n", "crash", "get", "pods", "-o", "jsonpath={.items[0].status.podIP}")
	during, err := testenv.HostSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if during == before {
		t.Fatal("the host looks the same with the node running: the snapshot sees nothing")
	}
	var changed []string
	for _, l := range strings.Split(diffLines(before, during), "\n") {
		// Host-wide ones only: the veth's own come and go with it.
		if strings.HasPrefix(l, "+ ") && strings.Contains(l, " = ") && !strings.Contains(l, ".slw-host.") {
			changed = append(changed, strings.TrimPrefix(l, "+ "))
		}
	}
	t.Logf("sysctls changed while the node ran: %s", strings.Join(changed, ", "))

	// The crash: every process the node started, and containerd's shims,
	// killed with SIGKILL. The containers are left orphaned.
	var killed []string
	pids, _ := filepath.Glob(filepath.Join(dir, "node", "run", "*.pid"))
	pids = append(pids, filepath.Join(dir, "registry-"+testenv.NodeRegistryPort, "pid"))
	for _, f := range pids {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		what := strings.TrimSuffix(filepath.Base(f), ".pid")
		if what == "pid" {
			what = "registry"
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, what)
		}
	}
	for _, pid := range shims(t) {
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed = append(killed, "shim "+strconv.Itoa(pid))
		}
	}
	t.Logf("killed with SIGKILL: %s", strings.Join(killed, ", "))
	if len(killed) < 8 {
		t.Fatalf("killed %d processes; want the 7 components, the registry and the shims", len(killed))
	}
	time.Sleep(500 * time.Millisecond)

	// With the node's namespace out of reach (its veth gone), the host's
	// own guard routes still fail pods and ClusterIPs at once.
	if out, err := exec.Command("ip", "link", "del", "slw-host").CombinedOutput(); err != nil {
		t.Fatalf("removing the veth: %v\n%s", err, out)
	}
	failsLocally(t, net.JoinHostPort(podIP, "8080"))
	failsLocally(t, net.JoinHostPort(clusterIP, "80"))

	t0 := time.Now()
	out, err := n.Script("stop")
	if err != nil {
		t.Fatalf("node.sh stop after a crash: %v\n%s", err, out)
	}
	t.Logf("timing: stop after the crash took %.1fs", time.Since(t0).Seconds())
	stopped = true
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	after, err := testenv.HostSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("the host differs after stop:\n%s", diffLines(before, after))
	}
}

// shims are the containerd-shim-runc-v2 processes of the node's containerd.
func shims(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && strings.HasSuffix(exe, "/containerd-shim-runc-v2") && strings.Contains(exe, "/testenv/containerd-") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// diffLines lists the lines only in a (-) and only in b (+).
func diffLines(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if count[l] > 0 {
			fmt.Fprintf(&out, "- %s\n", l)
			count[l]--
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if count[l] < 0 {
			fmt.Fprintf(&out, "+ %s\n", l)
			count[l]++
		}
	}
	return out.String()
}

// TestRealNodeDeploy walks examples/hello-go through Slipway onto the real
// node: make dist, slipway release, build, push to the node's registry,
// deploy; then the app answers through its Service's ClusterIP, from the
// host, by kube-proxy.
func TestRealNodeDeploy(t *testing.T) {
	n := startNode(t)
	envs := "  dev: {registry: dev, context: slipway-local, namespace: e2e-real, replicas: 2}\n"
	p := newHelloProject(t, n, helloConfig("hello", n.Registry, "1s", envs), nil)
	version := p.ship(t, "feat: hello")
	out := p.run(t, p.slipway, "deploy", "dev")
	t.Logf("slipway deploy: %s", strings.TrimSpace(out))

	ready := kubectl(t, n, "", "-n", "e2e-real", "get", "deploy", "hello", "-o", "jsonpath={.status.readyReplicas}")
	if ready != "2" {
		t.Fatalf("readyReplicas = %q after slipway deploy; want 2", ready)
	}
	addr := p.service(t, "e2e-real", "hello")
	t0 := time.Now()
	body := get(t, "http://"+addr+"/", 10*time.Second)
	t.Logf("timing: ClusterIP %s answered %.1fs after the deploy: %q", addr, time.Since(t0).Seconds(), strings.TrimSpace(body))
	if want := "hello from " + version; !strings.HasPrefix(body, want) {
		t.Fatalf("GET via the ClusterIP = %q; want %s", body, want)
	}
}
