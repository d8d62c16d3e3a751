package check

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
)

func TestCompare(t *testing.T) {
	v := func(f float64) value { return value{v: f, ok: true} }
	none := value{}
	metric := func(max, ratio, increase string) config.AnalysisMetric {
		return config.AnalysisMetric{Name: "error-rate", Max: max, MaxRatio: ratio, MaxIncrease: increase}
	}
	tests := []struct {
		name string
		m    config.AnalysisMetric
		r    reading
		want string // "" holds
	}{
		{"under max", metric("0.05", "", ""), reading{v(0.01), v(0)}, ""},
		{"at max", metric("0.05", "", ""), reading{v(0.05), none}, ""},
		{"over max", metric("0.05", "", ""), reading{v(0.3), v(0.01)}, "error-rate: the canary's 0.3 is above max 0.05 (prod 0.01)"},
		{"over max, prod without a value", metric("0.05", "", ""), reading{v(0.3), none}, "(prod no value)"},
		{"no canary value", metric("0.05", "1", ""), reading{none, v(1)}, ""},
		{"within the ratio", metric("", "1.5", ""), reading{v(0.3), v(0.2)}, ""},
		{"over the ratio", metric("", "1.5", ""), reading{v(0.31), v(0.2)}, "error-rate: the canary's 0.31 is above 0.3 (maxRatio 1.5 × prod's 0.2)"},
		{"ratio to 0", metric("", "2", ""), reading{v(0.001), v(0)}, "above 0 (maxRatio 2 × prod's 0)"},
		{"within the increase", metric("", "", "0.01"), reading{v(0.01), v(0)}, ""},
		{"over the increase", metric("", "", "0.01"), reading{v(0.25), v(0)}, "error-rate: the canary's 0.25 is above 0.01 (prod's 0 + maxIncrease 0.01)"},
		{"the increase allows more", metric("", "2", "0.01"), reading{v(0.005), v(0)}, ""},
		{"the ratio allows more", metric("", "2", "0.01"), reading{v(1.9), v(1)}, ""},
		{"over both", metric("", "2", "0.01"), reading{v(2.5), v(1)}, "above 2 (maxRatio 2 × prod's 1)"},
		{"relative, no prod value", metric("", "1.1", "0"), reading{v(5), none}, ""},
		{"max and relative", metric("0.1", "", "0.5"), reading{v(0.2), v(0)}, "above max 0.1"},
		{"better than prod", metric("", "1", "0"), reading{v(0.1), v(0.2)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := compare(tt.m, "prod", tt.r)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("compare = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOneValueAndNoData(t *testing.T) {
	if v, msg := oneValue([]sample{{"a", 1}, {"b", 2}}); v.ok || !strings.Contains(msg, "returned 2 samples, not one") {
		t.Errorf("two samples: %v, %q", v, msg)
	}
	for _, s := range [][]sample{nil, {{"scalar", math.NaN()}}} {
		if v, msg := oneValue(s); v.ok || msg != "" {
			t.Errorf("%v: %v, %q, want no value", s, v, msg)
		}
	}
	metrics := []config.AnalysisMetric{
		{Name: "a", MaxIncrease: "0", NoData: "fail"},
		{Name: "b", Max: "1", NoData: "fail"},
		{Name: "c", MaxRatio: "1", NoData: "pass"},
	}
	tests := []struct {
		tallies []tally
		want    string
	}{
		{[]tally{{3, 3}, {3, 0}, {0, 0}}, ""},
		{[]tally{{3, 0}, {3, 3}, {0, 0}}, "a: prod's pods had no value in any round the canary's had one"},
		{[]tally{{3, 3}, {0, 0}, {0, 0}}, "b: the canary's pods had no value in any round (noData: fail)"},
	}
	for _, tt := range tests {
		if got := noData(metrics, "prod", tt.tallies); (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("noData(%v) = %q, want %q", tt.tallies, got, tt.want)
		}
	}
}

// sides plays Prometheus for an analysis: the answer to a query for the
// canary's pods (hello-canary-*) is the next of canary, for prod's pods
// the next of prod (the last again once they run out).
type sides struct {
	mu             sync.Mutex
	canary, prod   []string
	nCanary, nProd int
	queries        []string
}

func (s *sides) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query().Get("query")
	s.queries = append(s.queries, q)
	answers, n := s.prod, &s.nProd
	if strings.Contains(q, "hello-canary") {
		answers, n = s.canary, &s.nCanary
	}
	*n++
	fmt.Fprint(w, answers[min(*n, len(answers))-1])
}

func scalar(v string) string {
	return `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"` + v + `"]}}`
}

// analysisCluster is a fake cluster with the canary's Deployment and
// prod's pods, of which one is not ready.
func analysisCluster() *fake.Clientset {
	pod := func(name string, ready corev1.ConditionStatus) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "hello",
			Labels: map[string]string{deploy.LabelName: "hello", deploy.LabelEnv: "prod", deploy.LabelVersion: "1.2.3"}},
			Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}}
	}
	canary := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "hello-canary", Namespace: "hello"}}
	return fake.NewClientset(canary, pod("hello-a", corev1.ConditionTrue), pod("hello-b", corev1.ConditionTrue), pod("hello-c", corev1.ConditionFalse))
}

var canaryTarget = deploy.CheckTarget{Env: "canary", Namespace: "hello", Deployment: "hello-canary", Version: "1.2.4",
	Image: "registry.example.com/hello@sha256:abc", Revision: 1, Pods: []string{"hello-canary-x"}, Port: 8080}

func TestAnalysis(t *testing.T) {
	tests := []struct {
		name         string
		canary, prod []string
		window       time.Duration
		passed       bool
		message      string
		output       string
	}{
		{"holds", []string{scalar("0.001")}, []string{scalar("0")}, 30 * time.Millisecond, true, "rounds, every metric within its bounds against prod", ""},
		{"breaks in round 3", []string{scalar("0"), scalar("0"), scalar("0.4")}, []string{scalar("0")}, time.Second, false,
			"round 3, 0s into the 1s window: error-rate: the canary's 0.4 is above 0.01 (prod's 0 + maxIncrease 0.01)", "error-rate: canary 0.4, prod 0"},
		{"no value yet, then a breach", []string{vector(), scalar("NaN"), scalar("0.5")}, []string{scalar("0")}, time.Second, false, "round 3,", ""},
		{"never a value", []string{vector()}, []string{scalar("0")}, 30 * time.Millisecond, false, "error-rate: the canary's pods had no value in any round (noData: fail)", ""},
		{"prod never a value", []string{scalar("0")}, []string{vector()}, 30 * time.Millisecond, false, "prod's pods had no value", ""},
		{"many samples", []string{vector("0", "1")}, []string{scalar("0")}, time.Second, false,
			"round 1, 0s into the 1s window: error-rate: the query for canary returned 2 samples, not one", ""},
		{"Prometheus fails", []string{`{"status":"error","errorType":"bad_data","error":"parse error\u001b[2J"}`}, []string{scalar("0")}, time.Second, false,
			`error-rate: the query for canary failed: querying Prometheus: status 200: bad_data: parse error\x1b[2J`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prom := &sides{canary: tt.canary, prod: tt.prod}
			srv := httptest.NewServer(prom)
			defer srv.Close()
			cs := analysisCluster()
			a := &Analysis{Client: cs, Main: Baseline{Env: "prod", Namespace: "hello", Selector: deploy.LabelName + "=hello," + deploy.LabelEnv + "=prod"},
				Config: config.Analysis{URL: srv.URL, Window: config.Duration{Duration: tt.window}, Interval: config.Duration{Duration: 10 * time.Millisecond},
					Metrics: []config.AnalysisMetric{{Name: "error-rate", MaxIncrease: "0.01", NoData: "fail",
						Query: `sum(rate(errors{namespace="{{.Namespace}}",pod=~"{{.Pods}}",version="{{.Version}}"}[1m]))`}}}}
			t0 := time.Now()
			got, err := a.Check(context.Background(), canaryTarget)
			if err != nil || len(got) != 1 {
				t.Fatalf("Check = %v, %v", got, err)
			}
			res := got[0]
			if took := time.Since(t0); res.Passed && took < tt.window {
				t.Errorf("the analysis passed after %s, within its window of %s", took, tt.window)
			}
			if res.Check != "canary analysis" || res.Passed != tt.passed || !strings.Contains(res.Message, tt.message) {
				t.Errorf("result = %+v, want passed %v with %q", res, tt.passed, tt.message)
			}
			if tt.output != "" && strings.Join(res.Output, "\n") != tt.output {
				t.Errorf("output %q, want %q", res.Output, tt.output)
			}
			wantQueries := []string{`sum(rate(errors{namespace="hello",pod=~"hello-canary-x",version="1.2.4"}[1m]))`,
				`sum(rate(errors{namespace="hello",pod=~"hello-a|hello-b",version="1.2.3"}[1m]))`}
			if len(prom.queries) == 0 || prom.queries[0] != wantQueries[0] || len(prom.queries) > 1 && prom.queries[1] != wantQueries[1] {
				t.Errorf("queries %q, want %q first", prom.queries, wantQueries)
			}
			d, err := cs.AppsV1().Deployments("hello").Get(context.Background(), "hello-canary", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rec, err := ReadAnalysisRecord(d.Annotations)
			if err != nil || rec == nil || rec.Digest != "sha256:abc" || rec.Passed() != tt.passed || rec.Message != res.Message {
				t.Errorf("record %+v, %v; want %v for sha256:abc with the message", rec, err, tt.passed)
			}
		})
	}
}

// failing is a Checker whose one check fails.
type failing struct{}

func (failing) Check(context.Context, deploy.CheckTarget) ([]deploy.CheckResult, error) {
	return []deploy.CheckResult{{Check: "http GET /", Message: "answered 500"}}, nil
}

// TestAnalysisAfterChecks runs no analysis, and records none, when the
// canary's own checks fail; a passed analysis that cannot be recorded
// fails.
func TestAnalysisAfterChecks(t *testing.T) {
	cs := analysisCluster()
	a := &Analysis{Client: cs, Checks: failing{}, Config: config.Analysis{URL: "http://127.0.0.1:1"}}
	got, err := a.Check(context.Background(), canaryTarget)
	if err != nil || len(got) != 1 || got[0].Check != "http GET /" {
		t.Fatalf("Check = %+v, %v; want the failed check alone", got, err)
	}
	d, _ := cs.AppsV1().Deployments("hello").Get(context.Background(), "hello-canary", metav1.GetOptions{})
	if _, ok := d.Annotations[AnnotationAnalysis]; ok {
		t.Error("an analysis was recorded")
	}

	srv := httptest.NewServer(&sides{canary: []string{scalar("0")}, prod: []string{scalar("0")}})
	defer srv.Close()
	a = &Analysis{Client: fake.NewClientset(), Main: Baseline{Env: "prod", Namespace: "hello"},
		Config: config.Analysis{URL: srv.URL, Window: config.Duration{Duration: time.Millisecond}, Interval: config.Duration{Duration: time.Second},
			Metrics: []config.AnalysisMetric{{Name: "e", Max: "1", NoData: "pass", Query: `e{pod=~"{{.Pods}}"}`}}}}
	got, err = a.Check(context.Background(), canaryTarget)
	if err != nil || len(got) != 1 || got[0].Passed || !strings.Contains(got[0].Message, "but recording it on Deployment hello/hello-canary failed, so no gate can see it") {
		t.Errorf("Check = %+v, %v; want failed for want of a record", got, err)
	}
}

func TestReadAnalysisRecord(t *testing.T) {
	tests := []struct {
		name, text string
		want       string // the record's message, or the error
	}{
		{"passed", `{"digest":"sha256:abc","verdict":"passed","at":"2026-12-07T16:00:00Z","message":"held"}`, "held"},
		{"cleaned", `{"digest":"sha256:abc","verdict":"failed","at":"2026-12-07T16:00:00Z","message":"bad\u001b[2J"}`, `bad\x1b[2J`},
		{"not JSON", `passed`, "reading annotation slipway.dev/analysis: invalid character"},
		{"too long", `{"message":"` + strings.Repeat("x", 5000) + `"}`, "more than a record's 4096"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := ReadAnalysisRecord(map[string]string{AnnotationAnalysis: tt.text})
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = rec.Message
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("ReadAnalysisRecord = %+v, %v; want %q", rec, err, tt.want)
			}
		})
	}
	if rec, err := ReadAnalysisRecord(nil); rec != nil || err != nil {
		t.Errorf("no annotation: %+v, %v", rec, err)
	}
}
