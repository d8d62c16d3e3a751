package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Analysis compares a canary's pods with those of the environment it is a
// canary of, by Prometheus queries, for a window after the canary's
// rollout and checks pass. The deploy of the canary fails when a metric of
// its pods is out of bounds; a prod gate on the canary needs it passed.
type Analysis struct {
	URL      string           `yaml:"url" required:"true" doc:"Prometheus's base URL, http or https, without credentials, e.g. http://127.0.0.1:9090; reached from where Slipway runs"`
	Window   Duration         `yaml:"window" doc:"how long the analysis runs once the canary's rollout and checks pass; the deploy of the canary waits for it (default: the longest requires.soak on this environment; at most 1h)"`
	Interval Duration         `yaml:"interval" doc:"pause between two rounds of queries (default 15s, a scrape interval; at least 1s)"`
	Metrics  []AnalysisMetric `yaml:"metrics" required:"true" doc:"what is compared each round; every metric must hold in every round (at most 10)"`
}

// AnalysisMetric is one query of a canary analysis, run each round for
// the canary's pods and for its main environment's (the baseline).
type AnalysisMetric struct {
	Name  string `yaml:"name" required:"true" doc:"names the metric in messages, e.g. error-rate (letters, digits, ' ', '.', '_' and '-')"`
	Query string `yaml:"query" required:"true" doc:"a PromQL instant query returning one value, run for each side: {{.Pods}} (the side's pods, a|b), {{.Namespace}}, {{.Environment}} and {{.Version}} are the canary's, then the main environment's"`
	// Max, MaxRatio and MaxIncrease are numbers, kept as written.
	Max         string `yaml:"max" doc:"the canary's value must be at most this number"`
	MaxRatio    string `yaml:"maxRatio" doc:"the canary's value must be at most this many times the main environment's (or within maxIncrease of it, whichever allows more)"`
	MaxIncrease string `yaml:"maxIncrease" doc:"the canary's value must be at most the main environment's plus this number (or within maxRatio of it, whichever allows more)"`
	NoData      string `yaml:"noData" enum:"fail,pass" doc:"what a window in which the canary (or, for maxRatio and maxIncrease without max, the main environment) never had a value means (default fail)"`
}

// Defaults and bounds of a canary analysis.
const (
	DefaultAnalysisInterval = 15 * time.Second
	maxAnalysisWindow       = time.Hour
	maxAnalysisMetrics      = 10
)

// analysisName is what a metric's name may be.
var analysisName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$`)

// Relative reports whether m compares the canary with the baseline.
func (m AnalysisMetric) Relative() bool { return m.MaxRatio != "" || m.MaxIncrease != "" }

// AnalysisOf returns env's canary analysis with its defaults filled in:
// the interval, noData, and when no window is given, the longest soak of
// the environments that require env. ok is false when env has none.
func (p *Project) AnalysisOf(env Environment) (a Analysis, ok bool) {
	if env.Analysis == nil {
		return Analysis{}, false
	}
	a = *env.Analysis
	if a.Window.Duration == 0 {
		a.Window.Duration = p.longestSoak(env.Name)
	}
	if a.Interval.Duration == 0 {
		a.Interval.Duration = DefaultAnalysisInterval
	}
	a.Metrics = append([]AnalysisMetric(nil), a.Metrics...)
	for i := range a.Metrics {
		if a.Metrics[i].NoData == "" {
			a.Metrics[i].NoData = "fail"
		}
	}
	return a, true
}

// longestSoak is the longest requires.soak on the environment called
// name, 0 when none requires it with a soak.
func (p *Project) longestSoak(name string) time.Duration {
	var soak time.Duration
	for _, e := range p.Environments {
		if e.Requires != nil && e.Requires.Env == name {
			soak = max(soak, e.Requires.Soak.Duration)
		}
	}
	return soak
}

// analyses checks the canary analysis of every environment.
func (v *validator) analyses(p *Project) {
	for _, e := range p.Environments {
		if e.Analysis == nil {
			continue
		}
		at := "environments." + e.Name + ".analysis"
		switch {
		case e.CanaryOf == "":
			v.add(at, "an analysis compares a canary with the environment it is a canary of; add canaryOf: ENV to %s, or move the analysis to its canary", e.Name)
		case e.GitOps != nil:
			v.add(at, "an analysis runs in a direct deploy, and %s deploys by GitOps; remove environments.%s.gitops or the analysis", e.Name, e.Name)
		}
		a, _ := p.AnalysisOf(e)
		v.analysisTimes(p, e.Name, at, a)
		v.analysisMetrics(at, e.Analysis.Metrics)
	}
}

// analysisTimes checks the URL, window and interval of env's analysis a,
// its defaults filled in.
func (v *validator) analysisTimes(p *Project, env, at string, a Analysis) {
	if msg := metricURLProblem(a.URL); msg != "" {
		v.add(at+".url", "%s", msg)
	}
	given := p.Source.Has(at + ".window")
	switch {
	case a.Window.Duration <= 0 && given:
		v.add(at+".window", "window must be more than 0s, e.g. 10m")
	case a.Window.Duration <= 0:
		v.add(at, "give analysis.window (e.g. 10m), or a soak to an environment that requires %s (requires: {env: %s, soak: 10m}), which it defaults to", env, env)
	case a.Window.Duration > maxAnalysisWindow && given:
		v.add(at+".window", "window must be at most %s, got %s: the deploy of the canary waits for it", maxAnalysisWindow, a.Window.Duration)
	case a.Window.Duration > maxAnalysisWindow:
		v.add(at, "the window defaults to the soak of %s (%s), longer than the %s an analysis may take; give analysis.window of at most %s", env, a.Window.Duration, maxAnalysisWindow, maxAnalysisWindow)
	}
	if a.Interval.Duration < time.Second {
		v.add(at+".interval", "interval must be at least 1s, got %s", a.Interval.Duration)
	}
}

// analysisMetrics checks the metrics of an analysis.
func (v *validator) analysisMetrics(at string, metrics []AnalysisMetric) {
	if len(metrics) == 0 {
		v.add(at+".metrics", "an analysis needs a metric, e.g. {name: error-rate, query: '...', maxIncrease: 0.01}")
	}
	if len(metrics) > maxAnalysisMetrics {
		v.add(at+".metrics", "an analysis has at most %d metrics, got %d", maxAnalysisMetrics, len(metrics))
	}
	seen := map[string]bool{}
	for i, m := range metrics {
		mi := fmt.Sprintf("%s.metrics[%d]", at, i)
		switch {
		case !analysisName.MatchString(m.Name):
			v.add(mi+".name", "%s is not a metric name; use letters, digits, ' ', '.', '_' and '-', starting with a letter or digit, at most 63", quoted(m.Name))
		case seen[m.Name]:
			v.add(mi+".name", "%s names another metric of this analysis too; give each its own name", quoted(m.Name))
		}
		seen[m.Name] = true
		if msg := analysisQueryProblem(m.Query); msg != "" {
			v.add(mi+".query", "%s", msg)
		}
		v.analysisBounds(mi, m)
	}
}

// analysisBounds checks a metric's max, maxRatio and maxIncrease.
func (v *validator) analysisBounds(at string, m AnalysisMetric) {
	if m.Max == "" && !m.Relative() {
		v.add(at, "a metric needs max, maxRatio or maxIncrease, e.g. maxIncrease: 0.01 (at most 0.01 above the main environment's)")
	}
	for _, b := range []struct {
		field, val string
		min        float64 // the least valid value
		what       string
	}{
		{"max", m.Max, math.Inf(-1), "a number"},
		{"maxRatio", m.MaxRatio, math.SmallestNonzeroFloat64, "a number above 0, e.g. 1.5"},
		{"maxIncrease", m.MaxIncrease, 0, "a number of 0 or more, e.g. 0.01"},
	} {
		if b.val == "" {
			continue
		}
		f, err := strconv.ParseFloat(b.val, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < b.min {
			v.add(at+"."+b.field, "%s is not %s", quoted(b.val), b.what)
		}
	}
}

// analysisQueryProblem says what is wrong with an analysis query, ""
// when nothing: it must parse and tell the two sides apart.
func analysisQueryProblem(q string) string {
	if strings.TrimSpace(q) == "" {
		return `the query is empty; give a PromQL query, e.g. sum(rate(http_requests_total{pod=~"{{.Pods}}",code=~"5.."}[1m]))`
	}
	tmpl, err := template.New("query").Option("missingkey=error").Parse(q)
	if err != nil {
		return fmt.Sprintf("the query's {{...}} do not parse: %v", err)
	}
	var sides [2]strings.Builder
	for i, vars := range []map[string]string{
		{"Namespace": "ns", "Environment": "canary", "Version": "2", "Pods": "a"},
		{"Namespace": "ns", "Environment": "prod", "Version": "1", "Pods": "b"},
	} {
		if err := tmpl.Execute(&sides[i], vars); err != nil {
			return fmt.Sprintf("the query's {{...}} do not fill in: %v; use {{.Pods}}, {{.Namespace}}, {{.Environment}} and {{.Version}}", err)
		}
	}
	if sides[0].String() == sides[1].String() {
		return `the query is the same for the canary and the main environment; select the side's pods with {{.Pods}} (e.g. pod=~"{{.Pods}}"), or {{.Version}} or {{.Environment}}`
	}
	return ""
}
