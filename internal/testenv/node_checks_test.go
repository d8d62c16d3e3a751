package testenv_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// checksEnv is dev with an HTTP check whose body pattern is pattern.
func checksEnv(pattern string) string {
	return "  dev:\n    registry: dev\n    context: slipway-local\n    namespace: e2e-checks\n    replicas: 2\n" +
		"    checks:\n      - http: {path: /, body: '" + pattern + "', count: 4, interval: 100ms}\n"
}

// TestRealNodeHTTPCheck deploys examples/hello-go with an HTTP check,
// sent through the API server's pod proxy to the real node's pods: the
// right page passes; a wrong page (a body that does not match) fails the
// rollout with CheckFailed, shows what the pod answered, and rolls back
// to the version before, which answers again.
func TestRealNodeHTTPCheck(t *testing.T) {
	n := startNode(t)
	p := newHelloProject(t, n, helloConfig("hello", n.Registry, "1s", checksEnv("^hello from ")), nil)
	v1 := p.ship(t, "feat: hello")
	out := p.run(t, p.slipway, "deploy", "dev")
	if !regexp.MustCompile(`checks passed in [0-9.]+s: http GET /`).MatchString(out) {
		t.Errorf("deploy did not report its checks:\n%s", out)
	}

	p.write(t, "slipway.yaml", helloConfig("hello", n.Registry, "1s", checksEnv(`^hello from 9\.9\.9`)))
	v2 := p.ship(t, "feat: the wrong page")
	out = p.deployFails(t, "dev", v2, 5)
	for _, want := range []string{"CheckFailed", "check http GET / failed: request 1 of 4, to pod hello-",
		`does not match "^hello from 9\\.9\\.9"`, "| hello from " + v2, "rolled back to revision 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the failure does not say %q", want)
		}
	}
	answersAgain(t, "http://"+p.service(t, "e2e-checks", "hello")+"/", "hello from "+v1)
	fleetSaysRolledBack(t, p, v1, v2)
}

// fleetSaysRolledBack reads the fleet from the real node's cluster, as
// slipway status --all does with no project: hello in dev runs v1 with
// both pods ready (the kubelet's own readiness), is marked failed for v2's
// rollout, rolled back since, and its details hold v2's failed checks and
// both rollouts, v1's newest (a rollback is a new revision). status dev
// says the same of the checks.
func fleetSaysRolledBack(t *testing.T, p *nodeProject, v1, v2 string) {
	t.Helper()
	var f struct {
		Rows []struct {
			App, Environment, Version, Health, State string
			Ready, Desired                           int
			Checks                                   *struct {
				Version string
				Passed  bool
			}
			History []struct{ Version string }
		}
	}
	if err := json.Unmarshal([]byte(p.run(t, p.slipway, "status", "--all", "--context", "slipway-local", "-o", "json")), &f); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range f.Rows {
		if r.App != "hello" || r.Environment != "dev" {
			continue
		}
		found = true
		if r.Version != v1 || r.Health != "healthy" || r.Ready != 2 || r.Desired != 2 || r.State != "failed" {
			t.Errorf("the fleet's row of hello in dev: %+v; want %s healthy on 2 of 2 pods, failed since", r, v1)
		}
		if r.Checks == nil || r.Checks.Passed || r.Checks.Version != v2 || len(r.History) != 2 || r.History[0].Version != v1 || r.History[1].Version != v2 {
			// The rollback made v1's ReplicaSet the newest revision again.
			t.Errorf("the fleet's row of hello in dev has checks %+v and history %+v; want %s's failed checks, then %s and %s", r.Checks, r.History, v2, v1, v2)
		}
	}
	if !found {
		t.Errorf("the fleet has no row of hello in dev: %+v", f.Rows)
	}
	if out := p.run(t, p.slipway, "status", "dev"); !strings.Contains(out, "checks failed for "+v2) {
		t.Errorf("status dev does not show the failed checks:\n%s", out)
	}
}

// smokeCI is a ci.yaml whose smoke task fetches SLIPWAY_URL, forwarded to
// a new pod, and wants its page to match pattern.
func smokeCI(pattern string) string {
	return "apiVersion: slipway/v1\ntasks:\n  smoke: |\n" +
		"    page=$(curl -fsS --max-time 5 \"$SLIPWAY_URL/\") || exit 2\n" +
		"    echo \"$SLIPWAY_ENVIRONMENT $SLIPWAY_VERSION: $page\"\n" +
		"    echo \"$page\" | grep -q '" + pattern + "' || { echo 'FAIL: wrong page'; exit 1; }\n" +
		"pipeline: [smoke]\n"
}

// TestRealNodeTaskCheck deploys examples/hello-go with a task check that
// fetches SLIPWAY_URL, port-forwarded through the API server to a new pod
// on the real node: the version's own page passes; a smoke task that
// exits 1 fails the rollout with CheckFailed and the task's output, and
// rolls back.
func TestRealNodeTaskCheck(t *testing.T) {
	n := startNode(t)
	env := "  dev:\n    registry: dev\n    context: slipway-local\n    namespace: e2e-tasks\n    checks: [{task: smoke}]\n"
	p := newHelloProject(t, n, helloConfig("hello", n.Registry, "1s", env), nil)
	p.write(t, "ci.yaml", smokeCI("^hello from "))
	v1 := p.ship(t, "feat: hello")
	out := p.run(t, p.slipway, "deploy", "dev")
	if !regexp.MustCompile(`checks passed in [0-9.]+s: task smoke`).MatchString(out) {
		t.Errorf("deploy did not report its check:\n%s", out)
	}

	p.write(t, "ci.yaml", smokeCI("^goodbye"))
	v2 := p.ship(t, "feat: a smoke test the page fails")
	out = p.deployFails(t, "dev", v2, 5)
	for _, want := range []string{"CheckFailed: the pods are ready, but check task smoke failed: exited with status 1",
		"| dev " + v2 + ": hello from " + v2, "| FAIL: wrong page", "rolled back to revision 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the failure does not say %q", want)
		}
	}
	if strings.Contains(out, "SLIPWAY_URL is not set") {
		t.Error("the forward failed")
	}
	answersAgain(t, "http://"+p.service(t, "e2e-tasks", "hello")+"/", "hello from "+v1)
}

// TestRealNodeJobCheck deploys examples/hello-go, then a version whose Job
// check runs the deployed image with a port it cannot listen on: the Job
// fails in the environment's namespace, the deploy fails with CheckFailed
// and the Job's logs (exit 5), rolls back, and the failed Job stays to
// read.
func TestRealNodeJobCheck(t *testing.T) {
	n := startNode(t)
	env := "  dev: {registry: dev, context: slipway-local, namespace: e2e-jobs}\n"
	p := newHelloProject(t, n, helloConfig("hello", n.Registry, "1s", env), nil)
	v1 := p.ship(t, "feat: hello")
	p.run(t, p.slipway, "deploy", "dev")

	env = "  dev:\n    registry: dev\n    context: slipway-local\n    namespace: e2e-jobs\n" +
		"    checks: [{job: {env: {PORT: no-such-port}, timeout: 60s}}]\n"
	p.write(t, "slipway.yaml", helloConfig("hello", n.Registry, "1s", env))
	v2 := p.ship(t, "feat: a Job check that fails")
	out := p.deployFails(t, "dev", v2, 5)
	for _, want := range []string{"CheckFailed: the pods are ready, but check job of the deployed image failed: the Job failed",
		"kubectl -n e2e-jobs logs job/hello-check-", "no-such-port", "rolled back to revision 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the failure does not say %q", want)
		}
	}
	if jobs := kubectl(t, n, "", "-n", "e2e-jobs", "get", "jobs", "-o", "name"); !strings.Contains(jobs, "job.batch/hello-check-") {
		t.Errorf("the failed Job is gone: %q", jobs)
	}
	answersAgain(t, "http://"+p.service(t, "e2e-jobs", "hello")+"/", "hello from "+v1)
}

// answersAgain waits until the Service at url answers want again after a
// rollback, 5 times in a row. A rollback's verdict comes once the old
// version's pods are ready; kube-proxy learns of the endpoints' change a
// moment later, and until then the failed version's pods, which drain
// before they go (the preStop sleep Slipway renders), may still answer.
func answersAgain(t *testing.T, url, want string) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for inRow := 0; ; {
		body := get(t, url, 10*time.Second)
		if inRow++; !strings.HasPrefix(body, want) {
			inRow = 0
		}
		if inRow == 5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the rollback the Service still answers %q, want %s", body, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
