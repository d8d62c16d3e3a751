package testenv_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// nodeProject is a copy of examples/hello-go, as a git repository of its
// own, aimed at the real node, with the slipway binary that drives it.
type nodeProject struct {
	n       *testenv.Node
	slipway string
	dir     string
	env     []string
}

// helloConfig is the example's slipway.yaml aimed at the node: one
// platform, the node's registry; envs are the environments' lines.
func helloConfig(app, registry, drain, envs string) string {
	return fmt.Sprintf(`apiVersion: slipway/v1
app: %s
image:
  base: scratch
  platforms: [linux/%s]
  layers:
    - from: "dist/{{.OS}}_{{.Arch}}/hello"
      to: /app/hello
      mode: "0755"
  entrypoint: [/app/hello]
  ports: [8080]
registries:
  dev: {url: %s/team, insecure: true}
environments:
%sdeploy: {pod: pod.yml, port: 8080, drain: %s, timeout: 2m}
`, app, runtime.GOARCH, registry, envs, drain)
}

// newHelloProject copies examples/hello-go into a fresh git repository
// with config as its slipway.yaml; podEnv, when set, is added to the app
// container's env.
func newHelloProject(t *testing.T, n *testenv.Node, config string, podEnv map[string]string) *nodeProject {
	t.Helper()
	files := exampleFiles(t, "hello-go", "main.go", "go.mod", "Makefile", "pod.yml")
	if len(podEnv) > 0 {
		files["pod.yml"] = withPodEnv(t, files["pod.yml"], podEnv)
	}
	files["slipway.yaml"] = []byte(config)
	files[".gitignore"] = []byte("dist/\n.slipway/\n")
	return newProject(t, n, files)
}

// exampleFiles reads files of examples/NAME.
func exampleFiles(t *testing.T, name string, files ...string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, f := range files {
		b, err := exampleFile(name, f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

func exampleFile(name, file string) ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "..", "examples", name, file))
}

// shared is what every node project uses, made once per test binary:
// slipway ($SLIPWAY_BIN, or built into dir, removed by TestMain) and Go's
// cache directories.
var shared struct {
	once            sync.Once
	dir             string
	slipway         string
	gocache, gomods string
	err             error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// sharedTools makes shared, once.
func sharedTools(t *testing.T) {
	t.Helper()
	shared.once.Do(func() {
		goenv, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE").Output()
		if err != nil {
			shared.err = fmt.Errorf("go env: %w", err)
			return
		}
		caches := strings.Fields(string(goenv))
		shared.gocache, shared.gomods = caches[0], caches[1]
		if shared.slipway = os.Getenv("SLIPWAY_BIN"); shared.slipway != "" {
			return
		}
		if shared.dir, err = os.MkdirTemp("", "slipway-node-tests-"); err != nil {
			shared.err = err
			return
		}
		t0 := time.Now()
		shared.slipway = filepath.Join(shared.dir, "slipway")
		build := exec.Command("go", "build", "-trimpath", "-o", shared.slipway, "./cmd/slipway")
		build.Dir = filepath.Join("..", "..")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			shared.err = fmt.Errorf("building slipway: %w\n%s", err, out)
			return
		}
		t.Logf("timing: slipway built in %.1fs", time.Since(t0).Seconds())
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
}

// newProject writes files into a fresh git repository, with an environment
// of its own for git and slipway, driven by the shared slipway.
func newProject(t *testing.T, n *testenv.Node, files map[string][]byte) *nodeProject {
	t.Helper()
	sharedTools(t)
	tmp := t.TempDir()
	p := &nodeProject{n: n, dir: filepath.Join(tmp, "app"), slipway: shared.slipway}
	for f, b := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(p.dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		p.write(t, f, string(b))
	}
	// A HOME of its own for git and slipway; Go keeps its caches.
	p.env = append(os.Environ(), "GOCACHE="+shared.gocache, "GOMODCACHE="+shared.gomods,
		"HOME="+filepath.Join(tmp, "home"), "KUBECONFIG="+n.Kubeconfig, "NO_COLOR=1",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com")
	p.run(t, "git", "init", "-q", "-b", "main")
	return p
}

// withPodEnv adds env to the app container of hello-go's pod.yml, after
// its name.
func withPodEnv(t *testing.T, pod []byte, env map[string]string) []byte {
	t.Helper()
	const anchor = "    - name: app\n"
	if !strings.Contains(string(pod), anchor) {
		t.Fatalf("examples/hello-go/pod.yml has no %q", anchor)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	add := anchor + "      env:\n"
	for _, k := range keys {
		add += fmt.Sprintf("        - {name: %s, value: %q}\n", k, env[k])
	}
	return []byte(strings.Replace(string(pod), anchor, add, 1))
}

func (p *nodeProject) write(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// deployFails runs slipway deploy ENV in the project, for a version that
// should fail: it logs the output, fails the test unless slipway exits
// with code, and returns the output (stdout and stderr).
func (p *nodeProject) deployFails(t *testing.T, env, version string, code int) string {
	t.Helper()
	cmd := exec.Command(p.slipway, "deploy", env)
	cmd.Dir, cmd.Env = p.dir, p.env
	b, err := cmd.CombinedOutput()
	t.Logf("slipway deploy %s %s: %s", env, version, b)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != code {
		t.Fatalf("deploy %s of %s = %v, want exit %d", env, version, err, code)
	}
	return string(b)
}

// run runs a command in the project, logs how long it took, and fails the
// test if it fails.
func (p *nodeProject) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	t0 := time.Now()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = p.dir, p.env
	out, err := cmd.CombinedOutput()
	what := strings.TrimSpace(filepath.Base(name) + " " + strings.Join(args, " "))
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, out)
	}
	if name == p.slipway {
		t.Logf("timing: %s in %.1fs", what, time.Since(t0).Seconds())
	}
	return string(out)
}

// ship commits the tree as msg, releases the next version, compiles it
// (the team's make dist), builds and pushes it; it returns the version.
func (p *nodeProject) ship(t *testing.T, msg string) string {
	t.Helper()
	p.run(t, "git", "add", "-A")
	p.run(t, "git", "commit", "-q", "--allow-empty", "-m", msg)
	p.run(t, p.slipway, "release")
	version := strings.TrimSpace(p.run(t, p.slipway, "version"))
	p.run(t, "make", "-s", "dist", "PLATFORMS=linux/"+runtime.GOARCH, "VERSION="+version)
	p.run(t, p.slipway, "build")
	p.run(t, p.slipway, "push", "dev")
	return version
}

// service returns ip:port of the app's Service in ns.
func (p *nodeProject) service(t *testing.T, ns, name string) string {
	t.Helper()
	ip := kubectl(t, p.n, "", "-n", ns, "get", "svc", name, "-o", "jsonpath={.spec.clusterIP}")
	port := kubectl(t, p.n, "", "-n", ns, "get", "svc", name, "-o", "jsonpath={.spec.ports[0].port}")
	return net.JoinHostPort(ip, port)
}

// load sends requests at a steady rate to a URL, as a service's clients
// do, and counts the answers. The requests are POSTs, which Go's client never retries on its own, so every
// connection a pod drops or refuses is counted as failed.
type load struct {
	url    string
	rate   int
	cancel context.CancelFunc
	done   chan struct{}
	start  time.Time
	took   time.Duration

	ok, failed atomic.Int64
	mu         sync.Mutex
	bodies     map[string]int64
	errs       map[string]int64
}

// startLoad sends rate requests a second to url until stop.
func startLoad(url string, rate int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{url: url, rate: rate, cancel: cancel, done: make(chan struct{}),
		start: time.Now(), bodies: map[string]int64{}, errs: map[string]int64{}}
	// Half the requests reuse connections, half open one each: the first
	// meet pods that close under them, the second Service endpoints that
	// kube-proxy has not yet removed.
	client := func(keepAlive bool) *http.Client {
		return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second, DisableKeepAlives: !keepAlive,
			DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		}}
	}
	clients := [2]*http.Client{client(true), client(false)}
	var sent int
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	go func() {
		defer close(l.done)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				wg.Wait()
				l.took = time.Since(l.start)
				return
			case <-tick.C:
				wg.Add(1)
				sent++
				go func(c *http.Client) {
					defer wg.Done()
					l.one(c)
				}(clients[sent%2])
			}
		}
	}()
	return l
}

func (l *load) one(client *http.Client) {
	resp, err := client.Post(l.url, "text/plain", nil)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed.Add(1)
		l.errs[errorKind(err)]++
		return
	}
	l.ok.Add(1)
	l.bodies[strings.TrimSpace(string(body))]++
}

// errorKind is err without the addresses and ports that make each one
// unique, so that failures group.
func errorKind(err error) string {
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Op + ": " + op.Err.Error()
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// stop stops sending, waits for the requests in flight, and reports.
func (l *load) stop(t *testing.T, what string) (ok, failed int64) {
	t.Helper()
	l.cancel()
	<-l.done
	ok, failed = l.ok.Load(), l.failed.Load()
	total := ok + failed
	t.Logf("load %s: %d requests in %.1fs (%.0f/s): %d ok, %d failed; answers %v; errors %v",
		what, total, l.took.Seconds(), float64(total)/l.took.Seconds(), ok, failed, l.bodies, l.errs)
	return ok, failed
}

// TestRealNodeZeroDowntime sends steady requests through hello-go's
// Service (its ClusterIP, by kube-proxy) while Slipway deploys a new
// version to 3 replicas, rolls it back, adds a canary and retires it by
// deploying the canary's version: with Slipway's defaults (a preStop drain,
// and hello-go's own graceful shutdown) no request fails. Then it shows
// the measure can fail: the same rolling deploy with drain: 0s and the
// app's graceful shutdown off loses requests.
func TestRealNodeZeroDowntime(t *testing.T) {
	n := startNode(t)
	const ns, rate = "zero-downtime", 250

	t.Run("defaults", func(t *testing.T) {
		envs := fmt.Sprintf("  prod: {registry: dev, context: slipway-local, namespace: %[1]s, replicas: 3}\n"+
			"  canary: {registry: dev, context: slipway-local, namespace: %[1]s, replicas: 1, canaryOf: prod}\n", ns)
		// Slipway's default drain is 15s; 5s is as safe on one node (kube-proxy
		// here syncs within a second) and keeps the test short.
		p := newHelloProject(t, n, helloConfig("hello", n.Registry, "5s", envs), nil)
		v1 := p.ship(t, "feat: hello")
		p.run(t, p.slipway, "deploy", "prod")
		url := "http://" + p.service(t, ns, "hello") + "/"
		get(t, url, 10*time.Second)

		l := startLoad(url, rate)
		v2 := p.ship(t, "feat: hello again")
		p.run(t, p.slipway, "deploy", "prod")
		p.run(t, p.slipway, "rollback", "--reason", "zero-downtime test", "prod")
		p.run(t, p.slipway, "deploy", "canary")
		canaryPods := kubectl(t, n, "", "-n", ns, "get", "deploy", "hello-canary", "-o", "jsonpath={.status.readyReplicas}")
		// Let the canary serve some of the load before prod takes its version
		// and retires it.
		time.Sleep(3 * time.Second)
		p.run(t, p.slipway, "deploy", "prod")
		ok, failed := l.stop(t, "during deploy, rollback, canary and its retirement (defaults)")

		if canaryPods != "1" {
			t.Errorf("the canary had %q Ready pods; want 1", canaryPods)
		}
		if out, err := exec.Command(n.Kubectl, "--kubeconfig", n.Kubeconfig, "-n", ns, "get", "deploy", "hello-canary").CombinedOutput(); err == nil {
			t.Errorf("the canary still exists after prod took its version:\n%s", out)
		}
		if failed != 0 {
			t.Errorf("%d of %d requests failed during the deploys; want 0", failed, ok+failed)
		}
		if ok < 2000 {
			t.Errorf("only %d requests answered; want at least 2000", ok)
		}
		if r := float64(ok+failed) / l.took.Seconds(); r < 200 {
			t.Errorf("the load ran at %.0f requests/s; want at least 200", r)
		}
		for _, v := range []string{v1, v2} {
			if l.bodies["hello from "+v] == 0 {
				t.Errorf("no answer came from %s during the deploys: %v", v, l.bodies)
			}
		}
	})

	t.Run("no drain, no graceful shutdown", func(t *testing.T) {
		const ns = "no-drain"
		envs := fmt.Sprintf("  dev: {registry: dev, context: slipway-local, namespace: %s, replicas: 3}\n", ns)
		p := newHelloProject(t, n, helloConfig("hello-nodrain", n.Registry, "0s", envs),
			map[string]string{"HELLO_SHUTDOWN": "immediate"})
		p.ship(t, "feat: hello")
		p.run(t, p.slipway, "deploy", "dev")
		url := "http://" + p.service(t, ns, "hello-nodrain") + "/"
		get(t, url, 10*time.Second)

		l := startLoad(url, rate)
		p.ship(t, "feat: hello again")
		p.run(t, p.slipway, "deploy", "dev")
		p.run(t, p.slipway, "rollback", "--reason", "zero-downtime test", "dev")
		// Each rollout loses requests only while kube-proxy lags behind a
		// pod's exit: roll back and forth a few more times if none did.
		for i := 0; i < 3 && l.failed.Load() == 0; i++ {
			p.run(t, p.slipway, "rollback", "--reason", "zero-downtime test", "dev")
		}
		ok, failed := l.stop(t, "during deploy and rollback (drain 0s, no graceful shutdown)")
		if failed == 0 {
			t.Errorf("no request of %d failed without a drain or graceful shutdown: the measure cannot tell", ok)
		}
	})
}
