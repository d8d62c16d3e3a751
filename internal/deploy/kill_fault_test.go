package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// slipwayBin is the slipway binary the kill tests run: $SLIPWAY_BIN (make
// faults builds bin/slipway first), else one built once for the package.
var slipwayBin struct {
	once sync.Once
	path string
	err  error
	dir  string
}

func buildSlipway(t *testing.T) string {
	t.Helper()
	b := &slipwayBin
	b.once.Do(func() {
		if p := os.Getenv("SLIPWAY_BIN"); p != "" {
			b.path = p
			return
		}
		root, err := moduleRoot()
		if err != nil {
			b.err = err
			return
		}
		if b.dir, b.err = os.MkdirTemp("", "slipway-faults-bin-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "slipway")
		cmd := exec.Command("go", "build", "-o", b.path, "./cmd/slipway")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("building slipway: %w\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// killProxy is a registry proxy that counts requests and, at request
// number killAt, kills the slipway process under test (SIGKILL) before
// forwarding it, then answers 502: the process dies with killAt-1
// requests answered and others perhaps in flight.
type killProxy struct {
	srv    *httptest.Server
	mu     sync.Mutex
	target http.Handler
	n      atomic.Int64
	killAt int64
	kill   func()
}

func newKillProxy(t *testing.T) *killProxy {
	p := &killProxy{}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *killProxy) host() string { return strings.TrimPrefix(p.srv.URL, "http://") }

// reset points the proxy at registry URL target and arms it to kill at
// request killAt (0: never), calling kill.
func (p *killProxy) reset(target string, killAt int64, kill func()) {
	u, _ := url.Parse(target)
	p.mu.Lock()
	defer p.mu.Unlock()
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // requests of a killed process fail
	p.target, p.killAt, p.kill = rp, killAt, kill
	p.n.Store(0)
}

func (p *killProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.n.Add(1)
	p.mu.Lock()
	target, killAt, kill := p.target, p.killAt, p.kill
	p.mu.Unlock()
	if n == killAt && kill != nil {
		kill()
	}
	if killAt > 0 && n >= killAt {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	target.ServeHTTP(w, r)
}

// killProject is a git repository with slipway.yaml whose dev and rc
// registries are given hosts, built and released by the slipway binary.
type killProject struct {
	dir, bin string
	env      []string
}

func newKillProject(t *testing.T, bin, devHost, rcHost, ns, kubeconfig string) *killProject {
	t.Helper()
	dir := t.TempDir()
	home := t.TempDir()
	p := &killProject{dir: filepath.Join(dir, "app"), bin: bin}
	p.env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+home, "KUBECONFIG="+kubeconfig, "NO_COLOR=1",
		"SLIPWAY_ACTOR=faults", LeaseEnv+"=3s", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com")
	files := map[string]string{
		"slipway.yaml": fmt.Sprintf(`apiVersion: slipway/v1
app: hello
image:
  layers:
    - {from: a.bin, to: /app/a.bin}
    - {from: b.bin, to: /app/b.bin}
    - {from: c.bin, to: /app/c.bin}
registries:
  dev: {url: %s/team, insecure: true}
  rc: {url: %s/team, insecure: true}
environments:
  dev: {registry: dev, context: slipway-local, namespace: %s, replicas: 2}
deploy: {drain: 1s, timeout: 90s, stability: 1s}
`, devHost, rcHost, ns),
		"pod.yml":    "spec:\n  containers:\n    - name: app\n      readinessProbe: {httpGet: {path: /, port: 8080}}\n",
		".gitignore": ".slipway/\n",
	}
	for _, f := range []string{"a.bin", "b.bin", "c.bin"} {
		files[f] = strings.Repeat(f+" ", 200<<10) // 800 KB a layer
	}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(p.dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p.must(t, "git", "init", "-q", "-b", "main")
	p.must(t, "git", "add", "-A")
	p.must(t, "git", "commit", "-q", "-m", "feat: hello")
	return p
}

// run runs name with args in the project and returns its output and error.
func (p *killProject) run(name string, args ...string) (string, error) {
	if name == "slipway" {
		name = p.bin
	}
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = p.dir, p.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (p *killProject) must(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := p.run(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// release commits a change and releases, builds and pushes the next
// version; it returns the version and digest.
func (p *killProject) release(t *testing.T, change string) (string, string) {
	t.Helper()
	if change != "" {
		if err := os.WriteFile(filepath.Join(p.dir, "c.bin"), []byte(change), 0o644); err != nil {
			t.Fatal(err)
		}
		p.must(t, "git", "commit", "-q", "-am", "feat: "+change)
	}
	p.must(t, "slipway", "release")
	p.must(t, "slipway", "build")
	return p.built(t)
}

func (p *killProject) built(t *testing.T) (string, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(p.dir, ".slipway", "build.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ Version, Digest string }
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Version, rec.Digest
}

// killed runs slipway with args and kills it (SIGKILL) when kill is
// called, or after offset when offset > 0. It returns whether it was
// killed (rather than done by itself) and its output.
func (p *killProject) killed(t *testing.T, offset time.Duration, arm func(kill func()), args ...string) (bool, string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(p.bin, args...)
	cmd.Dir, cmd.Env = p.dir, p.env
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var killOnce sync.Once
	kill := func() {
		killOnce.Do(func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
	}
	if arm != nil {
		arm(func() {
			kill()
			<-time.After(50 * time.Millisecond) // let the process die before the request goes on
		})
	}
	var timer <-chan time.Time
	if offset > 0 {
		timer = time.After(offset)
	}
	var err error
	select {
	case err = <-done:
	case <-timer:
		kill()
		err = <-done
	case <-time.After(3 * time.Minute):
		kill()
		<-done
		t.Fatalf("slipway %s did not end within 3m:\n%s", strings.Join(args, " "), out.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return true, out.String()
		}
	}
	return false, out.String()
}

// tagsComplete reads every tag of REPO in the registry at host and every
// manifest and blob under it; it returns the tags and the first problem.
func tagsComplete(host, repo string) (map[string]v1.Hash, error) {
	r, err := name.NewRepository(host+"/"+repo, name.Insecure)
	if err != nil {
		return nil, err
	}
	tags, err := remote.List(r)
	if err != nil {
		var te interface{ Error() string }
		if errors.As(err, &te) && strings.Contains(err.Error(), "NAME_UNKNOWN") {
			return nil, nil // nothing pushed
		}
		return nil, fmt.Errorf("listing tags of %s: %w", r, err)
	}
	got := map[string]v1.Hash{}
	for _, tag := range tags {
		d, err := remote.Get(r.Tag(tag))
		if err != nil {
			return got, fmt.Errorf("reading %s: %w", tag, err)
		}
		got[tag] = d.Digest
		var imgs []v1.Image
		if d.MediaType.IsIndex() {
			idx, err := d.ImageIndex()
			if err != nil {
				return got, err
			}
			im, err := idx.IndexManifest()
			if err != nil {
				return got, err
			}
			for _, m := range im.Manifests {
				img, err := idx.Image(m.Digest)
				if err != nil {
					return got, err
				}
				imgs = append(imgs, img)
			}
		} else if d.MediaType.IsImage() {
			img, err := d.Image()
			if err != nil {
				return got, err
			}
			imgs = append(imgs, img)
		}
		for _, img := range imgs {
			if _, err := img.RawConfigFile(); err != nil {
				return got, fmt.Errorf("reading the config of %s: %w", tag, err)
			}
			layers, err := img.Layers()
			if err != nil {
				return got, err
			}
			for _, l := range layers {
				rc, err := l.Compressed()
				if err != nil {
					return got, fmt.Errorf("reading a layer of %s: %w", tag, err)
				}
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil {
					return got, fmt.Errorf("reading a layer of %s: %w", tag, err)
				}
			}
		}
	}
	return got, nil
}

// killPoints spreads n kill points over requests 1..total.
func killPoints(total int64, n int) []int64 {
	var ks []int64
	for i := range n {
		k := 1 + int64(i)*(total-1)/int64(max(n-1, 1))
		if len(ks) == 0 || ks[len(ks)-1] != k {
			ks = append(ks, k)
		}
	}
	return ks
}

// TestFaultKillPushPromote kills `slipway push` and `slipway promote`
// (SIGKILL) at requests spread over the whole of each, through a proxy in
// front of Debian's docker-registry that kills the process when the
// request arrives. After each kill every tag in the registry must point at
// a complete image; running the command again must succeed and tag the
// version with the built digest, complete.
func TestFaultKillPushPromote(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the slipway binary against real registries; not with -short")
	}
	bin := buildSlipway(t)
	dev := testenv.StartRegistry(t, testenv.RegistryOptions{})
	proxy := newKillProxy(t)
	// The push goes through the proxy to a fresh registry each try; the
	// promotion reads dev directly and writes through the proxy.
	var pushP, promoteP *killProject
	steps := []struct {
		fault   string
		args    []string
		project func() *killProject
	}{
		{"SIGKILL during push", []string{"push", "dev", "--no-deps"}, func() *killProject { return pushP }},
		{"SIGKILL during promote", []string{"promote", "dev", "rc", "--no-deps"}, func() *killProject { return promoteP }},
	}
	pushP = newKillProject(t, bin, proxy.host(), dev.Host, "unused", "/nonexistent")
	pushP.release(t, "")
	promoteP = newKillProject(t, bin, dev.Host, proxy.host(), "unused", "/nonexistent")
	promoteP.release(t, "")
	promoteP.must(t, "slipway", "push", "dev", "--no-deps")

	for _, s := range steps {
		t.Run(s.fault, func(t *testing.T) {
			p := s.project()
			version, digest := p.built(t)
			fresh := func() *testenv.Registry { return testenv.StartRegistry(t, testenv.RegistryOptions{}) }

			// One whole run, to count its requests.
			reg := fresh()
			proxy.reset(reg.URL, 0, nil)
			p.must(t, "slipway", s.args...)
			total := proxy.n.Load()
			reg.Stop()

			var tally testutil.FaultTally
			for _, k := range killPoints(total, 6) {
				tally.Tries++
				reg := fresh()
				wasKilled, out := p.killed(t, 0, func(kill func()) { proxy.reset(reg.URL, k, kill) }, s.args...)
				if !wasKilled {
					t.Logf("kill at request %d of %d: the run ended first:\n%s", k, total, out)
				}
				tags, err := tagsComplete(reg.Host, "team/hello")
				if err != nil {
					tally.Lost++
					t.Errorf("killed at request %d of %d: %v (tags %v)", k, total, err, tags)
					continue
				}
				proxy.reset(reg.URL, 0, nil)
				start := time.Now()
				out, err = p.run("slipway", s.args...)
				took := time.Since(start)
				tally.Recovered(took)
				if err != nil {
					t.Errorf("killed at request %d of %d (tags then %v); the next run: %v\n%s", k, total, tags, err, out)
					continue
				}
				after, err := tagsComplete(reg.Host, "team/hello")
				if err != nil || after[version].String() != digest {
					tally.Lost++
					t.Errorf("killed at request %d of %d; after the next run %s is %s, want %s (%v)", k, total, version, after[version], digest, err)
					continue
				}
				tally.Correct++
				t.Logf("killed at request %d of %d with tags %v; the next run completed in %s", k, total, keys(tags), took.Round(time.Millisecond))
				reg.Stop()
			}
			tally.Row(t, s.fault)
		})
	}
}

func keys(m map[string]v1.Hash) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// deployedState says what the Deployment runs: the version annotation of
// its template, and whether the rollout of its generation is complete
// and every replica ready.
func deployedState(ctx context.Context, c kubernetes.Interface, ns string) (version string, done bool, err error) {
	d, err := c.AppsV1().Deployments(ns).Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		return "", false, err
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	done = s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.ReadyReplicas == want &&
		s.AvailableReplicas == want && s.Replicas == want
	return d.Spec.Template.Annotations[AnnotationVersion], done, nil
}

// TestFaultKillDeployRollback kills `slipway deploy` and `slipway
// rollback` (SIGKILL) at several points on the real control plane, then
// runs the same command again with --wait-lock: the lock the killed run
// left is taken at once, without waiting (the killed run was on this
// machine), or has expired (SLIPWAY_LOCK_LEASE=3s here), and the
// Deployment converges on the version asked for, every
// replica ready, or, for a version whose pods crash, is rolled back to the
// one before (exit 5); the lock is released. The kill points are spread
// over how long one whole run took; nothing is timed.
func TestFaultKillDeployRollback(t *testing.T) {
	kc := useFaultCluster(t)
	bin := buildSlipway(t)
	_, client := faultClient(t, kc)
	dev := testenv.StartRegistry(t, testenv.RegistryOptions{})
	ns := fmt.Sprintf("fault-kill-%d", time.Now().UnixNano()%100000)
	p := newKillProject(t, bin, dev.Host, dev.Host, ns, kc)
	ver1, _ := p.release(t, "")
	p.must(t, "slipway", "push", "dev", "--no-deps")
	ver2, _ := p.release(t, "two")
	p.must(t, "slipway", "push", "dev", "--no-deps")
	p.must(t, "slipway", "deploy", "dev", "--no-deps", "--version", ver1)
	ctx := context.Background()

	type run struct {
		args []string
		// from is the version running before, want the one after the next
		// run, which exits with code.
		from, want string
		code       int
		// pod is pod.yml for the runs (the project's own when "").
		pod string
	}
	goodPod, err := os.ReadFile(filepath.Join(p.dir, "pod.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// kwok fails the containers of pods with this label, a second or two
	// after they run. pod.yml is read at deploy time, whatever the version.
	crashPod := "metadata: {labels: {pod-container-running-failed.stage.kwok.x-k8s.io: \"true\"}}\n" + string(goodPod)
	goodYAML, err := os.ReadFile(filepath.Join(p.dir, "slipway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// usePod writes pod.yml for the next runs; with the crashing one, also
	// a stability time (minReadySeconds) longer than kwok takes to fail the
	// pods, as a real deploy would hold one longer than its pods take to
	// crash: otherwise the rollout is complete, and rightly judged so,
	// before they do.
	usePod := func(t *testing.T, pod string) {
		yaml := string(goodYAML)
		if pod == "" {
			pod = string(goodPod)
		} else {
			yaml = strings.Replace(yaml, "stability: 1s", "stability: 6s", 1)
		}
		if err := os.WriteFile(filepath.Join(p.dir, "pod.yml"), []byte(pod), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.dir, "slipway.yaml"), []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var ver3 string
	kinds := []struct {
		fault string
		// setup runs before the first try, when not nil.
		setup func(t *testing.T)
		try   func(i int) run
	}{
		{"SIGKILL during deploy", nil, func(i int) run {
			from, to := ver1, ver2
			if i%2 == 1 {
				from, to = ver2, ver1
			}
			return run{[]string{"deploy", "dev", "--no-deps", "--version", to}, from, to, 0, ""}
		}},
		{"SIGKILL during rollback", nil, func(i int) run {
			from, to := ver2, ver1
			if i%2 == 1 {
				from, to = ver1, ver2
			}
			return run{[]string{"rollback", "dev", "--to", to, "--reason", "fault test"}, from, to, 0, ""}
		}},
		{"SIGKILL during a deploy that fails", func(t *testing.T) {
			ver3, _ = p.release(t, "three")
			p.must(t, "slipway", "push", "dev", "--no-deps")
		}, func(int) run {
			return run{[]string{"deploy", "dev", "--no-deps", "--version", ver3}, ver2, ver2, 5, crashPod}
		}},
	}
	fractions := []float64{0.05, 0.2, 0.4, 0.6, 0.8}
	for _, k := range kinds {
		t.Run(k.fault, func(t *testing.T) {
			if k.setup != nil {
				k.setup(t)
			}
			var tally testutil.FaultTally
			var whole time.Duration
			for i := -1; i < len(fractions); i++ {
				r := k.try(max(i, 0))
				usePod(t, "")
				if cur, done, err := deployedState(ctx, client, ns); err != nil || cur != r.from || !done {
					p.must(t, "slipway", "deploy", "dev", "--no-deps", "--version", r.from, "--wait-lock=60s")
				}
				usePod(t, r.pod)
				if i < 0 { // one whole run, to spread the kill points over
					start := time.Now()
					out, err := p.run("slipway", r.args...)
					whole = time.Since(start)
					if code := testutil.ExitCode(err); code != r.code {
						t.Fatalf("slipway %s: exit %d, want %d\n%s", strings.Join(r.args, " "), code, r.code, out)
					}
					continue
				}
				tally.Tries++
				off := time.Duration(fractions[i] * float64(whole))
				began := time.Now()
				wasKilled, _ := p.killed(t, off, nil, r.args...)
				if !wasKilled {
					// It ended first (a repeated failing deploy is quicker):
					// spread the next kill points over this run instead.
					whole = time.Since(began)
				}
				start := time.Now()
				out, err := p.run("slipway", append(r.args, "--wait-lock=60s")...)
				took := time.Since(start)
				tally.Recovered(took)
				if code := testutil.ExitCode(err); code != r.code {
					t.Errorf("killed at %s; the next run exited %d, want %d\n%s", off, code, r.code, out)
					continue
				}
				// The verdict is about the new pods; old ones may still be
				// going: give them a while.
				cur, done, err := deployedState(ctx, client, ns)
				for n := 0; n < 60 && err == nil && cur == r.want && !done; n++ {
					time.Sleep(500 * time.Millisecond)
					cur, done, err = deployedState(ctx, client, ns)
				}
				if err != nil || cur != r.want || !done {
					t.Errorf("killed at %s; after the next run the Deployment runs %q (complete %v, %v), want %s\n%s", off, cur, done, err, r.want, out)
					continue
				}
				l, err := client.CoordinationV1().Leases(ns).Get(ctx, "slipway-lock-hello-dev", metav1.GetOptions{})
				if err != nil || (l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "") {
					t.Errorf("killed at %s; after the next run the lock is not released (%v)", off, err)
					continue
				}
				if strings.Contains(out, "for the lock of") {
					t.Errorf("killed at %s; the next run waited for the lock of the killed run, on this machine\n%s", off, out)
					continue
				}
				tally.Correct++
				lock := "found the lock free"
				switch {
				case strings.Contains(out, "which is no longer running"):
					lock = "took the killed run's lock at once"
				case strings.Contains(out, "took over the expired lock"):
					lock = "took over the expired lock"
				}
				t.Logf("killed at %s of %s (killed: %v); the next run %s and left %s in %s", off.Round(time.Millisecond), whole.Round(time.Millisecond),
					wasKilled, lock, r.want, took.Round(time.Millisecond))
			}
			tally.Row(t, k.fault)
		})
	}
}
