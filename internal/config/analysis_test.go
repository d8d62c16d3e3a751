package config

import (
	"strings"
	"testing"
	"time"
)

// analysisYAML is a project whose canary has analysis (the lines of its
// body); prod requires the canary with soak.
func analysisYAML(soak, analysis string) string {
	return "apiVersion: slipway/v1\napp: hello\nregistries: {dev: registry.example.com/team}\nenvironments:\n" +
		"  prod: {registry: dev, requires: {env: canary, soak: " + soak + "}}\n" +
		"  canary:\n    registry: dev\n    canaryOf: prod\n    analysis:\n" + analysis
}

const (
	promURL   = "      url: http://127.0.0.1:9090\n"
	errorRate = "      metrics:\n        - name: error-rate\n          query: 'sum(rate(errors{pod=~\"{{.Pods}}\"}[1m]))'\n"
)

func TestAnalysisConfig(t *testing.T) {
	tests := []struct {
		name, soak, analysis string
		problem              string // "" when valid; else the whole problem after the line
	}{
		{"relative", "5m", promURL + errorRate + "          maxIncrease: 0.01\n", ""},
		{"all bounds", "5m", promURL + errorRate + "          max: 0.1\n          maxRatio: 1.5\n          maxIncrease: 0\n          noData: pass\n", ""},
		{"window given", "0s", promURL + "      window: 2m\n      interval: 5s\n" + errorRate + "          max: 1\n", ""},
		{"no window", "0s", promURL + errorRate + "          max: 1\n",
			"environments.canary.analysis: give analysis.window (e.g. 10m), or a soak to an environment that requires canary (requires: {env: canary, soak: 10m}), which it defaults to"},
		{"soak too long", "2h", promURL + errorRate + "          max: 1\n",
			"environments.canary.analysis: the window defaults to the soak of canary (2h0m0s), longer than the 1h0m0s an analysis may take; give analysis.window of at most 1h0m0s"},
		{"window too long", "5m", promURL + "      window: 3h\n" + errorRate + "          max: 1\n",
			"environments.canary.analysis.window: window must be at most 1h0m0s, got 3h0m0s: the deploy of the canary waits for it"},
		{"interval", "5m", promURL + "      interval: 10ms\n" + errorRate + "          max: 1\n",
			"environments.canary.analysis.interval: interval must be at least 1s, got 10ms"},
		{"credentials", "5m", "      url: http://ann:secret@127.0.0.1:9090\n" + errorRate + "          max: 1\n",
			"environments.canary.analysis.url: the URL holds credentials; remove them (the URL is not shown here)"},
		{"no url", "5m", errorRate + "          max: 1\n", `environments.canary.analysis.url: missing required field "url"`},
		{"no metrics", "5m", promURL + "      metrics: []\n",
			"environments.canary.analysis.metrics: an analysis needs a metric, e.g. {name: error-rate, query: '...', maxIncrease: 0.01}"},
		{"no bound", "5m", promURL + errorRate,
			"environments.canary.analysis.metrics[0]: a metric needs max, maxRatio or maxIncrease, e.g. maxIncrease: 0.01 (at most 0.01 above the main environment's)"},
		{"ratio of 0", "5m", promURL + errorRate + "          maxRatio: 0\n",
			`environments.canary.analysis.metrics[0].maxRatio: "0" is not a number above 0, e.g. 1.5`},
		{"negative increase", "5m", promURL + errorRate + "          maxIncrease: -1\n",
			`environments.canary.analysis.metrics[0].maxIncrease: "-1" is not a number of 0 or more, e.g. 0.01`},
		{"max not a number", "5m", promURL + errorRate + "          max: lots\n",
			`environments.canary.analysis.metrics[0].max: "lots" is not a number`},
		{"no data", "5m", promURL + errorRate + "          max: 1\n          noData: ignore\n", `"ignore" is not valid`},
		{"same on both sides", "5m", promURL + "      metrics:\n        - {name: up, query: 'sum(up)', max: 1}\n",
			`environments.canary.analysis.metrics[0].query: the query is the same for the canary and the main environment; select the side's pods with {{.Pods}} (e.g. pod=~"{{.Pods}}"), or {{.Version}} or {{.Environment}}`},
		{"unknown variable", "5m", promURL + "      metrics:\n        - {name: up, query: 'up{pod=~\"{{.Pod}}\"}', max: 1}\n",
			"do not fill in"},
		{"bad name", "5m", promURL + "      metrics:\n        - {name: 'rate!', query: 'up{pod=~\"{{.Pods}}\"}', max: 1}\n",
			`environments.canary.analysis.metrics[0].name: "rate!" is not a metric name`},
		{"two names alike", "5m", promURL + "      metrics:\n        - {name: up, query: 'up{pod=~\"{{.Pods}}\"}', max: 1}\n        - {name: up, query: 'x{pod=~\"{{.Pods}}\"}', max: 1}\n",
			`environments.canary.analysis.metrics[1].name: "up" names another metric of this analysis too`},
		{"unknown field", "5m", promURL + errorRate + "          minRatio: 1\n", `unknown field "minRatio"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProject(ProjectFile, []byte(analysisYAML(tt.soak, tt.analysis)))
			wantProblem(t, err, tt.problem)
		})
	}
}

func TestAnalysisNotOnACanary(t *testing.T) {
	const yaml = "apiVersion: slipway/v1\napp: hello\nregistries: {dev: registry.example.com/team}\nenvironments:\n" +
		"  prod:\n    registry: dev\n    analysis:\n      url: http://127.0.0.1:9090\n      window: 1m\n" +
		"      metrics: [{name: e, query: 'e{pod=~\"{{.Pods}}\"}', max: 1}]\n"
	_, err := ParseProject(ProjectFile, []byte(yaml))
	const want = "slipway.yaml:8:7: environments.prod.analysis: an analysis compares a canary with the environment it is a canary of; add canaryOf: ENV to prod"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestAnalysisOf(t *testing.T) {
	tests := []struct {
		name, soak, analysis string
		window, interval     time.Duration
	}{
		{"the soak", "5m", promURL + errorRate + "          max: 1\n", 5 * time.Minute, DefaultAnalysisInterval},
		{"its own", "5m", promURL + "      window: 1m\n      interval: 2s\n" + errorRate + "          max: 1\n", time.Minute, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProject(ProjectFile, []byte(analysisYAML(tt.soak, tt.analysis)))
			if err != nil {
				t.Fatal(err)
			}
			canary, _ := p.Environment("canary")
			a, ok := p.AnalysisOf(canary)
			if !ok || a.Window.Duration != tt.window || a.Interval.Duration != tt.interval || a.Metrics[0].NoData != "fail" {
				t.Errorf("AnalysisOf = %+v, %v; want window %s, interval %s, noData fail", a, ok, tt.window, tt.interval)
			}
			if canary.Analysis.Metrics[0].NoData != "" {
				t.Error("AnalysisOf changed the project's analysis")
			}
			prod, _ := p.Environment("prod")
			if _, ok := p.AnalysisOf(prod); ok {
				t.Error("prod has an analysis")
			}
		})
	}
}
