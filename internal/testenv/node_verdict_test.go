package testenv_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// verdictNS is the namespace the verdict tests deploy into.
const verdictNS = "verdicts"

// deployOutput is the part of `slipway deploy -o json` the verdict tests
// read.
type deployOutput struct {
	Version      string `json:"version"`
	Image        string `json:"image"`
	Revision     int64  `json:"revision"`
	RolledBack   bool   `json:"rolledBack"`
	RolledBackTo int64  `json:"rolledBackTo"`
	Verdict      *struct {
		Phase   string `json:"phase"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Pods    []struct {
			Pod       string   `json:"pod"`
			Container string   `json:"container"`
			Reason    string   `json:"reason"`
			Message   string   `json:"message"`
			ExitCode  int32    `json:"exitCode"`
			Restarts  int32    `json:"restarts"`
			Logs      []string `json:"logs"`
		} `json:"pods"`
		Events []string `json:"events"`
		Hint   string   `json:"hint"`
	} `json:"verdict"`
}

// verdictProject is a Slipway project of testdata/verdictapp aimed at a
// real node, with the slipway binary that drives it.
type verdictProject struct {
	*nodeProject
	// good is the version the failing cases roll back to, and goodImage
	// the image reference it runs.
	good, goodImage string
}

// verdictPod is a pod.yml for verdictapp in mode with a readiness probe on
// /healthz and a memory limit; extra is appended to the app container, and
// more (whole containers, at the containers list's indent) after it.
func verdictPod(mode, limit, extra, more string) string {
	return fmt.Sprintf(`spec:
  terminationGracePeriodSeconds: 3
  containers:
    - name: app
      args: [%s]
      ports: [{containerPort: 8080}]
      readinessProbe:
        httpGet: {path: /healthz, port: 8080}
        periodSeconds: 1
      resources:
        requests: {cpu: 10m, memory: 16Mi}
        limits: {memory: %s}
%s%s`, mode, limit, extra, more)
}

// sidecar is a container for verdictPod's more: image as "side", with
// securityContext (a flow mapping) when not "".
func sidecar(image, securityContext string) string {
	s := "    - name: side\n      image: " + image + "\n"
	if securityContext != "" {
		s += "      securityContext: " + securityContext + "\n"
	}
	return s + "      resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 32Mi}}\n"
}

// verdictConfig is the project's slipway.yaml; user is image.user.
func verdictConfig(registry, user string) string {
	return fmt.Sprintf(`apiVersion: slipway/v1
app: verdict
image:
  base: scratch
  user: "%s"
  platforms: [linux/%s]
  layers:
    - {from: bin/verdictapp, to: /app/verdictapp, mode: "0755"}
  entrypoint: [/app/verdictapp]
  ports: [8080]
registries:
  dev: {url: %s/team, insecure: true}
environments:
  dev: {registry: dev, context: slipway-local, namespace: %s, replicas: 2}
deploy: {pod: pod.yml, port: 8080, drain: 1s, timeout: 30s}
`, user, runtime.GOARCH, registry, verdictNS)
}

// newVerdictProject builds verdictapp and makes a git repository of a
// project that packages it.
func newVerdictProject(t *testing.T, n *testenv.Node) *verdictProject {
	t.Helper()
	p := &verdictProject{nodeProject: newProject(t, n, map[string][]byte{".gitignore": []byte("bin/\n.slipway/\n")})}
	t0 := time.Now()
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(p.dir, "bin", "verdictapp"), "./testdata/verdictapp")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building verdictapp: %v\n%s", err, out)
	}
	t.Logf("timing: verdictapp built in %.1fs", time.Since(t0).Seconds())
	p.restore(t)
	return p
}

// ship commits the working tree as msg, then releases, builds and pushes
// it to the node's registry; it returns the version released.
func (p *verdictProject) ship(t *testing.T, msg string) string {
	t.Helper()
	t0 := time.Now()
	p.run(t, "git", "add", "-A")
	p.run(t, "git", "commit", "-q", "--allow-empty", "-m", msg)
	p.run(t, p.slipway, "release")
	version := strings.TrimPrefix(strings.TrimSpace(p.run(t, "git", "describe", "--tags", "--abbrev=0")), "v")
	p.run(t, p.slipway, "build")
	p.run(t, p.slipway, "push", "dev")
	t.Logf("timing: %s released, built and pushed in %.1fs", version, time.Since(t0).Seconds())
	return version
}

// deployRun is one `slipway deploy` and what came of it.
type deployRun struct {
	code    int
	stdout  string
	stderr  string
	elapsed time.Duration
	// out is the result in -o json: the whole output on success, its
	// "result" on failure, when the output also has "error" (the text a
	// failure prints without -o json) and "exitCode".
	out      deployOutput
	jsonErr  string
	jsonCode int
}

// deploy runs `slipway deploy dev` with extra arguments and returns its
// exit code and output, and the JSON with -o json among them.
func (p *verdictProject) deploy(t *testing.T, extra ...string) deployRun {
	t.Helper()
	cmd := exec.Command(p.slipway, append([]string{"deploy", "dev"}, extra...)...)
	cmd.Dir, cmd.Env = p.dir, p.env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err := cmd.Run()
	r := deployRun{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(t0)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running slipway deploy: %v", err)
	}
	t.Logf("slipway deploy dev %s: exit %d in %.1fs\nstdout: %s\nstderr: %s", strings.Join(extra, " "),
		r.code, r.elapsed.Seconds(), strings.TrimSpace(r.stdout), strings.TrimSpace(r.stderr))
	if !slices.Contains(extra, "json") {
		return r
	}
	var failed struct {
		Error    string        `json:"error"`
		ExitCode int           `json:"exitCode"`
		Result   *deployOutput `json:"result"`
	}
	s := strings.TrimSpace(r.stdout)
	if err := json.Unmarshal([]byte(s), &failed); err != nil {
		t.Fatalf("slipway deploy -o json printed what is not JSON: %v\n%s", err, s)
	}
	r.jsonErr, r.jsonCode = failed.Error, failed.ExitCode
	switch {
	case failed.Result != nil:
		r.out = *failed.Result
	case failed.Error == "":
		if err := json.Unmarshal([]byte(s), &r.out); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// deployFailed deploys twice, as text, then with -o json after shipping
// the same tree again as a new version (a ReplicaSet of its own, as the
// one just rolled back still has pods terminating), and checks both are a
// failed rollout for one of reasons, named in the text and in the JSON
// verdict, exit 5, rolled back; and that the good version runs again
// after each. It returns the JSON run.
func (p *verdictProject) deployFailed(t *testing.T, extra []string, reasons ...string) deployRun {
	t.Helper()
	text := p.deploy(t, extra...)
	if text.code != 5 {
		t.Fatalf("slipway deploy exited %d; want 5 (deploy failed)", text.code)
	}
	named := ""
	for _, want := range reasons {
		if strings.Contains(text.stderr, "failed: "+want+": ") {
			named = want
		}
	}
	if named == "" {
		t.Fatalf("the text does not name one of %v as the reason:\n%s", reasons, text.stderr)
	}
	if !regexp.MustCompile(`rolled back to revision \d+, which is running again`).MatchString(text.stderr) {
		t.Errorf("the text does not say it rolled back:\n%s", text.stderr)
	}
	t.Logf("timing: text verdict %s %.1fs after the deploy started", named, text.elapsed.Seconds())
	p.expectGood(t)

	p.ship(t, "fix: the same again")
	r := p.deploy(t, append(extra, "-o", "json")...)
	if r.code != 5 || r.jsonCode != 5 {
		t.Fatalf("slipway deploy -o json exited %d, JSON exitCode %d; want 5 (deploy failed)", r.code, r.jsonCode)
	}
	v := r.out.Verdict
	if v == nil {
		t.Fatalf("-o json has no verdict:\n%s", r.stdout)
	}
	t.Logf("timing: JSON verdict %s/%s %.1fs after the deploy started", v.Phase, v.Reason, r.elapsed.Seconds())
	if v.Phase != "failed" || !slices.Contains(reasons, v.Reason) {
		t.Fatalf("verdict %s/%s; want failed with one of %v", v.Phase, v.Reason, reasons)
	}
	if !strings.Contains(r.jsonErr, "failed: "+v.Reason+": ") {
		t.Errorf("the JSON error does not name the reason %s: %s", v.Reason, r.jsonErr)
	}
	if !r.out.RolledBack || r.out.RolledBackTo == 0 {
		t.Errorf("rolledBack %v, rolledBackTo %d; want a rollback to the previous revision", r.out.RolledBack, r.out.RolledBackTo)
	}
	p.expectGood(t)
	return r
}

// deployRefused deploys as text and with -o json and checks both are
// refused before anything is applied (exit 3) with a message that has
// every one of want, and that the good version still runs.
func (p *verdictProject) deployRefused(t *testing.T, want ...string) {
	t.Helper()
	text := p.deploy(t)
	r := p.deploy(t, "-o", "json")
	if text.code != 3 || r.code != 3 || r.jsonCode != 3 {
		t.Fatalf("exit %d as text, %d (JSON exitCode %d) with -o json; want 3 (refused before applying)", text.code, r.code, r.jsonCode)
	}
	for _, w := range want {
		if !strings.Contains(text.stderr, w) || !strings.Contains(r.jsonErr, w) {
			t.Errorf("the refusal does not say %q:\ntext: %s\njson: %s", w, text.stderr, r.jsonErr)
		}
	}
	if r.out.Verdict != nil {
		t.Errorf("a refused deploy has a verdict: %+v", r.out.Verdict)
	}
	t.Logf("timing: refused %.1fs (text) and %.1fs (JSON) after the deploy started", text.elapsed.Seconds(), r.elapsed.Seconds())
	p.expectGood(t)
}

// expectGood checks that the Deployment runs the good version again: its
// pod template has the good image, and all its replicas are updated and
// ready.
func (p *verdictProject) expectGood(t *testing.T) {
	t.Helper()
	raw := kubectl(t, p.n, "", "-n", verdictNS, "get", "deploy", "verdict", "-o", "json")
	var d liveDeployment
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatal(err)
	}
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Image != p.goodImage {
		t.Errorf("after the rollback the pod template runs %+v; want only %s", cs, p.goodImage)
	}
	if s := d.Status; s.UpdatedReplicas != d.Spec.Replicas || s.ReadyReplicas != d.Spec.Replicas {
		t.Errorf("after the rollback: %d replicas, %d updated, %d ready; want %d updated and ready", s.Replicas, s.UpdatedReplicas, s.ReadyReplicas, d.Spec.Replicas)
	}
}

// restore puts back the good slipway.yaml and pod.yml.
func (p *verdictProject) restore(t *testing.T) {
	p.write(t, "slipway.yaml", verdictConfig(p.n.Registry, "65532"))
	p.write(t, "pod.yml", verdictPod("serve", "64Mi", "", ""))
}

// TestRealNodeVerdicts deploys verdictapp with Slipway to a real node,
// healthy first, then broken in each way the kubelet reports differently,
// and checks each verdict: its reason in the text and in -o json, exit 5,
// and the good version running again after the rollback. Each case is a
// subtest that logs how long its verdict took from the deploy's start.
// Run one with -run 'TestRealNodeVerdicts/OOMKilled': the first healthy
// deploy always runs.
func TestRealNodeVerdicts(t *testing.T) {
	n := startNode(t)
	p := newVerdictProject(t, n)
	p.good = p.ship(t, "feat: verdictapp")
	r := p.deploy(t, "-o", "json")
	if r.code != 0 || r.out.Verdict == nil || r.out.Verdict.Phase != "succeeded" {
		t.Fatalf("first deploy: exit %d, verdict %+v; want 0 and succeeded", r.code, r.out.Verdict)
	}
	p.goodImage = r.out.Image
	t.Logf("timing: first deploy (cold pull, 2 replicas) succeeded %.1fs after the deploy started", r.elapsed.Seconds())

	// A healthy rolling update, as text then as JSON (a second version):
	// it succeeds, and is what the failing cases roll back to.
	t.Run("healthy", func(t *testing.T) {
		p.restore(t)
		p.good = p.ship(t, "fix: healthy again")
		text := p.deploy(t)
		if text.code != 0 || !strings.Contains(text.stderr, "verdict "+p.good+" runs in dev (revision ") {
			t.Fatalf("exit %d; want 0 and %s running:\n%s", text.code, p.good, text.stderr)
		}
		t.Logf("timing: text verdict succeeded %.1fs after the deploy started", text.elapsed.Seconds())
		p.good = p.ship(t, "fix: healthy once more")
		r := p.deploy(t, "-o", "json")
		v := r.out.Verdict
		if r.code != 0 || v == nil || v.Phase != "succeeded" || v.Reason != "Succeeded" || r.out.Version != p.good || r.out.RolledBack {
			t.Fatalf("exit %d, verdict %+v, version %s, rolled back %v; want 0, succeeded with %s", r.code, v, r.out.Version, r.out.RolledBack, p.good)
		}
		p.goodImage = r.out.Image
		t.Logf("timing: JSON verdict succeeded %.1fs after the deploy started", r.elapsed.Seconds())
		p.expectGood(t)
	})

	// A container that prints three lines and exits 1 fails the rollout
	// at its second exit (restart 1), before CrashLoopBackOff, with the
	// exit code. Slipway does not read the logs: it names the kubectl logs
	// command instead of quoting the last lines.
	t.Run("crash loop", func(t *testing.T) {
		p.restore(t)
		p.write(t, "pod.yml", verdictPod("crash", "64Mi", "", ""))
		p.ship(t, "fix: crashes")
		r := p.deployFailed(t, nil, "ContainerCrashed", "CrashLoopBackOff")
		v := r.out.Verdict
		if len(v.Pods) == 0 || v.Pods[0].Container != "app" || v.Pods[0].ExitCode != 1 || v.Pods[0].Restarts < 1 {
			t.Fatalf("verdict pods %+v; want container app, exit code 1, restarted", v.Pods)
		}
		if !strings.Contains(r.jsonErr, "exited with code 1") {
			t.Errorf("the error does not give the exit code: %s", r.jsonErr)
		}
		// The kubelet keeps the log's tail as the termination message
		// (terminationMessagePolicy FallbackToLogsOnError, as Slipway
		// renders it): the verdict quotes it.
		want := []string{"verdictapp: starting", "verdictapp: reading config", "verdictapp: fatal: config missing"}
		if got := v.Pods[0].Logs; !slices.Equal(got, want) {
			t.Errorf("verdict pods[0].logs = %q; want %q", got, want)
		}
		if !strings.Contains(r.jsonErr, "its last log line: verdictapp: fatal: config missing") {
			t.Errorf("the error does not quote the last log line: %s", r.jsonErr)
		}
		if !strings.Contains(v.Hint, "kubectl logs -n "+verdictNS+" "+v.Pods[0].Pod+" -c app") {
			t.Errorf("hint %q; want the kubectl logs command for the pod", v.Hint)
		}
	})

	// A sidecar image that is not in the registry: the kubelet's
	// ErrImagePull (NotFound), for the container that has it.
	t.Run("image missing", func(t *testing.T) {
		p.restore(t)
		missing := n.Registry + "/slipway-test/missing:1"
		p.write(t, "pod.yml", verdictPod("serve", "64Mi", "", sidecar(missing, "")))
		p.ship(t, "fix: a sidecar that is not there")
		r := p.deployFailed(t, nil, "ErrImagePull", "ImagePullBackOff")
		if ps := r.out.Verdict.Pods; len(ps) == 0 || ps[0].Container != "side" || !strings.Contains(ps[0].Message, "not found") {
			t.Errorf("verdict pods %+v; want container side, not found", ps)
		}
	})

	// A sidecar image from a registry that needs credentials, pulled with
	// a pull secret whose password is wrong: ErrImagePull, unauthorized.
	t.Run("wrong pull credentials", func(t *testing.T) {
		p.restore(t)
		port, _ := strconv.Atoi(testenv.NodeAuthRegistryPort)
		reg := testenv.StartRegistry(t, testenv.RegistryOptions{Port: port, Users: map[string]string{"ada": "right-pw"}})
		src, err := name.ParseReference(p.goodImage, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(src)
		if err != nil {
			t.Fatal(err)
		}
		side := reg.Host + "/slipway-test/side:1"
		dst, err := name.ParseReference(side, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(dst, img, remote.WithAuth(&authn.Basic{Username: "ada", Password: "right-pw"})); err != nil {
			t.Fatal(err)
		}
		kubectl(t, n, "", "-n", verdictNS, "create", "secret", "docker-registry", "wrong-creds",
			"--docker-server="+reg.Host, "--docker-username=ada", "--docker-password=wrong-pw")
		pod := strings.Replace(verdictPod("serve", "64Mi", "", sidecar(side, "")), "spec:\n", "spec:\n  imagePullSecrets: [{name: wrong-creds}]\n", 1)
		p.write(t, "pod.yml", pod)
		p.ship(t, "fix: a sidecar from a registry the pull secret cannot log in to")
		r := p.deployFailed(t, nil, "ErrImagePull", "ImagePullBackOff")
		ps := r.out.Verdict.Pods
		if len(ps) == 0 || ps[0].Container != "side" || !strings.Contains(strings.ToLower(ps[0].Message), "unauthorized") {
			t.Errorf("verdict pods %+v; want container side, unauthorized", ps)
		}
		if strings.Contains(r.stdout+r.stderr, "wrong-pw") {
			t.Errorf("the pull secret's password is in the output")
		}
	})

	// A sidecar image from a registry that is down (nothing listens on
	// its port, on 127.0.0.1): ErrImagePull with the refused connection.
	var unreachableHint string
	t.Run("registry unreachable", func(t *testing.T) {
		p.restore(t)
		p.write(t, "pod.yml", verdictPod("serve", "64Mi", "", sidecar("127.0.0.1:27051/slipway-test/side:1", "")))
		p.ship(t, "fix: a sidecar from a stopped registry")
		r := p.deployFailed(t, nil, "ErrImagePull", "ImagePullBackOff")
		if ps := r.out.Verdict.Pods; len(ps) == 0 || ps[0].Container != "side" || !strings.Contains(ps[0].Message, "127.0.0.1:27051") || !strings.Contains(ps[0].Message, "connection refused") {
			t.Errorf("verdict pods %+v; want container side, 127.0.0.1:27051 refused", ps)
		}
		unreachableHint = r.out.Verdict.Hint
	})
	t.Run("registry unreachable hint", func(t *testing.T) {
		if unreachableHint == "" {
			t.Skip("no verdict to look at")
		}
		if strings.Contains(unreachableHint, "exists in its registry") && !strings.Contains(unreachableHint, "reach") {
			t.Skipf("mismatch: for a refused connection the hint is the one for a missing image or credentials (%q); "+
				"want it to say the registry cannot be reached", unreachableHint)
		}
		if !strings.Contains(unreachableHint, "reach") {
			t.Errorf("hint %q; want it to say the registry cannot be reached", unreachableHint)
		}
	})

	// Pods that run but never turn ready: Timeout at --timeout (10s, well
	// before the progress deadline of deploy.timeout, 30s), naming them
	// NotReady.
	unreadyAtHead := false
	t.Run("readiness never passes", func(t *testing.T) {
		p.restore(t)
		p.write(t, "pod.yml", verdictPod("unready", "64Mi", "", ""))
		p.ship(t, "fix: never ready")
		r := p.deployFailed(t, []string{"--timeout", "10s"}, "Timeout")
		unreadyAtHead = true
		v := r.out.Verdict
		if len(v.Pods) == 0 || v.Pods[0].Reason != "NotReady" {
			t.Errorf("verdict pods %+v; want the new pods NotReady", v.Pods)
		}
		if !strings.Contains(strings.Join(v.Events, "\n"), "Readiness probe failed: HTTP probe failed with statuscode: 503") {
			t.Errorf("events %q; want the kubelet's Unhealthy probe failure", v.Events)
		}
	})

	// The version that never turns ready, deployed again at once: its
	// ReplicaSet is reused, and the pod the rollback just removed is still
	// there, phase Failed (the real kubelet marks a deleted pod so), its
	// container terminated. The verdict should still be the NotReady
	// Timeout: a pod being deleted says nothing about the template.
	t.Run("readiness never passes, redeployed", func(t *testing.T) {
		if !unreadyAtHead {
			t.Skip("needs the readiness never passes case just before it")
		}
		before := kubectl(t, n, "", "-n", verdictNS, "get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.metadata.deletionTimestamp}{\"\\n\"}{end}")
		t.Logf("pods before the redeploy:\n%s", before)
		r := p.deploy(t, "--timeout", "10s", "-o", "json")
		v := r.out.Verdict
		if r.code != 5 || v == nil {
			t.Fatalf("exit %d, verdict %+v; want 5 and a verdict", r.code, v)
		}
		p.expectGood(t)
		t.Logf("timing: JSON verdict failed/%s %.1fs after the deploy started", v.Reason, r.elapsed.Seconds())
		if v.Reason == "ContainerCrashed" && len(v.Pods) > 0 && strings.Contains(before, v.Pods[0].Pod+" ") {
			t.Skipf("mismatch: the verdict is ContainerCrashed (exit code %d) for pod %s, which the previous rollback deleted: "+
				"it was Running with a deletionTimestamp when the deploy started, then the real kubelet reported it phase Failed, "+
				"its container terminated (a Go PID 1 exits 2 on SIGTERM), while still being deleted; Slipway skips pods being "+
				"deleted only while they are not terminal, and terminal ones only when created 30s before the deploy; "+
				"want Timeout with the new pods NotReady", v.Pods[0].ExitCode, v.Pods[0].Pod)
		}
		if v.Reason != "Timeout" {
			t.Errorf("verdict %s: %s; want Timeout with the new pods NotReady", v.Reason, v.Message)
		}
	})

	// An image whose config runs as root, under Slipway's runAsNonRoot:
	// refused before applying (exit 3), since Slipway reads the config.
	t.Run("image runs as root", func(t *testing.T) {
		p.restore(t)
		p.write(t, "slipway.yaml", verdictConfig(n.Registry, "0"))
		p.ship(t, "fix: runs as root")
		p.deployRefused(t, `the image of container "app" runs as root (user "0") under runAsNonRoot`, "CreateContainerConfigError")
	})

	// securityContext.runAsUser: 0 on the app container: refused too.
	t.Run("runAsUser 0 refused", func(t *testing.T) {
		p.restore(t)
		p.write(t, "pod.yml", verdictPod("serve", "64Mi", "      securityContext: {runAsUser: 0}\n", ""))
		p.ship(t, "fix: app as uid 0")
		p.deployRefused(t, `container "app" runs as uid 0 under runAsNonRoot`)
	})

	// Slipway checks the app's own image only: a sidecar of another image
	// with runAsUser: 0 reaches the kubelet, which refuses to create it
	// (CreateContainerConfigError).
	var configHint string
	t.Run("runAsUser 0 sidecar", func(t *testing.T) {
		p.restore(t)
		side := pushNetcheck(t, n)
		p.write(t, "pod.yml", verdictPod("serve", "64Mi", "", sidecar(side, "{runAsUser: 0}")))
		p.ship(t, "fix: sidecar as uid 0")
		r := p.deployFailed(t, nil, "CreateContainerConfigError")
		if ps := r.out.Verdict.Pods; len(ps) == 0 || ps[0].Container != "side" || !strings.Contains(ps[0].Message, "runAsUser breaks non-root policy") {
			t.Errorf("verdict pods %+v; want container side, runAsUser breaks non-root policy", ps)
		}
		configHint = r.out.Verdict.Hint
	})
	t.Run("runAsUser 0 sidecar hint", func(t *testing.T) {
		if configHint == "" {
			t.Skip("no verdict to look at")
		}
		if strings.Contains(configHint, "Secret or ConfigMap") && !strings.Contains(configHint, "runAs") {
			t.Skipf("mismatch: for the kubelet's runAsNonRoot refusal the hint is the one for a missing Secret or ConfigMap (%q); "+
				"want it to name runAsUser/runAsNonRoot", configHint)
		}
		if !strings.Contains(configHint, "runAs") {
			t.Errorf("hint %q; want it to name runAsUser/runAsNonRoot", configHint)
		}
	})

	// A container that allocates past its 24Mi limit: the kernel kills it
	// (exit 137, OOMKilled), and the rollout fails at its second kill.
	t.Run("OOMKilled", func(t *testing.T) {
		p.restore(t)
		p.write(t, "pod.yml", verdictPod("oom", "24Mi", "", ""))
		p.ship(t, "fix: eats memory")
		r := p.deployFailed(t, nil, "ContainerCrashed", "CrashLoopBackOff")
		v := r.out.Verdict
		if len(v.Pods) == 0 || v.Pods[0].ExitCode != 137 || v.Pods[0].Message != "OOMKilled" {
			t.Errorf("verdict pods %+v; want exit code 137, OOMKilled", v.Pods)
		}
		if !strings.Contains(r.jsonErr, "exited with code 137 (OOMKilled)") || !strings.Contains(v.Hint, "raise its memory limit") {
			t.Errorf("error %q, hint %q; want OOMKilled and the memory limit named", r.jsonErr, v.Hint)
		}
	})
}

// liveDeployment is what the real-node tests read of a Deployment
// (kubectl get -o json).
type liveDeployment struct {
	Metadata struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Replicas int32 `json:"replicas"`
		Template struct {
			Spec struct {
				Containers []struct {
					Image string `json:"image"`
				} `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
	Status struct {
		Replicas        int32 `json:"replicas"`
		UpdatedReplicas int32 `json:"updatedReplicas"`
		ReadyReplicas   int32 `json:"readyReplicas"`
	} `json:"status"`
}
