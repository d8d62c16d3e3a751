package testenv_test

import (
	"errors"
	"os/exec"
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
	if !strings.Contains(out, "checks passed: http GET /") {
		t.Errorf("deploy did not report its checks:\n%s", out)
	}

	p.write(t, "slipway.yaml", helloConfig("hello", n.Registry, "1s", checksEnv(`^hello from 9\.9\.9`)))
	v2 := p.ship(t, "feat: the wrong page")
	cmd := exec.Command(p.slipway, "deploy", "dev")
	cmd.Dir, cmd.Env = p.dir, p.env
	b, err := cmd.CombinedOutput()
	out = string(b)
	t.Logf("slipway deploy %s: %s", v2, out)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Fatalf("deploy of the wrong page = %v, want exit 5", err)
	}
	for _, want := range []string{"CheckFailed", "check http GET / failed: request 1 of 4, to pod hello-",
		`does not match "^hello from 9\\.9\\.9"`, "| hello from " + v2, "rolled back to revision 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("the failure does not say %q", want)
		}
	}
	body := get(t, "http://"+p.service(t, "e2e-checks", "hello")+"/", 10*time.Second)
	if want := "hello from " + v1; !strings.HasPrefix(body, want) {
		t.Errorf("after the rollback the Service answers %q, want %s", body, want)
	}
}
