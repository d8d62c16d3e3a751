package flow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/check"
	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
)

func TestAnalysisGate(t *testing.T) {
	at := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)
	req := config.Requirement{Env: "canary", Soak: config.Duration{Duration: 5 * time.Minute}}
	const digest = "sha256:aaaaaaaaaaaa1111"
	for _, tc := range []struct {
		name    string
		rec     *check.AnalysisRecord
		readErr error
		want    string // "" passes
	}{
		{"passed", &check.AnalysisRecord{Digest: digest, Verdict: "passed", At: at}, nil, ""},
		{"none", nil, nil, "no analysis of this digest is recorded on its Deployment (one deployed before it had an analysis, or whose analysis was interrupted)"},
		{"another digest", &check.AnalysisRecord{Digest: "sha256:bbbbbbbbbbbb2222", Verdict: "passed", At: at}, nil,
			"its last analysis was of sha256:bbbbbbbbbbbb, not sha256:aaaaaaaaaaaa"},
		{"failed", &check.AnalysisRecord{Digest: digest, Verdict: "failed", At: at, Message: "round 2: error-rate: the canary's 0.3 is above 0.01"}, nil,
			"its analysis of this digest failed at 2026-12-07T16:00:00Z: round 2: error-rate: the canary's 0.3 is above 0.01"},
		{"unreadable", nil, errors.New("reading Deployment hello/hello-canary: forbidden\x1b[2J"), `its analysis cannot be read (reading Deployment hello/hello-canary: forbidden\x1b[2J)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := AnalysisGate("prod", req, tc.rec, tc.readErr, digest)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrGate) || !strings.Contains(err.Error(), "prod requires canary: "+tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestCanaryAnalysisFlow deploys the fixture's canary with an analysis
// against a server playing Prometheus, whose answer for the canary's pods
// is canary, then prod, which requires the canary.
func TestCanaryAnalysisFlow(t *testing.T) {
	tests := []struct {
		name, canary string
		wantErr      error  // of the canary's deploy
		prodErr      string // "" when prod passes its gate
	}{
		{"passes", "0.01", nil, ""},
		{"fails", "0.5", deploy.ErrFailed, "prod requires canary: nothing is deployed there"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,%q]}}`, tt.canary)
			}))
			defer srv.Close()
			f := newFixture(t)
			for i := range f.p.Environments {
				if e := &f.p.Environments[i]; e.Name == "canary" {
					e.Analysis = &config.Analysis{URL: srv.URL, Window: config.Duration{Duration: 30 * time.Millisecond},
						Interval: config.Duration{Duration: 10 * time.Millisecond},
						Metrics:  []config.AnalysisMetric{{Name: "error-rate", Max: "0.1", Query: `errors{pod=~"{{.Pods}}"}`}}}
				}
			}
			digest := f.push("rc", "1.2.3")
			f.deployed("showcase", "1.2.3", digest, time.Now().Add(-2*time.Hour))
			_, err := f.runner().Deploy(context.Background(), "canary", DeployOptions{Options: f.options()})
			if !matches(err, tt.wantErr) {
				t.Fatalf("Deploy(canary) = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "check canary analysis failed: round 1, 0s into the 30ms window: error-rate: the canary's 0.5 is above max 0.1 (prod no value)") {
				t.Errorf("Deploy(canary) = %v, want the analysis named", err)
			}
			if d, _ := f.kube.get("hello", "hello-canary"); d != nil {
				if rec, err := check.ReadAnalysisRecord(d.Annotations); rec == nil || err != nil || rec.Digest != digest || !rec.Passed() {
					t.Errorf("the canary's record = %+v, %v; want passed for %s", rec, err, digest)
				}
			} else if tt.wantErr == nil {
				t.Error("the canary is gone")
			}
			_, err = f.runner().Deploy(context.Background(), "prod", DeployOptions{Options: f.options()})
			switch {
			case tt.prodErr == "" && err != nil:
				t.Errorf("Deploy(prod) = %v", err)
			case tt.prodErr == "" && (!slices.Contains(f.events.Msgs("gate"), "canary runs this digest, healthy") ||
				!slices.ContainsFunc(f.events.Msgs("gate"), func(m string) bool { return strings.HasPrefix(m, "canary's analysis of this digest passed at ") })):
				t.Errorf("gate reported %q", f.events.Msgs("gate"))
			case tt.prodErr != "" && (!errors.Is(err, ErrGate) || !strings.Contains(err.Error(), tt.prodErr)):
				t.Errorf("Deploy(prod) = %v, want %q", err, tt.prodErr)
			}
		})
	}
}
