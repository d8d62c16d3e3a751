package config

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Check is an after-rollout check: once the new pods are ready, the
// rollout succeeds only when every check passes. It is one of two kinds,
// http or task.
type Check struct {
	HTTP   *HTTPCheck   `yaml:"http" doc:"GET requests to the new pods through the Kubernetes API server's pod proxy (no network path to the pods needed); see docs/verification.md"`
	Task   string       `yaml:"task" doc:"a ci.yaml task run by Slipway with SLIPWAY_ENVIRONMENT, SLIPWAY_NAMESPACE, SLIPWAY_VERSION, SLIPWAY_DIGEST and SLIPWAY_URL (port-forwarded through the API server to a new pod) set; it passes when it exits 0"`
	Job    *JobCheck    `yaml:"job" doc:"a Kubernetes Job run in the environment's namespace, judged like a rollout, with its logs on failure: for checks that need the cluster's network; see docs/verification.md"`
	Metric *MetricCheck `yaml:"metric" doc:"a PromQL query against Prometheus's HTTP API, with a threshold held over a window; see docs/verification.md"`
}

// HTTPCheck sends GET requests to the new pods and judges their answers.
type HTTPCheck struct {
	Path     string   `yaml:"path" required:"true" doc:"absolute path requested on deploy.port of each new pod, e.g. /healthz; no query, no . or .. segments"`
	Status   int      `yaml:"status" doc:"the status every answer must have (default 200)"`
	Body     string   `yaml:"body" doc:"a regular expression (Go RE2 syntax) the first 64 KiB of every answer's body must match"`
	Count    int      `yaml:"count" doc:"requests to send, to the new pods in turn; all must pass (default 3, at most 100)"`
	Interval Duration `yaml:"interval" doc:"pause between two requests (default 250ms, at most 1m)"`
	Timeout  Duration `yaml:"timeout" doc:"how long one request may take (default 5s, at most 1m)"`
}

// JobCheck runs a Job of one container in the environment's namespace;
// it passes when the Job completes.
type JobCheck struct {
	Image   string            `yaml:"image" doc:"image to run (default: the image just deployed, by digest)"`
	Command []string          `yaml:"command" doc:"the container's command (default: the image's entrypoint)"`
	Args    []string          `yaml:"args" doc:"the container's arguments"`
	Env     map[string]string `yaml:"env" doc:"environment variables, added to SLIPWAY_ENVIRONMENT, SLIPWAY_NAMESPACE, SLIPWAY_VERSION and SLIPWAY_DIGEST"`
	Timeout Duration          `yaml:"timeout" doc:"how long the Job may run (default 5m, at most 1h)"`
}

// DefaultJobTimeout and maxJobTimeout bound a Job check.
const (
	DefaultJobTimeout = 5 * time.Minute
	maxJobTimeout     = time.Hour
)

// Defaults and bounds of an HTTP check.
const (
	DefaultCheckStatus   = 200
	DefaultCheckCount    = 3
	DefaultCheckInterval = 250 * time.Millisecond
	DefaultCheckTimeout  = 5 * time.Second
	maxCheckCount        = 100
	maxCheckWait         = time.Minute
	maxCheckBody         = 1024
)

// Kind is "http" or "task", "" when the check names neither.
func (c Check) Kind() string {
	switch {
	case c.HTTP != nil:
		return "http"
	case c.Task != "":
		return "task"
	case c.Job != nil:
		return "job"
	case c.Metric != nil:
		return "metric"
	}
	return ""
}

// String names the check in messages: "http GET /healthz" or "task smoke".
func (c Check) String() string {
	switch c.Kind() {
	case "http":
		return "http GET " + c.HTTP.Path
	case "task":
		return "task " + c.Task
	case "job":
		if c.Job.Image == "" {
			return "job of the deployed image"
		}
		return "job " + c.Job.Image
	case "metric":
		return "metric " + clip(c.Metric.Query, 80)
	}
	return "check"
}

// ChecksOf returns the checks of a deploy to env: deploy.checks, then the
// environment's own.
func (p *Project) ChecksOf(env Environment) []Check {
	out := make([]Check, 0, len(p.Deploy.Checks)+len(env.Checks))
	out = append(out, p.Deploy.Checks...)
	return append(out, env.Checks...)
}

// checkPath is what an HTTP check's path may hold: the unreserved and
// sub-delimiter characters of RFC 3986 paths, no percent-escapes.
var checkPath = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$`)

// defaultChecks fills what the checks left out.
func defaultChecks(checks []Check) {
	for i := range checks {
		if j := checks[i].Job; j != nil && j.Timeout.Duration == 0 {
			j.Timeout.Duration = DefaultJobTimeout
		}
		if m := checks[i].Metric; m != nil {
			defaultMetric(m)
		}
		h := checks[i].HTTP
		if h == nil {
			continue
		}
		if h.Status == 0 {
			h.Status = DefaultCheckStatus
		}
		if h.Count == 0 {
			h.Count = DefaultCheckCount
		}
		if h.Interval.Duration == 0 {
			h.Interval.Duration = DefaultCheckInterval
		}
		if h.Timeout.Duration == 0 {
			h.Timeout.Duration = DefaultCheckTimeout
		}
	}
}

// checks checks deploy.checks and every environment's checks.
func (v *validator) checks(p *Project) {
	v.checkList("deploy.checks", p.Deploy.Checks)
	for _, e := range p.Environments {
		v.checkList("environments."+e.Name+".checks", e.Checks)
	}
}

// checkTasks reports the task checks of p that name no task of c, at
// their place in p's file.
func checkTasks(p *Project, c *CI) Problems {
	v := &validator{src: p.Source}
	lists := map[string][]Check{"deploy.checks": p.Deploy.Checks}
	for _, e := range p.Environments {
		lists["environments."+e.Name+".checks"] = e.Checks
	}
	for _, at := range slices.Sorted(maps.Keys(lists)) {
		for i, ch := range lists[at] {
			if _, ok := c.Tasks.Get(ch.Task); ch.Task != "" && !ok {
				v.add(fmt.Sprintf("%s[%d].task", at, i), "%s", unknown("task", ch.Task, c.Tasks.Names()))
			}
		}
	}
	return v.probs
}

func (v *validator) checkList(at string, checks []Check) {
	for i, c := range checks {
		ci := fmt.Sprintf("%s[%d]", at, i)
		kinds := 0
		for _, set := range []bool{c.HTTP != nil, c.Task != "", c.Job != nil, c.Metric != nil} {
			if set {
				kinds++
			}
		}
		switch {
		case kinds > 1:
			v.add(ci, "a check is one kind, but this one has %d of http, task, job and metric; split it into checks of one each", kinds)
		case c.HTTP != nil:
			v.httpCheck(ci+".http", *c.HTTP)
		case c.Task != "":
			if !taskName.MatchString(c.Task) {
				v.add(ci+".task", "%q is not a task name; name a task of %s (letters, digits, '-' and '_', starting with a letter)", c.Task, CIFile)
			}
		case c.Job != nil:
			v.jobCheck(ci+".job", *c.Job)
		case c.Metric != nil:
			v.metricCheck(ci+".metric", *c.Metric)
		default:
			v.add(ci, "a check needs one of http, task, job or metric, e.g. {http: {path: /healthz}}, {task: smokeTest} or {job: {image: registry.example.com/smoke:1}}")
		}
	}
}

func (v *validator) httpCheck(at string, h HTTPCheck) {
	if msg := checkPathProblem(h.Path); msg != "" {
		v.add(at+".path", "%s", msg)
	}
	if h.Status < 100 || h.Status > 599 {
		v.add(at+".status", "status must be an HTTP status from 100 to 599, got %d", h.Status)
	}
	if len(h.Body) > maxCheckBody {
		v.add(at+".body", "the pattern is %d bytes long; keep it to %d", len(h.Body), maxCheckBody)
	} else if _, err := regexp.Compile(h.Body); err != nil {
		v.add(at+".body", "%q is not a regular expression (Go RE2 syntax): %s", h.Body, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
	}
	if h.Count < 1 || h.Count > maxCheckCount {
		v.add(at+".count", "count must be 1 to %d, got %d", maxCheckCount, h.Count)
	}
	if h.Interval.Duration > maxCheckWait {
		v.add(at+".interval", "interval must be at most %s, got %s", maxCheckWait, h.Interval.Duration)
	}
	if h.Timeout.Duration > maxCheckWait {
		v.add(at+".timeout", "timeout must be at most %s, got %s", maxCheckWait, h.Timeout.Duration)
	}
}

func (v *validator) jobCheck(at string, j JobCheck) {
	if j.Image != "" && !imageRef.MatchString(j.Image) {
		v.add(at+".image", "%q is not an image reference; give e.g. registry.example.com/team/smoke:1.0", j.Image)
	}
	for name := range j.Env {
		if !envVarName.MatchString(name) {
			v.add(at+".env."+name, "%q is not an environment variable name; use letters, digits and '_', not starting with a digit", name)
		} else if strings.HasPrefix(name, "SLIPWAY_") {
			v.add(at+".env."+name, "%s is set by Slipway; name the variable otherwise", name)
		}
	}
	if j.Timeout.Duration > maxJobTimeout {
		v.add(at+".timeout", "timeout must be at most %s, got %s", maxJobTimeout, j.Timeout.Duration)
	}
}

// checkPathProblem says what is wrong with an HTTP check's path, "" when
// nothing. Dot segments are refused: the path is appended to the API
// server's pod proxy URL, and must stay below it.
func checkPathProblem(p string) string {
	switch {
	case p == "":
		return "the path is empty; give e.g. /healthz"
	case !strings.HasPrefix(p, "/"):
		return fmt.Sprintf("%q must start with /, e.g. /%s", p, p)
	case strings.ContainsAny(p, "?#"):
		return fmt.Sprintf("%q holds a query or fragment; give the path alone, e.g. /healthz", p)
	case !checkPath.MatchString(p):
		return fmt.Sprintf("%q holds characters other than letters, digits and -._~!$&'()*+,;=:@/ (no spaces, no %%-escapes)", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Sprintf("%q holds a %q segment; give the path as the app serves it, e.g. /healthz", p, seg)
		}
	}
	return ""
}
