package check

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
)

// Bounds of a metric check's queries.
const (
	metricTimeout = 10 * time.Second
	maxPromAnswer = 1 << 20
)

// sample is one value of a query's answer, with its labels as text.
type sample struct {
	labels string
	value  float64
}

// metric runs metric check m: its query every m.Interval for m.Window
// (once when 0), every sample of every answer within m's bounds.
func (r *Runner) metric(ctx context.Context, m config.MetricCheck, t deploy.CheckTarget) (deploy.CheckResult, error) {
	var res deploy.CheckResult
	query, err := metricQuery(m.Query, t)
	if err != nil {
		res.Message = "filling in the query: " + clean(err.Error())
		return res, nil
	}
	start := time.Now()
	for n := 1; ; n++ {
		samples, err := r.promQuery(ctx, m.URL, query)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		msg := ""
		if err != nil {
			msg = "querying Prometheus: " + clean(err.Error())
		} else {
			msg = judgeSamples(m, samples)
		}
		if msg != "" {
			res.Message = fmt.Sprintf("query %d, %s into the window: %s", n, time.Since(start).Round(time.Second), msg)
			res.Output = sampleLines(samples)
			return res, nil
		}
		if time.Since(start)+m.Interval.Duration > m.Window.Duration {
			res.Passed, res.Message = true, fmt.Sprintf("held over %s: %d queries", time.Since(start).Round(time.Second), n)
			return res, nil
		}
		if err := sleep(ctx, m.Interval.Duration); err != nil {
			return res, err
		}
	}
}

// metricQuery fills in the query's {{.Namespace}}, {{.Environment}},
// {{.Version}} and {{.Pods}}.
func metricQuery(text string, t deploy.CheckTarget) (string, error) {
	return fillQuery(text, t.Namespace, t.Env, t.Version, t.Pods)
}

// fillQuery fills in a query's {{.Namespace}}, {{.Environment}},
// {{.Version}} and {{.Pods}} (pods as a regular expression, a|b).
func fillQuery(text, namespace, env, version string, pods []string) (string, error) {
	tmpl, err := template.New("query").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	quoted := make([]string, len(pods))
	for i, p := range pods {
		quoted[i] = regexp.QuoteMeta(p)
	}
	var b strings.Builder
	err = tmpl.Execute(&b, map[string]string{"Namespace": namespace, "Environment": env,
		"Version": version, "Pods": strings.Join(quoted, "|")})
	return b.String(), err
}

// judgeSamples says why samples fail m's bounds, "" when they pass.
func judgeSamples(m config.MetricCheck, samples []sample) string {
	if len(samples) == 0 {
		if m.NoData == "pass" {
			return ""
		}
		return "the query returned no samples (noData: fail)"
	}
	for _, s := range samples {
		switch {
		case math.IsNaN(s.value):
			return fmt.Sprintf("%s is NaN", s.labels)
		case m.Max != "" && s.value > bound(m.Max):
			return fmt.Sprintf("%s = %g, above max %s", s.labels, s.value, m.Max)
		case m.Min != "" && s.value < bound(m.Min):
			return fmt.Sprintf("%s = %g, below min %s", s.labels, s.value, m.Min)
		}
	}
	return ""
}

func bound(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64) // config checked it
	return f
}

// sampleLines writes samples for a failed check's output.
func sampleLines(samples []sample) []string {
	var b strings.Builder
	for _, s := range samples {
		fmt.Fprintf(&b, "%s %g\n", s.labels, s.value)
	}
	return tail(b.String())
}

// promQuery asks Prometheus at base for the instant query q with
// r.HTTPClient (see promQuery).
func (r *Runner) promQuery(ctx context.Context, base, q string) ([]sample, error) {
	return promQuery(ctx, r.HTTPClient, base, q)
}

// promQuery asks Prometheus at base for the instant query q with client
// (nil for http.DefaultClient); the answer is bounded in time
// (metricTimeout) and size (maxPromAnswer).
func promQuery(ctx context.Context, client *http.Client, base, q string) ([]sample, error) {
	ctx, cancel := context.WithTimeout(ctx, metricTimeout)
	defer cancel()
	u := strings.TrimSuffix(base, "/") + "/api/v1/query?" + url.Values{"query": {q}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("making the query: %w", err)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPromAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > maxPromAnswer {
		return nil, fmt.Errorf("the answer is larger than %d KiB", maxPromAnswer>>10)
	}
	return parseProm(resp.StatusCode, body)
}
