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
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
	"github.com/slipwayhq/slipway/internal/testenv/githttp"
)

// gitopsNS is the namespace the GitOps test deploys into.
const gitopsNS = "gitops-real"

// gitopsApp is the app of the GitOps test: its Deployment, and its file
// envs/dev/APP.yaml in the environment repository.
const gitopsApp = "verdict"

// envRepo is the environment repository of the GitOps test: a bare
// repository env.git served over smart HTTP with basic auth.
type envRepo struct {
	t    *testing.T
	bare string // the bare repository's directory
	url  string // its URL, without credentials
}

// git runs git with no system or user configuration in dir.
func (e *envRepo) git(dir string, args ...string) string {
	e.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Env", "GIT_AUTHOR_EMAIL=env@example.test", "GIT_COMMITTER_NAME=Env", "GIT_COMMITTER_EMAIL=env@example.test")
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// head is the full sha of branch main.
func (e *envRepo) head() string { e.t.Helper(); return e.git(e.bare, "rev-parse", "main") }

// newEnvRepo makes env.git with one commit holding envs/dev/.gitkeep
// (Flux applies it as an empty set) and serves it on 127.0.0.1 with user
// and pass until the test ends.
func newEnvRepo(t *testing.T, user, pass string) *envRepo {
	t.Helper()
	root := t.TempDir()
	e := &envRepo{t: t, bare: filepath.Join(root, "env.git")}
	e.git(root, "init", "-q", "--bare", "-b", "main", "env.git")
	work := filepath.Join(t.TempDir(), "seed")
	if err := os.MkdirAll(filepath.Join(work, "envs", "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "envs", "dev", ".gitkeep"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e.git(work, "init", "-q", "-b", "main")
	e.git(work, "add", "-A")
	e.git(work, "commit", "-q", "-m", "envs/dev: empty")
	e.git(work, "push", "-q", e.bare, "main")
	e.url = githttp.Start(t, root, user, pass) + "/env.git"
	return e
}

// gitopsConfig is the project's slipway.yaml: verdictapp, with dev a
// GitOps environment applied by Flux from envs/dev of repo.
func gitopsConfig(registry, repo string) string {
	return fmt.Sprintf(`apiVersion: slipway/v1
app: %s
image:
  base: scratch
  user: "65532"
  platforms: [linux/%s]
  layers:
    - {from: bin/verdictapp, to: /app/verdictapp, mode: "0755"}
  entrypoint: [/app/verdictapp]
  ports: [8080]
registries:
  dev: {url: %s/team, insecure: true}
environments:
  dev:
    registry: dev
    context: slipway-local
    namespace: %s
    replicas: 2
    gitops: {repo: %s, branch: main, path: envs/dev, engine: flux}
deploy: {pod: pod.yml, port: 8080, drain: 1s, timeout: 90s}
`, gitopsApp, runtime.GOARCH, registry, gitopsNS, repo)
}

// fluxEnvObjects are the Secret with the git server's credentials, the
// GitRepository env reading env.git (polling rarely: only a nudge fetches
// soon) and the Kustomization dev applying its envs/dev.
func fluxEnvObjects(ns, url, user, pass string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: env-auth, namespace: %[1]s}
stringData: {username: %[3]q, password: %[4]q}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: env, namespace: %[1]s}
spec: {interval: 10m, url: %[2]q, ref: {branch: main}, secretRef: {name: env-auth}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: dev, namespace: %[1]s}
spec: {interval: 10m, path: ./envs/dev, prune: true, wait: true, timeout: 1m, sourceRef: {kind: GitRepository, name: env}}
`, ns, url, user, pass)
}

// waitJSONPath polls kubectl get of object in ns until jsonpath is want,
// and returns how long that took.
func waitJSONPath(t *testing.T, n *testenv.Node, ns, object, jsonpath, want string, timeout time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	var got string
	for time.Since(t0) < timeout {
		out, err := exec.Command(n.Kubectl, "--kubeconfig", n.Kubeconfig, "--request-timeout=10s",
			"-n", ns, "get", object, "-o", "jsonpath="+jsonpath).Output()
		if got = strings.TrimSpace(string(out)); err == nil && got == want {
			return time.Since(t0)
		}
		time.Sleep(250 * time.Millisecond)
	}
	status, _ := exec.Command(n.Kubectl, "--kubeconfig", n.Kubeconfig, "-n", ns, "get", object, "-o", "jsonpath={.status}").CombinedOutput()
	t.Fatalf("%s %s = %q after %s; want %q; status: %s", object, jsonpath, got, timeout, want, status)
	return 0
}

func getDeployment(t *testing.T, n *testenv.Node) liveDeployment {
	t.Helper()
	var d liveDeployment
	if err := json.Unmarshal([]byte(kubectl(t, n, "", "-n", gitopsNS, "get", "deploy", gitopsApp, "-o", "json")), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// expectRunning checks that the Deployment carries digest, that its
// replicas are all updated and ready, and that each of its pods not being
// deleted runs digest on the real node, Running and Ready. The pods of a
// version just rolled away may take a moment to be deleted: it looks
// again for up to 20 s.
func expectRunning(t *testing.T, n *testenv.Node, digest string) {
	t.Helper()
	t0 := time.Now()
	first := runningProblems(t, n, digest)
	problems := first
	for looks := 1; len(problems) > 0 && time.Since(t0) < 20*time.Second; looks++ {
		time.Sleep(500 * time.Millisecond)
		if problems = runningProblems(t, n, digest); len(problems) == 0 {
			t.Logf("timing: the pods ran %s as wanted only %.1fs after the deploy ended (look %d); at first:\n%s",
				digest, time.Since(t0).Seconds(), looks+1, strings.Join(first, "\n"))
		}
	}
	if len(problems) > 0 {
		t.Errorf("the Deployment does not run %s on the node:\n%s\npods:\n%s", digest, strings.Join(problems, "\n"),
			kubectl(t, n, "", "-n", gitopsNS, "get", "pods", "-o", "wide"))
	}
}

func runningProblems(t *testing.T, n *testenv.Node, digest string) []string {
	t.Helper()
	var problems []string
	d := getDeployment(t, n)
	if got := d.Metadata.Annotations["slipway.dev/digest"]; got != digest {
		problems = append(problems, fmt.Sprintf("deployment annotation slipway.dev/digest = %s", got))
	}
	if cs := d.Spec.Template.Spec.Containers; len(cs) != 1 || !strings.HasSuffix(cs[0].Image, "@"+digest) {
		problems = append(problems, fmt.Sprintf("pod template containers %+v", cs))
	}
	if s := d.Status; s.Replicas != d.Spec.Replicas || s.UpdatedReplicas != d.Spec.Replicas || s.ReadyReplicas != d.Spec.Replicas {
		problems = append(problems, fmt.Sprintf("%d replicas wanted, %d there, %d updated, %d ready", d.Spec.Replicas, s.Replicas, s.UpdatedReplicas, s.ReadyReplicas))
	}
	var pods struct {
		Items []struct {
			Metadata struct {
				Name              string  `json:"name"`
				DeletionTimestamp *string `json:"deletionTimestamp"`
			} `json:"metadata"`
			Spec struct {
				NodeName string `json:"nodeName"`
			} `json:"spec"`
			Status struct {
				Phase      string `json:"phase"`
				Conditions []struct {
					Type   string `json:"type"`
					Status string `json:"status"`
				} `json:"conditions"`
				ContainerStatuses []struct {
					Image   string `json:"image"`
					ImageID string `json:"imageID"`
				} `json:"containerStatuses"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(kubectl(t, n, "", "-n", gitopsNS, "get", "pods", "-l", "app.kubernetes.io/name="+gitopsApp, "-o", "json")), &pods); err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, p := range pods.Items {
		if p.Metadata.DeletionTimestamp != nil {
			continue
		}
		live++
		ready := false
		for _, c := range p.Status.Conditions {
			ready = ready || c.Type == "Ready" && c.Status == "True"
		}
		cs := p.Status.ContainerStatuses
		if p.Spec.NodeName != n.Name || p.Status.Phase != "Running" || !ready || len(cs) != 1 || !strings.HasSuffix(cs[0].ImageID, "@"+digest) {
			problems = append(problems, fmt.Sprintf("pod %s on %q: phase %s, ready %v, containers %+v", p.Metadata.Name, p.Spec.NodeName, p.Status.Phase, ready, cs))
		}
	}
	if live != int(d.Spec.Replicas) {
		problems = append(problems, fmt.Sprintf("%d pods not being deleted; want %d", live, d.Spec.Replicas))
	}
	return problems
}

// timedLines is a writer that notes when each line arrived, from start.
type timedLines struct {
	start   time.Time
	partial string
	lines   []string
	at      []time.Duration
}

func (w *timedLines) Write(b []byte) (int, error) {
	w.partial += string(b)
	for {
		i := strings.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.lines, w.at = append(w.lines, w.partial[:i]), append(w.at, time.Since(w.start))
		w.partial = w.partial[i+1:]
	}
}

// all is when each line holding s arrived.
func (w *timedLines) all(s string) []time.Duration {
	var at []time.Duration
	for i, l := range w.lines {
		if strings.Contains(l, s) {
			at = append(at, w.at[i])
		}
	}
	return at
}

// gitopsDeploy runs `slipway deploy dev` in p and returns what came of it,
// with stderr's lines timed.
func gitopsDeploy(t *testing.T, p *verdictProject) (deployRun, *timedLines) {
	t.Helper()
	cmd := exec.Command(p.slipway, "deploy", "dev")
	cmd.Dir, cmd.Env = p.dir, p.env
	var stdout strings.Builder
	t0 := time.Now()
	stderr := &timedLines{start: t0}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	err := cmd.Run()
	r := deployRun{stdout: stdout.String(), stderr: strings.Join(stderr.lines, "\n") + stderr.partial, elapsed: time.Since(t0)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running slipway deploy: %v", err)
	}
	var timed strings.Builder
	for i, l := range stderr.lines {
		fmt.Fprintf(&timed, "\n  +%5.1fs %s", stderr.at[i].Seconds(), l)
	}
	t.Logf("slipway deploy dev: exit %d in %.1fs\nstdout: %s\nstderr (time from the start):%s", r.code, r.elapsed.Seconds(), strings.TrimSpace(r.stdout), timed.String())
	return r, stderr
}

// gitopsTook is the commit-to-verdict time a succeeded GitOps deploy
// prints: "... applied commit SHA (N.Ns)".
var gitopsTook = regexp.MustCompile(`applied commit [0-9a-f]{7,40} \(([0-9.]+)s\)`)

// TestRealNodeGitOps deploys verdictapp with Slipway to a GitOps
// environment that real Flux controllers apply to a real node: the deploy
// commits to an environment repository served over smart HTTP with basic
// auth, nudges Flux, waits for it to apply that exact commit and judges
// the real kubelet's pods. A healthy version succeeds; a crash-looping one
// fails (exit 5) and is reverted through git, and the first version runs
// again.
func TestRealNodeGitOps(t *testing.T) {
	testenv.RequireNode(t)
	testenv.RequireFlux(t)
	n := startNode(t)
	t0 := time.Now()
	flux := testenv.StartFlux(t, n.Cluster, testenv.FluxOptions{
		KustomizeArgs: []string{"--feature-gates=CancelHealthCheckOnNewRevision=true"},
	})
	t.Logf("timing: Flux's controllers ready in %.1fs", time.Since(t0).Seconds())

	const gitUser, gitPass = "slipway", "gitops-node-pass-4e1b"
	env := newEnvRepo(t, gitUser, gitPass)
	seed := env.head()
	kubectl(t, n, fluxEnvObjects(flux.Namespace, env.url, gitUser, gitPass), "apply", "-f", "-")
	took := waitJSONPath(t, n, flux.Namespace, "kustomization/dev", "{.status.lastAppliedRevision}", "main@sha1:"+seed, 2*time.Minute)
	t.Logf("timing: Flux applied the environment's first commit %.1fs after its objects were created", took.Seconds())

	p := newVerdictProject(t, n)
	p.env = append(p.env, "SLIPWAY_GIT_USERNAME="+gitUser, "SLIPWAY_GIT_PASSWORD="+gitPass, "SLIPWAY_ACTOR=ada")
	p.write(t, "slipway.yaml", gitopsConfig(n.Registry, env.url))
	p.write(t, "pod.yml", verdictPod("serve", "64Mi", "", ""))

	// (1) A healthy version: committed, applied by Flux, judged on the node.
	var good, goodDigest, goodCommit string
	t.Run("healthy", func(t *testing.T) {
		good = p.ship(t, "feat: verdictapp")
		r, _ := gitopsDeploy(t, p)
		if r.code != 0 {
			t.Fatalf("slipway deploy exited %d; want 0:\n%s", r.code, r.stderr)
		}
		m := regexp.MustCompile(`^succeeded ([0-9a-f]{40})\n?$`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("stdout %q; want succeeded and the commit", r.stdout)
		}
		goodCommit = m[1]
		if head := env.head(); head != goodCommit {
			t.Fatalf("the environment repository's head is %s; the deploy says it committed %s", head, goodCommit)
		}
		if parent := env.git(env.bare, "rev-parse", goodCommit+"^"); parent != seed {
			t.Errorf("the deploy's commit has parent %s; want the seed %s", parent, seed)
		}
		if strings.Contains(r.stdout+r.stderr, gitPass) {
			t.Errorf("the git password is in the output")
		}
		if !strings.Contains(r.stderr, fmt.Sprintf("%s %s runs in dev: Kustomization %s/dev applied commit %s", gitopsApp, good, flux.Namespace, goodCommit[:12])) {
			t.Errorf("stderr does not say Flux applied the commit:\n%s", r.stderr)
		}
		if m := gitopsTook.FindStringSubmatch(r.stderr); m != nil {
			t.Logf("timing: healthy deploy: commit to verdict %ss (Slipway's own count, from the push), %.1fs for the whole deploy", m[1], r.elapsed.Seconds())
		} else {
			t.Errorf("stderr has no commit-to-verdict time:\n%s", r.stderr)
		}
		// Flux applied it, not Slipway: the Deployment carries
		// kustomize-controller's labels, and the repository the digest.
		d := getDeployment(t, n)
		if d.Metadata.Labels["kustomize.toolkit.fluxcd.io/name"] != "dev" || d.Metadata.Labels["kustomize.toolkit.fluxcd.io/namespace"] != flux.Namespace {
			t.Errorf("the Deployment's labels %v are not Flux's Kustomization dev's", d.Metadata.Labels)
		}
		goodDigest = d.Metadata.Annotations["slipway.dev/digest"]
		if !strings.HasPrefix(goodDigest, "sha256:") {
			t.Fatalf("the Deployment's slipway.dev/digest is %q", goodDigest)
		}
		file := env.git(env.bare, "show", goodCommit+":envs/dev/"+gitopsApp+".yaml")
		if !strings.Contains(file, "@"+goodDigest) {
			t.Errorf("envs/dev/%s.yaml at %s does not hold the digest %s", gitopsApp, goodCommit[:12], goodDigest)
		}
		expectRunning(t, n, goodDigest)
		if body := env.git(env.bare, "log", "-1", "--format=%B", goodCommit); !strings.Contains(body, "Slipway-Digest: "+goodDigest) {
			t.Errorf("the deploy's commit has no Slipway-Digest trailer for %s:\n%s", goodDigest, body)
		}
	})
	if goodDigest == "" {
		t.FailNow()
	}

	// (2) A version whose container exits 1 at once: the pods crash-loop
	// on the node, the verdict fails (exit 5), and Slipway reverts its
	// commit through git and waits for Flux to apply the revert and for
	// the first version's pods.
	t.Run("crash loop reverted", func(t *testing.T) {
		p.write(t, "pod.yml", verdictPod("crash", "64Mi", "", ""))
		bad := p.ship(t, "fix: crashes")
		r, lines := gitopsDeploy(t, p)
		t.Logf("timing: crash-looping deploy: exit %d %.1fs after it started (commit, verdict, revert, revert applied, first version Ready)", r.code, r.elapsed.Seconds())
		if pushes := lines.all("gitops   pushed "); len(pushes) == 2 {
			t.Logf("timing: crash-looping deploy: its commit pushed at +%.1fs, the revert pushed at +%.1fs (%.1fs from the push to the failed verdict and the revert's push), "+
				"exit at +%.1fs (%.1fs for Flux to apply the revert and the first version's pods to be judged Ready)",
				pushes[0].Seconds(), pushes[1].Seconds(), (pushes[1] - pushes[0]).Seconds(), r.elapsed.Seconds(), (r.elapsed - pushes[1]).Seconds())
		} else {
			t.Errorf("stderr has %d lines saying pushed; want 2, the deploy's commit and its revert", len(pushes))
		}
		if r.code != 5 {
			t.Fatalf("slipway deploy exited %d; want 5 (deploy failed):\n%s", r.code, r.stderr)
		}
		named := ""
		for _, reason := range []string{"CrashLoopBackOff", "ContainerCrashed"} {
			if strings.Contains(r.stderr, "failed: "+reason+": ") {
				named = reason
			}
		}
		if named == "" {
			t.Errorf("stderr does not name CrashLoopBackOff or ContainerCrashed as the reason:\n%s", r.stderr)
		} else {
			t.Logf("the verdict's reason: %s", named)
		}
		if !strings.Contains(r.stderr, "exit code 1") {
			t.Errorf("stderr does not give the container's exit code 1:\n%s", r.stderr)
		}

		head := env.head()
		failed := env.git(env.bare, "rev-parse", head+"^")
		subject := env.git(env.bare, "log", "-1", "--format=%s", failed)
		if want := fmt.Sprintf("deploy %s %s to dev", gitopsApp, bad); subject != want {
			t.Errorf("the commit before the head is %q; want the failed deploy's %q", subject, want)
		}
		if parent := env.git(env.bare, "rev-parse", failed+"^"); parent != goodCommit {
			t.Errorf("the failed deploy's commit has parent %s; want the healthy deploy's %s", parent, goodCommit)
		}
		if !strings.Contains(r.stderr, "(commit "+failed[:12]+")") {
			t.Errorf("stderr does not name the failed deploy's commit %s:\n%s", failed[:12], r.stderr)
		}
		if !strings.Contains(r.stderr, "reverted by commit "+head[:12]) {
			t.Errorf("stderr does not say reverted by commit %s:\n%s", head[:12], r.stderr)
		}
		body := env.git(env.bare, "log", "-1", "--format=%B", head)
		if !regexp.MustCompile(`(?m)^Slipway-Reverts: ` + failed + `$`).MatchString(body) {
			t.Errorf("the head %s has no trailer Slipway-Reverts: %s:\n%s", head[:12], failed, body)
		}
		// The revert's tree is the healthy deploy's.
		if a, b := env.git(env.bare, "rev-parse", head+"^{tree}"), env.git(env.bare, "rev-parse", goodCommit+"^{tree}"); a != b {
			t.Errorf("the revert's tree %s is not the healthy deploy's %s", a, b)
		}
		expectRunning(t, n, goodDigest)
		if strings.Contains(r.stdout+r.stderr, gitPass) {
			t.Errorf("the git password is in the output")
		}
		// Flux's own record ends on the revert too (its health check
		// passes a moment after the pods are Ready).
		took := waitJSONPath(t, n, flux.Namespace, "kustomization/dev", "{.status.lastAppliedRevision}", "main@sha1:"+head, 90*time.Second)
		t.Logf("timing: Kustomization dev's lastAppliedRevision is the revert %.1fs after the deploy ended", took.Seconds())
		waitJSONPath(t, n, flux.Namespace, "kustomization/dev", `{.status.conditions[?(@.type=="Ready")].status}`, "True", 30*time.Second)
	})
}
