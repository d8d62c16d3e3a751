package flow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
)

// TestDeployModes drives Deploy, DryRun and Diff of dev through the fake
// cluster: a first deploy, one of what already runs, a new version, a
// crash-looping one rolled back or left, and the dry run and diff of
// each situation.
func TestDeployModes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		before  func(f *fixture) // the cluster before, after pushing 1.2.3
		mode    string           // deploy, dry-run or diff
		env     string           // default dev
		o       DeployOptions
		want    func(t *testing.T, f *fixture, res DeployResult)
		wantErr error
	}{
		{name: "first deploy", mode: "deploy", want: func(t *testing.T, f *fixture, res DeployResult) {
			if res.UpToDate || res.Revision != 1 || res.Version != "1.2.3" || res.Env != "dev" || res.Namespace != "hello-dev" {
				t.Errorf("result = %+v, want revision 1 of 1.2.3 in dev", res.Result)
			}
			st := f.kube.status(t, "hello-dev", "hello")
			if st.Health != deploy.Healthy || st.Version != "1.2.3" || st.DeployedBy != "alice" {
				t.Errorf("dev runs %+v, want 1.2.3 healthy, by alice", st)
			}
		}},
		{name: "what already runs", mode: "deploy", before: deployDev, want: func(t *testing.T, f *fixture, res DeployResult) {
			if !res.UpToDate || res.Revision != 1 {
				t.Errorf("result = %+v, want up to date at revision 1", res.Result)
			}
		}},
		{name: "a new version", mode: "deploy", before: func(f *fixture) {
			deployDev(f)
			f.push("dev", "1.2.4")
		}, o: DeployOptions{Version: "1.2.4", Reason: "the fix"}, want: func(t *testing.T, f *fixture, res DeployResult) {
			if res.UpToDate || res.Revision != 2 || res.Version != "1.2.4" {
				t.Errorf("result = %+v, want revision 2 of 1.2.4", res.Result)
			}
			if st := f.kube.status(t, "hello-dev", "hello"); st.Reason != "the fix" {
				t.Errorf("recorded reason %q, want the fix", st.Reason)
			}
		}},
		{name: "a crash rolled back", mode: "deploy", before: crashNext, o: DeployOptions{Version: "1.2.4"}, wantErr: deploy.ErrFailed,
			want: func(t *testing.T, f *fixture, res DeployResult) {
				if !res.RolledBack || res.RolledBackTo != 1 {
					t.Errorf("result = %+v, want rolled back to revision 1", res.Result)
				}
				if st := f.kube.status(t, "hello-dev", "hello"); st.Version != "1.2.3" || st.Health != deploy.Healthy {
					t.Errorf("dev runs %s (%s), want 1.2.3 healthy again", st.Version, st.Health)
				}
			}},
		{name: "a crash left with no-rollback", mode: "deploy", before: crashNext, o: DeployOptions{Version: "1.2.4", NoRollback: true}, wantErr: deploy.ErrFailed,
			want: func(t *testing.T, f *fixture, res DeployResult) {
				if res.RolledBack {
					t.Errorf("result = %+v, want no rollback", res.Result)
				}
				if st := f.kube.status(t, "hello-dev", "hello"); st.Version != "1.2.4" || st.Health == deploy.Healthy {
					t.Errorf("dev runs %s (%s), want the failed 1.2.4", st.Version, st.Health)
				}
			}},
		{name: "a first deploy that crashes is removed", mode: "deploy", before: func(f *fixture) {
			f.kube.crashImage(f.image("dev", f.digests["1.2.3"]))
		}, wantErr: deploy.ErrFailed, want: func(t *testing.T, f *fixture, res DeployResult) {
			if !res.RolledBack || res.RolledBackTo != 0 {
				t.Errorf("result = %+v, want the new Deployment removed", res.Result)
			}
			if st := f.kube.status(t, "hello-dev", "hello"); st.Health != deploy.Missing {
				t.Errorf("dev is %s, want missing", st.Health)
			}
		}},
		{name: "dry run", mode: "dry-run", want: func(t *testing.T, f *fixture, res DeployResult) {
			if !strings.Contains(string(res.Manifests), "kind: Deployment") || !strings.Contains(string(res.Manifests), "@"+f.digests["1.2.3"]) {
				t.Errorf("manifests do not hold the Deployment of the digest:\n%s", res.Manifests)
			}
			if st := f.kube.status(t, "hello-dev", "hello"); st.Health != deploy.Missing {
				t.Errorf("a dry run left dev %s", st.Health)
			}
			if n := f.connected("dev", "dev-ctx"); n != 0 {
				t.Errorf("a dry run connected to the cluster %d times", n)
			}
		}},
		{name: "dry run of a digest", mode: "dry-run", o: DeployOptions{Digest: "sha256:" + strings.Repeat("ab", 32), Version: "9.9.9"},
			want: func(t *testing.T, f *fixture, res DeployResult) {
				if res.Version != "9.9.9" || !strings.HasSuffix(res.Image, "/team/hello@sha256:"+strings.Repeat("ab", 32)) {
					t.Errorf("result = %+v, want the digest as 9.9.9", res.Result)
				}
			}},
		{name: "diff of a first deploy", mode: "diff", want: func(t *testing.T, f *fixture, res DeployResult) {
			if !strings.Contains(res.Diff, "+++ slipway Deployment hello") {
				t.Errorf("diff does not add the Deployment:\n%s", res.Diff)
			}
			if st := f.kube.status(t, "hello-dev", "hello"); st.Health != deploy.Missing {
				t.Errorf("a diff left dev %s", st.Health)
			}
		}},
		{name: "diff of a new version", mode: "diff", before: func(f *fixture) {
			deployDev(f)
			f.push("dev", "1.2.4")
		}, o: DeployOptions{Version: "1.2.4"}, want: func(t *testing.T, f *fixture, res DeployResult) {
			if !strings.Contains(res.Diff, "-    slipway.dev/version: 1.2.3") || !strings.Contains(res.Diff, "+    slipway.dev/version: 1.2.4") {
				t.Errorf("diff does not change the version:\n%s", res.Diff)
			}
			if st := f.kube.status(t, "hello-dev", "hello"); st.Version != "1.2.3" {
				t.Errorf("a diff changed dev to %s", st.Version)
			}
		}},
		{name: "unknown environment", mode: "deploy", env: "nowhere", wantErr: config.ErrInvalid},
		{name: "a version never pushed", mode: "deploy", o: DeployOptions{Version: "0.0.1"}, wantErr: errNotPushed},
		{name: "a malformed digest", mode: "dry-run", o: DeployOptions{Digest: "sha256:abc"}, wantErr: config.ErrInvalid},
		{name: "break-lock without a reason", mode: "deploy", o: DeployOptions{BreakLock: true}, wantErr: config.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.digests = map[string]string{"1.2.3": f.push("dev", "1.2.3")}
			if tt.before != nil {
				tt.before(f)
			}
			env := cmpOr(tt.env, "dev")
			run := map[string]func(context.Context, string, DeployOptions) (DeployResult, error){
				"deploy": f.runner().Deploy, "dry-run": f.runner().DryRun, "diff": f.runner().Diff,
			}[tt.mode]
			o := tt.o
			o.Options = f.options()
			res, err := run(ctx, env, o)
			if !matches(err, tt.wantErr) {
				t.Fatalf("%s = %v, want %v", tt.mode, err, tt.wantErr)
			}
			if tt.want != nil {
				tt.want(t, f, res)
			}
		})
	}
}

// errNotPushed stands for the error of a version missing from the
// registry, which says how to put it there.
var errNotPushed = errors.New("next: PushFirst dev")

// matches reports whether err is want: both nil, errors.Is, or err's
// message holds want's (for errors without a sentinel, as errNotPushed).
func matches(err, want error) bool {
	switch {
	case want == nil:
		return err == nil
	case err == nil:
		return false
	case errors.Is(err, want):
		return true
	}
	return strings.Contains(said(err), want.Error())
}

// deployDev deploys 1.2.3 to dev.
func deployDev(f *fixture) {
	f.t.Helper()
	if _, err := f.runner().Deploy(context.Background(), "dev", DeployOptions{Options: f.options()}); err != nil {
		f.t.Fatal(err)
	}
}

// crashNext deploys 1.2.3 to dev and pushes a 1.2.4 that crash-loops.
func crashNext(f *fixture) {
	deployDev(f)
	f.kube.crashImage(f.image("dev", f.push("dev", "1.2.4")))
}

// TestDeployConnectsOnce checks that a deploy, its gate and its status
// reads share one connection per environment and options.
func TestDeployConnectsOnce(t *testing.T) {
	f := newFixture(t)
	digest := f.push("rc", "1.2.3")
	f.deployed("canary", "1.2.3", digest, time.Now())
	r := f.runner()
	o := DeployOptions{Options: f.options(), Cluster: deploy.ClusterOptions{Context: "other"}}
	if _, err := r.Deploy(context.Background(), "prod", o); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env, context string
		want         int
	}{
		{"prod", "other", 1},      // the deploy and its own status for the gate: --context is prod's
		{"canary", "prod-ctx", 1}, // the gate's and the canary retirement's: canary's own context
		{"prod", "prod-ctx", 0},
	} {
		if n := f.connected(c.env, c.context); n != c.want {
			t.Errorf("connected to %s with context %s %d times, want %d", c.env, c.context, n, c.want)
		}
	}
	if got := f.kube.status(t, "hello", "hello-canary"); got.Health != deploy.Missing {
		t.Errorf("canary is %s after prod runs its digest, want removed", got.Health)
	}
}

// TestDeployClusterUnreachable reports a cluster that cannot be connected
// to, before anything happens; a dry run does not need it.
func TestDeployClusterUnreachable(t *testing.T) {
	f := newFixture(t)
	f.push("dev", "1.2.3")
	f.refuse["dev"] = deploy.ErrNoContext
	r := f.runner()
	for _, run := range []func(context.Context, string, DeployOptions) (DeployResult, error){r.Deploy, r.Diff} {
		if _, err := run(context.Background(), "dev", DeployOptions{Options: f.options()}); !errors.Is(err, deploy.ErrNoContext) {
			t.Errorf("= %v, want ErrNoContext", err)
		}
	}
	if _, err := r.DryRun(context.Background(), "dev", DeployOptions{Options: f.options()}); err != nil {
		t.Errorf("DryRun = %v, want no cluster needed", err)
	}
	if n := f.connected("dev", "dev-ctx"); n != 1 {
		t.Errorf("connected %d times, want once: a failed connection fails the same way for the run", n)
	}
}

// status reads what the fake cluster runs as Deployment name in ns.
func (k *fakeKube) status(t *testing.T, ns, name string) deploy.EnvStatus {
	t.Helper()
	if _, err := k.cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{}); err != nil {
		return deploy.EnvStatus{Health: deploy.Missing}
	}
	return deploy.NewCluster(k.cs, "test").Status(context.Background(), ns, name, false)
}
