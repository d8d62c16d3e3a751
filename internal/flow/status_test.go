package flow

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
)

// TestStatus reads every environment of the fixture at once: what runs,
// drift against the registry, a canary ahead of its environment, and an
// environment whose cluster cannot be reached, which fails nothing else.
func TestStatus(t *testing.T) {
	f := newFixture(t)
	dev := f.push("dev", "1.2.3")
	rc := f.push("rc", "1.2.3")
	f.runDeploy("dev", DeployOptions{})
	f.deployed("canary", "1.3.0", rc, time.Now()) // ahead of prod, and rc has no 1.3.0
	f.deployed("prod", "1.2.3", dev, time.Now())  // a digest rc's 1.2.3 is not
	f.refuse["showcase"] = deploy.ErrUnreachable
	st, err := f.runner().Status(context.Background(), nil, StatusOptions{Options: f.options()})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]EnvStatus{}
	for _, s := range st {
		by[s.Env] = s
	}
	if got := len(st); got != 4 {
		t.Fatalf("%d statuses, want one per environment", got)
	}
	tests := []struct {
		env    string
		health deploy.Health
		drift  []string
	}{
		{"dev", deploy.Healthy, nil},
		{"showcase", deploy.Unreachable, nil},
		{"canary", deploy.Healthy, []string{"runs an image that is not " + f.host + "/rc/hello", "registry rc has no tag 1.3.0", "canary ahead of prod (1.2.3)"}},
		{"prod", deploy.Healthy, []string{"runs an image that is not " + f.host + "/rc/hello", "registry tag 1.2.3 is " + rc[:19] + " but pods run " + dev[:19]}},
	}
	for _, tt := range tests {
		s := by[tt.env]
		if s.Health != tt.health {
			t.Errorf("%s is %s, want %s (%s)", tt.env, s.Health, tt.health, s.Error)
		}
		if !slices.Equal(s.Drift, tt.drift) {
			t.Errorf("%s drift = %q, want %q", tt.env, s.Drift, tt.drift)
		}
		if s.Verify != nil {
			t.Errorf("%s verification = %+v without a verify section", tt.env, s.Verify)
		}
	}
}

// TestStatusNames reads the named environments only, and refuses an
// unknown one.
func TestStatusNames(t *testing.T) {
	f := newFixture(t)
	st, err := f.runner().Status(context.Background(), []string{"prod"}, StatusOptions{Pods: true})
	if err != nil || len(st) != 1 || st[0].Env != "prod" || st[0].Health != deploy.Missing {
		t.Errorf("Status(prod) = %+v, %v; want prod, missing", st, err)
	}
	if f.connected("dev", "dev-ctx") != 0 {
		t.Error("Status(prod) connected to dev")
	}
	if _, err := f.runner().Status(context.Background(), []string{"nowhere"}, StatusOptions{}); !errors.Is(err, config.ErrInvalid) {
		t.Errorf("Status(nowhere) = %v, want ErrInvalid", err)
	}
}

// TestHistoryAndRollback deploys two versions to dev, lists them and
// rolls back to the first, under the lock.
func TestHistoryAndRollback(t *testing.T) {
	f := newFixture(t)
	f.push("dev", "1.2.3")
	f.push("dev", "1.2.4")
	f.runDeploy("dev", DeployOptions{})
	f.runDeploy("dev", DeployOptions{Version: "1.2.4"})
	r := f.runner()
	hist, err := r.History(context.Background(), "dev", HistoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hist {
		got = append(got, h.Version)
	}
	if want := []string{"1.2.4", "1.2.3"}; !slices.Equal(got, want) || !hist[0].Current {
		t.Errorf("history = %q (current first: %t), want %q", got, hist[0].Current, want)
	}
	res, err := r.Rollback(context.Background(), "dev", RollbackOptions{Options: f.options(), Reason: "bad fix"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != "1.2.3" || res.UpToDate {
		t.Errorf("rollback = %+v, want 1.2.3 back", res)
	}
	if st := f.kube.status(t, "hello-dev", "hello"); st.Version != "1.2.3" || st.Health != deploy.Healthy {
		t.Errorf("dev runs %s (%s), want 1.2.3 healthy", st.Version, st.Health)
	}
	if n := f.connected("dev", "dev-ctx"); n != 3 {
		t.Errorf("%d connections, want one per command (two deploys, and history with rollback)", n)
	}
}

// TestRollbackRefusals checks what Rollback and History refuse before
// touching a cluster.
func TestRollbackRefusals(t *testing.T) {
	f := newFixture(t)
	r := f.runner()
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"rollback of an unknown environment", func() error {
			_, err := r.Rollback(context.Background(), "nowhere", RollbackOptions{})
			return err
		}, "rolling back: "},
		{"break-lock without a reason", func() error {
			_, err := r.Rollback(context.Background(), "dev", RollbackOptions{BreakLock: true, Reason: " "})
			return err
		}, "next: ReasonToBreak dev"},
		{"history of an unknown environment", func() error {
			_, err := r.History(context.Background(), "nowhere", HistoryOptions{})
			return err
		}, "reading history: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if !errors.Is(err, config.ErrInvalid) || !strings.Contains(said(err), tt.want) {
				t.Errorf("= %v, want ErrInvalid saying %q", err, tt.want)
			}
		})
	}
	if n := len(f.connects); n != 0 {
		t.Errorf("connected %d times", n)
	}
	f.refuse["dev"] = deploy.ErrNoContext
	if _, err := r.Rollback(context.Background(), "dev", RollbackOptions{}); !errors.Is(err, deploy.ErrNoContext) {
		t.Errorf("Rollback = %v, want the connection's error", err)
	}
	if _, err := r.History(context.Background(), "dev", HistoryOptions{}); !errors.Is(err, deploy.ErrNoContext) {
		t.Errorf("History = %v, want the connection's error", err)
	}
}

// runDeploy deploys to env with a Runner of its own, as one command.
func (f *fixture) runDeploy(env string, o DeployOptions) DeployResult {
	f.t.Helper()
	o.Options = f.options()
	res, err := f.runner().Deploy(context.Background(), env, o)
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// TestDoctorConnects checks Doctor's kubeconfig check through the
// Factory: the connection's error, with a hint unless the error has its
// own, or the context and server it found.
func TestDoctorConnects(t *testing.T) {
	tests := []struct {
		name       string
		refuse     error
		wantStatus deploy.CheckStatus
		wantDetail string
		wantHint   bool
	}{
		{"connected", nil, deploy.CheckOK, "context test, server test, namespace hello-dev", false},
		{"no such context", deploy.ErrNoContext, deploy.CheckFail, deploy.ErrNoContext.Error(), false},
		{"no kubeconfig", errors.New("loading kubeconfig for dev: no file"), deploy.CheckFail, "loading kubeconfig", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.refuse != nil {
				f.refuse["dev"] = tt.refuse
			}
			rep, err := f.runner().Doctor(context.Background(), "dev", DoctorOptions{Options: f.options()})
			if err != nil {
				t.Fatal(err)
			}
			ch := rep.Checks[0]
			if ch.Name != CheckKubeconfig || ch.Status != tt.wantStatus || !strings.Contains(ch.Detail, tt.wantDetail) || (ch.Hint != "") != tt.wantHint {
				t.Errorf("first check = %+v, want %s saying %q (hint: %t)", ch, tt.wantStatus, tt.wantDetail, tt.wantHint)
			}
			if i := slices.IndexFunc(rep.Checks, func(c deploy.Check) bool { return c.Name == CheckPull }); i < 0 || rep.Checks[i].Status != deploy.CheckWarn {
				t.Errorf("checks = %+v, want the pull of 1.2.3 warned: it was never pushed", rep.Checks)
			}
		})
	}
}
