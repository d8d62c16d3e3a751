package check

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
)

// prometheus answers instant queries with answers in turn (the last one
// again once they run out), recording the queries.
type prometheus struct {
	mu      sync.Mutex
	answers []string
	queries []string
}

func (p *prometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	p.queries = append(p.queries, r.URL.Query().Get("query"))
	a := p.answers[min(len(p.queries), len(p.answers))-1]
	if strings.HasPrefix(a, "400 ") {
		w.WriteHeader(400)
		a = a[4:]
	}
	fmt.Fprint(w, a)
}

func vector(values ...string) string {
	var parts []string
	for i, v := range values {
		parts = append(parts, fmt.Sprintf(`{"metric":{"pod":"hello-%d"},"value":[1700000000.1,%q]}`, i+1, v))
	}
	return `{"status":"success","data":{"resultType":"vector","result":[` + strings.Join(parts, ",") + `]}}`
}

func TestMetricCheck(t *testing.T) {
	tests := []struct {
		name    string
		max     string
		min     string
		noData  string
		window  time.Duration
		answers []string
		passed  bool
		message string
		output  string
	}{
		{"under max", "0.01", "", "", 0, []string{vector("0", "0.005")}, true, "held over 0s: 1 queries", ""},
		{"over max", "0.01", "", "", 0, []string{vector("0", "0.2")}, false, `query 1, 0s into the window: {pod="hello-2"} = 0.2, above max 0.01`,
			"{pod=\"hello-1\"} 0\n{pod=\"hello-2\"} 0.2"},
		{"breaks within the window", "0.01", "", "", 50 * time.Millisecond, []string{vector("0"), vector("0"), vector("0.5")}, false, "query 3,", ""},
		{"holds over the window", "0.01", "", "", 30 * time.Millisecond, []string{vector("0")}, true, "queries", ""},
		{"below min", "", "1", "", 0, []string{`{"status":"success","data":{"resultType":"scalar","result":[1700000000,"0"]}}`}, false, "scalar = 0, below min 1", ""},
		{"no data", "1", "", "fail", 0, []string{vector()}, false, "the query returned no samples (noData: fail)", ""},
		{"no data passes", "1", "", "pass", 0, []string{vector()}, true, "held", ""},
		{"NaN", "1", "", "", 0, []string{vector("NaN")}, false, "is NaN", ""},
		{"bad query", "1", "", "", 0, []string{`400 {"status":"error","errorType":"bad_data","error":"parse error at char 3\u001b[2J"}`}, false,
			`querying Prometheus: status 400: bad_data: parse error at char 3\x1b[2J`, ""},
		{"not Prometheus", "1", "", "", 0, []string{"<html>"}, false, "is not Prometheus's JSON", ""},
		{"a matrix", "1", "", "", 0, []string{`{"status":"success","data":{"resultType":"matrix","result":[]}}`}, false, "returned a matrix", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prom := &prometheus{answers: tt.answers}
			srv := httptest.NewServer(prom)
			defer srv.Close()
			m := config.MetricCheck{URL: srv.URL + "/", Query: `sum by (pod) (rate(errors{namespace="{{.Namespace}}",pod=~"{{.Pods}}"}[1m]))`,
				Max: tt.max, Min: tt.min, NoData: tt.noData, Window: config.Duration{Duration: tt.window},
				Interval: config.Duration{Duration: 10 * time.Millisecond}}
			r := &Runner{Checks: []config.Check{{Metric: &m}}}
			got, err := r.Check(context.Background(), target)
			if err != nil || len(got) != 1 {
				t.Fatalf("Check = %v, %v", got, err)
			}
			res := got[0]
			if res.Passed != tt.passed || !strings.Contains(res.Message, tt.message) {
				t.Errorf("result = %+v, want passed %v with %q", res, tt.passed, tt.message)
			}
			if tt.output != "" && strings.Join(res.Output, "\n") != tt.output {
				t.Errorf("output %q, want %q", res.Output, tt.output)
			}
			want := `sum by (pod) (rate(errors{namespace="hello",pod=~"hello-1|hello-2"}[1m]))`
			if len(prom.queries) == 0 || prom.queries[0] != want {
				t.Errorf("queries %q, want %s", prom.queries, want)
			}
		})
	}
}

// TestMetricQueryBounded refuses an answer larger than maxPromAnswer.
func TestMetricQueryBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[`+strings.Repeat(" ", maxPromAnswer)+`]}}`)
	}))
	defer srv.Close()
	r := &Runner{}
	if _, err := r.promQuery(context.Background(), srv.URL, "up"); err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Errorf("promQuery = %v, want too large", err)
	}
}
