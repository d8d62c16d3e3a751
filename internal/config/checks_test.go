package config

import (
	"strings"
	"testing"
	"time"
)

func TestChecksConfig(t *testing.T) {
	const head = "apiVersion: slipway/v1\napp: hello\nregistries: {dev: registry.example.com/team}\nenvironments:\n  prod:\n    registry: dev\n    checks:\n"
	tests := []struct {
		name, checks string
		problem      string // "" when valid
	}{
		{"http with defaults", "    - http: {path: /healthz}", ""},
		{"http in full", "    - http: {path: '/api/v1/ready;x=1', status: 204, body: '^ok$', count: 5, interval: 200ms, timeout: 2s}", ""},
		{"task", "    - task: smokeTest", ""},
		{"both kinds", "    - {http: {path: /}, task: smoke}", "environments.prod.checks[0]: a check is one kind"},
		{"no kind", "    - {}", "a check needs one of http, task, job or metric"},
		{"unknown kind", "    - canary: {query: up}", `unknown field "canary"`},
		{"metric", "    - metric: {url: 'http://127.0.0.1:9090', query: 'sum(rate(errors{namespace=\"{{.Namespace}}\"}[1m]))', max: 0.01, window: 1m, interval: 15s}", ""},
		{"metric min", "    - metric: {url: 'https://prom.example.com/', query: 'up', min: 1, noData: pass}", ""},
		{"metric no bound", "    - metric: {url: 'http://127.0.0.1:9090', query: up}", "a metric check needs max or min"},
		{"metric not a number", "    - metric: {url: 'http://127.0.0.1:9090', query: up, max: lots}", `metric.max: "lots" is not a number`},
		{"metric credentials", "    - metric: {url: 'http://bob:hunter2@127.0.0.1:9090', query: up, max: 1}", "the URL holds credentials"},
		{"metric template", "    - metric: {url: 'http://127.0.0.1:9090', query: 'up{ns=\"{{.Namespace\"}', max: 1}", "do not parse"},
		{"metric no data", "    - metric: {url: 'http://127.0.0.1:9090', query: up, max: 1, noData: ignore}", `"ignore" is not valid`},
		{"metric window", "    - metric: {url: 'http://127.0.0.1:9090', query: up, max: 1, window: 2h}", "window must be at most 30m0s"},
		{"job of the deployed image", "    - job: {command: [/app/smoke], env: {TARGET: http://hello}}", ""},
		{"job", "    - job: {image: 'registry.example.com/team/smoke:1.0', args: [-v], timeout: 10m}", ""},
		{"job and task", "    - {job: {}, task: smoke}", "has 2 of http, task, job and metric"},
		{"job image", "    - job: {image: 'Not An Image'}", `environments.prod.checks[0].job.image: "Not An Image" is not an image reference`},
		{"job env", "    - job: {env: {SLIPWAY_VERSION: x}}", "SLIPWAY_VERSION is set by Slipway"},
		{"job timeout", "    - job: {timeout: 2h}", "timeout must be at most 1h0m0s"},
		{"no path", "    - http: {status: 200}", `environments.prod.checks[0].http.path: missing required field "path"`},
		{"relative path", "    - http: {path: healthz}", `"healthz" must start with /`},
		{"dot dot", "    - http: {path: /a/../../secrets}", `holds a ".." segment`},
		{"percent escape", "    - http: {path: '/a/%2e%2e/b'}", "no %-escapes"},
		{"query", "    - http: {path: '/a?x=1'}", "holds a query"},
		{"space", "    - http: {path: '/a b'}", "no spaces"},
		{"status", "    - http: {path: /, status: 999}", "environments.prod.checks[0].http.status: status must be an HTTP status from 100 to 599, got 999"},
		{"status as text", "    - http: {path: /, status: ok}", "expected a whole number"},
		{"bad pattern", "    - http: {path: /, body: '(ok'}", "is not a regular expression"},
		{"count", "    - http: {path: /, count: 1000}", "count must be 1 to 100, got 1000"},
		{"negative count", "    - http: {path: /, count: -1}", "count must be 1 to 100, got -1"},
		{"interval", "    - http: {path: /, interval: 2h}", "interval must be at most 1m0s"},
		{"timeout", "    - http: {path: /, timeout: 90s}", "timeout must be at most 1m0s"},
		{"bad task name", "    - task: 'rm -rf'", `"rm -rf" is not a task name`},
		{"unknown http field", "    - http: {path: /, method: POST}", `unknown field "method"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProject(ProjectFile, []byte(head+tt.checks+"\n"))
			wantProblem(t, err, tt.problem)
		})
	}
}

func TestChecksDefaultsAndOrder(t *testing.T) {
	const yaml = "apiVersion: slipway/v1\napp: hello\nregistries: {dev: registry.example.com/team}\n" +
		"environments:\n  prod:\n    registry: dev\n    checks: [{task: smoke}]\n  dev: {registry: dev}\n" +
		"deploy:\n  checks:\n    - http: {path: /healthz}\n"
	p, err := ParseProject(ProjectFile, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	prod, _ := p.Environment("prod")
	got := p.ChecksOf(prod)
	if len(got) != 2 || got[0].String() != "http GET /healthz" || got[1].String() != "task smoke" {
		t.Fatalf("ChecksOf(prod) = %v, want deploy's http check, then prod's task", got)
	}
	h := got[0].HTTP
	if h.Status != 200 || h.Count != 3 || h.Interval.Duration != 250*time.Millisecond || h.Timeout.Duration != 5*time.Second {
		t.Errorf("defaults = %+v", h)
	}
	dev, _ := p.Environment("dev")
	if got := p.ChecksOf(dev); len(got) != 1 {
		t.Errorf("ChecksOf(dev) = %v, want deploy's check only", got)
	}
}

// TestChecksGitOps: a GitOps environment may have checks, its own and
// deploy.checks: they run on the pods the engine rolls out.
func TestChecksGitOps(t *testing.T) {
	const base = "apiVersion: slipway/v1\napp: hello\nregistries: {dev: registry.example.com/team}\n" +
		"environments:\n  prod:\n    registry: dev\n    gitops: {repo: https://git.example.com/env.git}\n"
	for name, extra := range map[string]string{
		"environment": "    checks: [{task: smoke}]\n",
		"every":       "deploy: {checks: [{task: smoke}]}\n",
	} {
		t.Run(name, func(t *testing.T) {
			p, err := ParseProject(ProjectFile, []byte(base+extra))
			if err != nil {
				t.Fatalf("err = %v, want the checks taken", err)
			}
			if env, _ := p.Environments.Get("prod"); len(p.ChecksOf(env)) != 1 {
				t.Errorf("ChecksOf(prod) = %v, want the check", p.ChecksOf(env))
			}
		})
	}
}

// TestCheckTasksInCI checks that a task check names a task of ci.yaml,
// reported at its place in slipway.yaml.
func TestCheckTasksInCI(t *testing.T) {
	const yaml = "apiVersion: slipway/v1\napp: hello\nregistries: {dev: registry.example.com/team}\n" +
		"environments:\n  prod:\n    registry: dev\n    checks:\n      - task: smokeTest\n      - task: smokeTset\n"
	p, err := ParseProject(ProjectFile, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseCI(CIFile, []byte("apiVersion: slipway/v1\ntasks: {smokeTest: ./smoke.sh}\npipeline: [smokeTest]\n"), p)
	want := `slipway.yaml:9:15: environments.prod.checks[1].task: unknown task "smokeTset"`
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `did you mean "smokeTest"`) {
		t.Errorf("err = %v, want %q with a suggestion", err, want)
	}
	if strings.Contains(err.Error(), "checks[0]") {
		t.Errorf("the existing task is reported: %v", err)
	}
}

// TestChecksSchema checks that the schema holds a check to one kind.
func TestChecksSchema(t *testing.T) {
	out, err := Schema("slipway")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Check": {`, `"maxProperties": 1`, `"HTTPCheck": {`, `"interval"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the schema lacks %s", want)
		}
	}
}

// wantProblem is checkProblem, and a problem must name its file and line.
func wantProblem(t *testing.T, err error, problem string) {
	t.Helper()
	checkProblem(t, err, problem)
	if problem != "" && !strings.Contains(err.Error(), "slipway.yaml:") {
		t.Errorf("the problem names no file:line: %v", err)
	}
}
