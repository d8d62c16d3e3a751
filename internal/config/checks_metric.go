package config

import (
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// MetricCheck queries Prometheus's HTTP API and holds a threshold over a
// window: every sample of every query in the window must pass.
type MetricCheck struct {
	URL      string   `yaml:"url" required:"true" doc:"Prometheus's base URL, http or https, without credentials, e.g. http://127.0.0.1:9090; reached from where Slipway runs"`
	Query    string   `yaml:"query" required:"true" doc:"a PromQL instant query; {{.Namespace}}, {{.Environment}}, {{.Version}} and {{.Pods}} (the new pods' names as a regular expression, a|b) are filled in"`
	Max      string   `yaml:"max" doc:"every sample must be at most this number"`
	Min      string   `yaml:"min" doc:"every sample must be at least this number"`
	Window   Duration `yaml:"window" doc:"how long the threshold must hold (default 0s: one query; at most 30m)"`
	Interval Duration `yaml:"interval" doc:"pause between two queries in the window (default 15s, a scrape interval)"`
	// NoData is what an empty answer means.
	NoData string `yaml:"noData" enum:"fail,pass" doc:"what an answer with no samples means (default fail)"`
}

// Defaults and bounds of a metric check.
const (
	DefaultMetricInterval = 15 * time.Second
	maxMetricWindow       = 30 * time.Minute
)

func defaultMetric(m *MetricCheck) {
	if m.Interval.Duration == 0 {
		m.Interval.Duration = DefaultMetricInterval
	}
	if m.NoData == "" {
		m.NoData = "fail"
	}
}

func (v *validator) metricCheck(at string, m MetricCheck) {
	if msg := metricURLProblem(m.URL); msg != "" {
		v.add(at+".url", "%s", msg)
	}
	if strings.TrimSpace(m.Query) == "" {
		v.add(at+".query", "the query is empty; give a PromQL query, e.g. sum(rate(http_requests_total{namespace=\"{{.Namespace}}\",code=~\"5..\"}[1m]))")
	} else if _, err := template.New("query").Option("missingkey=error").Parse(m.Query); err != nil {
		v.add(at+".query", "the query's {{...}} do not parse: %v", err)
	}
	if m.Max == "" && m.Min == "" {
		v.add(at, "a metric check needs max or min, e.g. max: 0.01")
	}
	for field, val := range map[string]string{"max": m.Max, "min": m.Min} {
		if _, err := strconv.ParseFloat(val, 64); val != "" && err != nil {
			v.add(at+"."+field, "%q is not a number", val)
		}
	}
	if m.Window.Duration > maxMetricWindow {
		v.add(at+".window", "window must be at most %s, got %s", maxMetricWindow, m.Window.Duration)
	}
	if m.Interval.Duration < time.Second {
		v.add(at+".interval", "interval must be at least 1s, got %s", m.Interval.Duration)
	}
}

// metricURLProblem says what is wrong with a Prometheus URL, "" when
// nothing. It never quotes a URL that holds credentials.
func metricURLProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return "not a URL; give e.g. http://prometheus.example.com:9090"
	case u.User != nil:
		return "the URL holds credentials; remove them (the URL is not shown here)"
	case u.Scheme != "http" && u.Scheme != "https":
		return "the URL's scheme " + quoted(u.Scheme) + " is not http or https"
	case u.RawQuery != "" || u.Fragment != "":
		return "give the base URL alone, without a query or fragment"
	}
	return ""
}
