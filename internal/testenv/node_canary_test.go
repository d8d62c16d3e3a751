package testenv_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// promPort is where the canary tests' Prometheus listens on 127.0.0.1,
// among the real node's test ports (testenv.NodeClusterPorts).
const promPort = "27090"

// startPrometheus starts hack/testenv/prometheus.sh's Prometheus, scraping
// the pods on node n every scrape, and stops it when the test ends; it
// returns its URL.
func startPrometheus(t *testing.T, n *testenv.Node, scrape string) string {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "hack", "testenv", "prometheus.sh"))
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "SLIPWAY_TESTENV="+filepath.Dir(n.Kubeconfig),
		"SLIPWAY_PROMETHEUS_PORT="+promPort, "SLIPWAY_PROMETHEUS_SCRAPE="+scrape)
	run := func(arg string) {
		cmd := exec.Command(script, arg)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("prometheus.sh %s: %v\n%s", arg, err, out)
		}
	}
	t0 := time.Now()
	run("start")
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("timing: Prometheus up in %.1fs", time.Since(t0).Seconds())
	t.Cleanup(func() { run("stop") })
	return "http://127.0.0.1:" + promPort
}

// promValue asks Prometheus at base for the instant query q, whose
// answer is one value; ok is false when it has none.
func promValue(t *testing.T, base, q string) (v float64, ok bool) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(base + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&a); err != nil {
		t.Fatalf("query %s: %v", q, err)
	}
	if len(a.Data.Result) != 1 {
		return 0, false
	}
	s, _ := a.Data.Result[0].Value[1].(string)
	_, err = fmt.Sscan(s, &v)
	return v, err == nil
}

// waitScraped waits until Prometheus at base scrapes want pods of env in
// namespace ns.
func waitScraped(t *testing.T, base, ns, env string, want int) {
	t.Helper()
	q := fmt.Sprintf(`count(up{namespace=%q,environment=%q} == 1)`, ns, env)
	deadline := time.Now().Add(90 * time.Second)
	for {
		if v, ok := promValue(t, base, q); ok && int(v) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus does not scrape %d pods of %s after 90s (%s)", want, env, q)
		}
		time.Sleep(time.Second)
	}
}

// canaryEnvs are prod (2 replicas, behind the canary with a soak of 30s)
// and its canary, whose analysis compares the error rates of its pods'
// pages with prod's through Prometheus at prom, every 5s.
func canaryEnvs(ns, prom string) string {
	rate := `sum(rate(http_requests_total{namespace="{{.Namespace}}",pod=~"{{.Pods}}",handler="/"%s}[30s]))`
	return fmt.Sprintf(`  prod:
    registry: dev
    context: slipway-local
    namespace: %[1]s
    replicas: 2
    requires: {env: canary, soak: 30s}
  canary:
    registry: dev
    context: slipway-local
    namespace: %[1]s
    canaryOf: prod
    analysis:
      url: %[2]s
      interval: 5s
      metrics:
        - name: error-rate
          query: '%[3]s / %[4]s'
          maxIncrease: 0.05
`, ns, prom, fmt.Sprintf(rate, `,code=~"5.."`), fmt.Sprintf(rate, ""))
}

// TestRealNodeCanary runs canary analyses against a real Prometheus
// (Debian's, from hack/testenv/prometheus.sh) scraping hello-go's
// /metrics on the real node, under load sent through prod's Service,
// which reaches prod's 2 pods and the canary's. A healthy canary passes
// its analysis, which is recorded on its Deployment, and the prod gate
// then lets prod through, retiring the canary. A canary whose page
// answers 500 to half its requests (HELLO_FAIL_PERCENT=50) fails its
// analysis, naming the metric and the values (exit 5); being its first
// rollout, it is removed, and the prod gate refuses its version.
func TestRealNodeCanary(t *testing.T) {
	n := startNode(t)
	prom := startPrometheus(t, n, "5s")
	const ns = "e2e-canary"
	p := newHelloProject(t, n, helloConfig("hello", n.Registry, "1s", canaryEnvs(ns, prom)), nil)
	pod, err := exampleFile("hello-go", "pod.yml")
	if err != nil {
		t.Fatal(err)
	}
	v1 := p.ship(t, "feat: hello")
	p.run(t, p.slipway, "deploy", "prod", "--skip-gate", "--reason", "the first prod")
	page := "http://" + p.service(t, ns, "hello") + "/"
	get(t, page, 10*time.Second)
	l := startLoad(page, 40)
	defer l.stop(t, "through prod's Service")
	waitScraped(t, prom, ns, "prod", 2)

	v2 := p.ship(t, "feat: a healthy canary")
	out := p.run(t, p.slipway, "deploy", "canary")
	t.Logf("slipway deploy canary %s: %s", v2, out)
	if !regexp.MustCompile(`checks passed in [0-9.]+s: canary analysis`).MatchString(out) {
		t.Errorf("the canary's deploy reports no passed analysis")
	}
	if a := kubectl(t, n, "", "-n", ns, "get", "deploy", "hello-canary", "-o", `jsonpath={.metadata.annotations.slipway\.dev/analysis}`); !strings.Contains(a, `"verdict":"passed"`) {
		t.Errorf("the canary's analysis record is %q", a)
	}
	out = p.run(t, p.slipway, "-v", "deploy", "prod")
	for _, want := range []string{"canary's analysis of this digest passed at", "canary runs this digest, healthy", "removed hello-canary"} {
		if !strings.Contains(out, want) {
			t.Errorf("the prod deploy does not say %q:\n%s", want, out)
		}
	}
	answersAgain(t, page, "hello from "+v2)

	p.write(t, "pod.yml", string(withPodEnv(t, pod, map[string]string{"HELLO_FAIL_PERCENT": "50"})))
	v3 := p.ship(t, "feat: a canary that breaks under load")
	out = p.deployFails(t, "canary", v3, 5)
	for _, want := range []string{"CheckFailed: the pods are ready, but check canary analysis failed: round ",
		"error-rate: the canary's ", "(prod's ", "+ maxIncrease 0.05)"} {
		if !strings.Contains(out, want) {
			t.Errorf("the failure does not say %q", want)
		}
	}
	if d := kubectl(t, n, "", "-n", ns, "get", "deploy", "-o", "name"); strings.Contains(d, "hello-canary") {
		t.Errorf("the failed canary is still there: %q", d)
	}
	cmd := exec.Command(p.slipway, "deploy", "prod")
	cmd.Dir, cmd.Env = p.dir, p.env
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(string(b), "prod requires canary: nothing is deployed there") {
		t.Errorf("deploy of %s to prod = %v, want the gate's refusal (exit 3):\n%s", v3, err, b)
	}
	answersAgain(t, page, "hello from "+v2)
	t.Logf("versions: %s, then %s passed, %s failed", v1, v2, v3)
}
