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

// TestDeployGates deploys to the gated environments of the fixture: prod
// requires its canary, the canary requires showcase with an hour's soak.
// The fake clusters hold what each scenario says runs where.
func TestDeployGates(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	const other = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	type runs struct {
		env    string
		digest string // "" for the digest deployed
		since  time.Duration
	}
	tests := []struct {
		name    string
		env     string
		runs    []runs
		refuse  string // an environment whose cluster cannot be reached
		before  func(f *fixture)
		o       DeployOptions
		wantErr error
		want    string // in the error, or the gate's report
		check   func(t *testing.T, f *fixture, res DeployResult)
	}{
		{name: "the canary runs it", env: "prod", runs: []runs{{env: "canary"}}, want: "canary runs this digest, healthy"},
		{name: "nothing in the canary", env: "prod", wantErr: ErrGate, want: "prod requires canary: nothing is deployed there"},
		{name: "another digest in the canary", env: "prod", runs: []runs{{env: "canary", digest: other}}, wantErr: ErrGate, want: "it runs 1.2.3 (sha256:000000000000), not"},
		{name: "the canary unreachable", env: "prod", refuse: "canary", wantErr: ErrGate, want: "its state cannot be read"},
		{name: "prod already runs it", env: "prod", before: func(f *fixture) {
			if _, err := f.runner().Deploy(context.Background(), "prod", DeployOptions{SkipGate: true, Reason: "first"}); err != nil {
				f.t.Fatal(err)
			}
		}, check: func(t *testing.T, f *fixture, res DeployResult) {
			if !res.UpToDate {
				t.Errorf("result = %+v, want up to date without the canary", res.Result)
			}
		}},
		{name: "skip-gate needs a reason", env: "prod", o: DeployOptions{SkipGate: true}, wantErr: config.ErrInvalid, want: "next: ReasonToSkip prod"},
		{name: "skip-gate with a reason", env: "prod", o: DeployOptions{SkipGate: true, Reason: "hotfix"}, check: func(t *testing.T, f *fixture, res DeployResult) {
			if st := f.kube.status(t, "hello", "hello"); st.Reason != "gate skipped (requires canary): hotfix" {
				t.Errorf("recorded reason %q", st.Reason)
			}
		}},
		{name: "showcase soaked", env: "canary", runs: []runs{{env: "showcase", since: 2 * time.Hour}}, want: "showcase runs this digest, healthy"},
		{name: "showcase not soaked", env: "canary", runs: []runs{{env: "showcase", since: 10 * time.Minute}}, wantErr: ErrGate, want: "of the 1h0m0s soak; 50m0s to go"},
		{name: "no canary needed", env: "canary", runs: []runs{{env: "prod"}}, check: func(t *testing.T, f *fixture, res DeployResult) {
			if !res.UpToDate || res.Note != "prod already runs this digest, healthy: no canary needed" {
				t.Errorf("result = %+v, want up to date with a note", res.Result)
			}
			if st := f.kube.status(t, "hello", "hello-canary"); st.Health != deploy.Missing {
				t.Errorf("canary is %s, want nothing deployed", st.Health)
			}
		}},
		{name: "a canary ahead of prod", env: "canary", runs: []runs{{env: "prod", digest: other}, {env: "showcase", since: time.Hour + time.Minute}},
			check: func(t *testing.T, f *fixture, res DeployResult) {
				if res.UpToDate || f.kube.status(t, "hello", "hello-canary").Health != deploy.Healthy {
					t.Errorf("result = %+v, want the canary deployed", res.Result)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.now = now
			digest := f.push("rc", "1.2.3")
			for _, r := range tt.runs {
				f.deployed(r.env, "1.2.3", cmpOr(r.digest, digest), now.Add(-r.since))
			}
			if tt.before != nil {
				tt.before(f)
			}
			if tt.refuse != "" {
				f.refuse[tt.refuse] = deploy.ErrUnreachable
			}
			o := tt.o
			o.Options = f.options()
			res, err := f.runner().Deploy(context.Background(), tt.env, o)
			if !matches(err, tt.wantErr) {
				t.Fatalf("Deploy(%s) = %v, want %v", tt.env, err, tt.wantErr)
			}
			if err != nil && !strings.Contains(said(err), tt.want) {
				t.Errorf("Deploy(%s) = %v, want it to say %q", tt.env, err, tt.want)
			}
			if err == nil && tt.want != "" && !slices.Contains(f.events.Msgs("gate"), tt.want) {
				t.Errorf("gate reported %q, want %q", f.events.Msgs("gate"), tt.want)
			}
			if tt.check != nil {
				tt.check(t, f, res)
			}
		})
	}
}

// TestRetireCanaries checks that a deploy of prod removes its canary when
// the canary runs the digest prod now runs, and only then.
func TestRetireCanaries(t *testing.T) {
	const other = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	tests := []struct {
		name        string
		canary      string // what the canary runs: "same", "other" or ""
		refuse      bool   // the canary's cluster cannot be reached after the gate
		wantRemoved bool
		wantErr     error
	}{
		{name: "the same digest", canary: "same", wantRemoved: true},
		{name: "another digest", canary: "other"},
		{name: "no canary", canary: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			digest := f.push("rc", "1.2.3")
			switch tt.canary {
			case "same":
				f.deployed("canary", "1.2.3", digest, time.Now())
			case "other":
				f.deployed("canary", "1.2.2", other, time.Now())
			}
			o := DeployOptions{Options: f.options(), SkipGate: true, Reason: "test"}
			if _, err := f.runner().Deploy(context.Background(), "prod", o); !matches(err, tt.wantErr) {
				t.Fatalf("Deploy = %v, want %v", err, tt.wantErr)
			}
			removed := slices.Contains(f.events.Msgs("canary"), "removed hello-canary: prod now runs its digest")
			if removed != tt.wantRemoved {
				t.Errorf("canary removal reported: %t, want %t (%q)", removed, tt.wantRemoved, f.events.Msgs("canary"))
			}
			gone := f.kube.status(t, "hello", "hello-canary").Health == deploy.Missing
			if gone != (tt.wantRemoved || tt.canary == "") {
				t.Errorf("canary gone: %t, want %t", gone, tt.wantRemoved)
			}
		})
	}
}

// TestRetireCanariesUnreachable fails a deploy whose canary's cluster
// cannot be reached to retire it, after prod's rollout.
func TestRetireCanariesUnreachable(t *testing.T) {
	f := newFixture(t)
	f.push("rc", "1.2.3")
	f.refuse["canary"] = deploy.ErrUnreachable
	res, err := f.runner().Deploy(context.Background(), "prod", DeployOptions{Options: f.options(), SkipGate: true, Reason: "test"})
	if !errors.Is(err, deploy.ErrUnreachable) {
		t.Fatalf("Deploy = %v, want ErrUnreachable", err)
	}
	if res.Revision != 1 || f.kube.status(t, "hello", "hello").Health != deploy.Healthy {
		t.Errorf("result = %+v, want prod rolled out first", res.Result)
	}
}
