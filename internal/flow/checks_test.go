package flow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
)

// smokeCI is a ci.yaml whose smoke task records what it was given and
// fails for version 1.2.4.
const smokeCI = `apiVersion: slipway/v1
tasks:
  smoke: |
    echo "$SLIPWAY_ENVIRONMENT $SLIPWAY_VERSION $SLIPWAY_DIGEST" >> checked.txt
    if [ "$SLIPWAY_VERSION" = 1.2.4 ]; then printf 'GET / answered 500\033[2J\n' >&2; exit 3; fi
pipeline: [smoke]
`

// TestDeployTaskCheck deploys 1.2.3, whose smoke task passes, then 1.2.4,
// whose smoke task exits 3: the deploy fails with CheckFailed, shows the
// task's output, and rolls back to revision 1.
func TestDeployTaskCheck(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(filepath.Join(f.p.Dir, config.CIFile), []byte(smokeCI), 0o644); err != nil {
		t.Fatal(err)
	}
	f.p.Environments[0].Checks = []config.Check{{Task: "smoke"}} // dev
	d123 := f.push("dev", "1.2.3")
	deployDev(f)
	d124 := f.push("dev", "1.2.4")
	res, err := f.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options(), Version: "1.2.4"})
	var fe *deploy.FailedError
	if !errors.As(err, &fe) || !res.RolledBack || res.RolledBackTo != 1 {
		t.Fatalf("Deploy = %+v, %v; want a failed check rolled back to revision 1", res.Result, err)
	}
	if res.Verdict.Reason != deploy.ReasonCheckFailed {
		t.Errorf("reason %s, want %s", res.Verdict.Reason, deploy.ReasonCheckFailed)
	}
	for _, want := range []string{"check task smoke failed: exited with status 3", `| GET / answered 500\x1b[2J`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	got, err := os.ReadFile(filepath.Join(f.p.Dir, "checked.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := "dev 1.2.3 " + d123 + "\ndev 1.2.4 " + d124 + "\n"
	if string(got) != want {
		t.Errorf("the task was given\n%s\nwant\n%s", got, want)
	}
}

// TestDeployTaskCheckUnknown refuses a deploy whose task check names no
// task of ci.yaml before anything is applied.
func TestDeployTaskCheckUnknown(t *testing.T) {
	f := newFixture(t)
	if err := os.WriteFile(filepath.Join(f.p.Dir, config.CIFile), []byte(smokeCI), 0o644); err != nil {
		t.Fatal(err)
	}
	f.p.Environments[0].Checks = []config.Check{{Task: "smoek"}}
	f.push("dev", "1.2.3")
	_, err := f.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options()})
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), `unknown task "smoek"`) {
		t.Fatalf("Deploy = %v, want the unknown task named", err)
	}
	if d, _ := f.kube.get("hello-dev", "hello"); d != nil {
		t.Error("the Deployment was applied")
	}
}

// TestDoctorChecksAccess adds a check of the checks' permissions to doctor
// only for an environment with checks.
func TestDoctorChecksAccess(t *testing.T) {
	for _, tt := range []struct {
		name   string
		checks []config.Check
		want   bool
	}{
		{"no checks", nil, false},
		{"http", []config.Check{{HTTP: &config.HTTPCheck{Path: "/"}}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.p.Environments[0].Checks = tt.checks
			rep, err := f.runner().Doctor(context.Background(), "dev", DoctorOptions{Options: f.options()})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(rep.Checks, func(c deploy.Check) bool { return c.Name == deploy.CheckChecksAccess })
			if (i >= 0) != tt.want {
				t.Fatalf("checks = %+v; want %s: %v", rep.Checks, deploy.CheckChecksAccess, tt.want)
			}
			if i >= 0 && !strings.Contains(rep.Checks[i].Detail, "get pods/proxy") {
				t.Errorf("%+v does not name get pods/proxy", rep.Checks[i])
			}
		})
	}
}
