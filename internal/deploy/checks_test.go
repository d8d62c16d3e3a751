package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeChecker records the targets it is given and returns results.
type fakeChecker struct {
	results []CheckResult
	err     error
	targets []CheckTarget
}

func (f *fakeChecker) Check(_ context.Context, t CheckTarget) ([]CheckResult, error) {
	f.targets = append(f.targets, t)
	return f.results, f.err
}

var (
	passed = CheckResult{Check: "http GET /healthz", Passed: true}
	failed = CheckResult{Check: "http GET /healthz", Message: "pod hello-r2-1 answered 500, want 200",
		Output: []string{"database unreachable"}}
)

// TestDeployChecks deploys 1.2.3, then 1.2.4 with checks: passing checks
// keep the rollout; a failing one fails it with ReasonCheckFailed, naming
// the check and its output, and rolls back to 1.2.3.
func TestDeployChecks(t *testing.T) {
	tests := []struct {
		name       string
		results    []CheckResult
		wantFailed bool
	}{
		{"passing", []CheckResult{passed, passed}, false},
		{"failing", []CheckResult{passed, failed}, true},
		{"analysis failing", []CheckResult{passed, {Check: AnalysisCheckName, Message: "round 2: error-rate: the canary's 0.5 is above 0.05"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := rollingCluster(t, "")
			o := deployOptions(t, c)
			if _, err := Deploy(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			fc := &fakeChecker{results: tt.results}
			o.Render.Image, o.Render.Version, o.Checker = otherImage, "1.2.4", fc
			res, err := Deploy(context.Background(), o)
			if len(fc.targets) != 1 {
				t.Fatalf("checked %d times, want once", len(fc.targets))
			}
			tg := fc.targets[0]
			if tg.Revision != 2 || len(tg.Pods) != 1 || !strings.HasPrefix(tg.Pods[0], "hello-r2-") || tg.Port != 8080 || tg.Version != "1.2.4" || tg.Env != "dev" {
				t.Errorf("target = %+v, want revision 2's pod on port 8080", tg)
			}
			if res.Verdict == nil || len(res.Verdict.Checks) != len(tt.results) {
				t.Fatalf("verdict = %+v, want the check results", res.Verdict)
			}
			if !tt.wantFailed {
				if err != nil || res.Verdict.Phase != PhaseSucceeded || res.RolledBack {
					t.Fatalf("Deploy = %+v, %v; want succeeded", res, err)
				}
				return
			}
			var fe *FailedError
			if !errors.As(err, &fe) || !errors.Is(err, ErrFailed) || !res.RolledBack || res.RolledBackTo != 1 {
				t.Fatalf("Deploy = %+v, %v; want failed and rolled back to revision 1", res, err)
			}
			if res.Verdict.Reason != ReasonCheckFailed {
				t.Errorf("reason = %s, want %s", res.Verdict.Reason, ReasonCheckFailed)
			}
			// The record of the checks outlives the rollback, for status.
			st := c.Status(context.Background(), testNS, "hello", false)
			if st.Version != "1.2.3" || st.Checks == nil || st.Checks.Passed || st.Checks.Version != "1.2.4" || len(st.Checks.Checks) != 2 {
				t.Errorf("status after the rollback: %s with checks %+v, want 1.2.3 with 1.2.4's failed checks", st.Version, st.Checks)
			}
			if tt.results[1].Check == AnalysisCheckName {
				if !strings.Contains(res.Verdict.Hint, "environments.dev.analysis") {
					t.Errorf("hint %q does not point at the analysis", res.Verdict.Hint)
				}
				return
			}
			for _, want := range []string{"CheckFailed: the pods are ready, but check http GET /healthz failed: pod hello-r2-1 answered 500",
				"\ncheck http GET /healthz, its output ends:\n  | database unreachable",
				"rolled back to revision 1"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
		})
	}
}

// TestDeployCheckFailsFirstRollout removes a Deployment whose first
// rollout fails its checks: there is nothing to roll back to.
func TestDeployCheckFailsFirstRollout(t *testing.T) {
	c, _ := rollingCluster(t, "")
	o := deployOptions(t, c)
	o.Checker = &fakeChecker{results: []CheckResult{failed}}
	res, err := Deploy(context.Background(), o)
	if !errors.Is(err, ErrFailed) || !res.RolledBack || res.RolledBackTo != 0 {
		t.Fatalf("Deploy = %+v, %v; want failed, the Deployment removed", res, err)
	}
	if _, err := c.Client.AppsV1().Deployments(testNS).Get(context.Background(), "hello", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Deployment is still there: %v", err)
	}
}

// TestDeployCheckInterrupted stops at an interrupt during the checks and
// leaves the completed rollout as it is.
func TestDeployCheckInterrupted(t *testing.T) {
	c, _ := rollingCluster(t, "")
	o := deployOptions(t, c)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.Checker = checkerFunc(func(context.Context, CheckTarget) ([]CheckResult, error) {
		cancel() // Ctrl-C while the checks run
		return nil, context.Canceled
	})
	_, err := Deploy(ctx, o)
	var ie *InterruptedError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "its checks were cut short: it was not rolled back") {
		t.Fatalf("Deploy = %v, want an InterruptedError in the checks", err)
	}
	if !ie.Released {
		t.Errorf("lock not released")
	}
	if _, err := c.Client.AppsV1().Deployments(testNS).Get(context.Background(), "hello", metav1.GetOptions{}); err != nil {
		t.Errorf("the Deployment is gone: %v", err)
	}
}

type checkerFunc func(context.Context, CheckTarget) ([]CheckResult, error)

func (f checkerFunc) Check(ctx context.Context, t CheckTarget) ([]CheckResult, error) {
	return f(ctx, t)
}

// TestChecksAccess asks for the permissions of HTTP checks (pods/proxy)
// and of task checks' SLIPWAY_URL (pods/portforward) only when needed.
func TestChecksAccess(t *testing.T) {
	tests := []struct {
		name           string
		proxy, forward bool
		jobs           bool
		deny           []string
		status         CheckStatus
		detail, hint   string
	}{
		{"both allowed", true, true, false, nil, CheckOK, "all 2 permissions the checks need in namespace hello-dev", ""},
		{"http only", true, false, false, nil, CheckOK, "the 1 permission the checks need", ""},
		{"no proxy", true, true, false, []string{"get pods/proxy"}, CheckFail,
			"context test may not get pods/proxy in namespace hello-dev", "kubectl auth can-i get pods/proxy -n hello-dev --context test"},
		{"no port-forward", false, true, false, []string{"create pods/portforward"}, CheckFail, "may not create pods/portforward", ""},
		{"jobs", false, false, true, []string{"create jobs.batch", "get pods/log"}, CheckFail, "may not create jobs.batch, get pods/log", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &reviews{deny: map[string]bool{}}
			for _, d := range tt.deny {
				r.deny[d] = true
			}
			c, _ := fakeDoctorCluster(r)
			got := c.ChecksAccess(context.Background(), "hello-dev", tt.proxy, tt.forward, tt.jobs)
			if got.Name != CheckChecksAccess || got.Status != tt.status || !strings.Contains(got.Detail, tt.detail) || !strings.Contains(got.Hint, tt.hint) {
				t.Errorf("ChecksAccess = %+v\nwant %s, %q, hint %q", got, tt.status, tt.detail, tt.hint)
			}
			for _, a := range r.asked {
				if a.Subresource == "" && a.Resource != "jobs" || a.Namespace != "hello-dev" {
					t.Errorf("asked %+v", a)
				}
			}
		})
	}
}
