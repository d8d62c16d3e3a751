package fleet

import (
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/slipwayhq/slipway/internal/deploy"
)

// rowCase is a listing and the state its first row has.
type rowCase struct {
	name  string
	deps  []appsv1.Deployment
	rss   []appsv1.ReplicaSet
	want  State
	check func(t *testing.T, r Row)
}

func rowCases() []rowCase {
	failedFirst := app{name: "pay", env: "prod", ns: "pay", version: "1.2.0", by: "ann", revision: 3}.deployment()
	unmanaged := app{name: "other", env: "prod", ns: "x", version: "1"}.deployment()
	delete(unmanaged.Labels, deploy.LabelManagedBy)
	return []rowCase{
		{name: "healthy", deps: []appsv1.Deployment{app{name: "web", env: "prod", ns: "web", version: "1.0.0", by: "ann", reason: "release", team: "shop"}.deployment()},
			want: Healthy, check: func(t *testing.T, r Row) {
				if r.App != "web" || r.Env != "prod" || r.Version != "1.0.0" || r.DeployedBy != "ann" || r.Reason != "release" || r.Commit == "" || r.Labels["team"] != "shop" {
					t.Errorf("row = %+v", r)
				}
			}},
		{name: "degraded", deps: []appsv1.Deployment{app{name: "web", env: "prod", ns: "web", version: "1", degraded: true}.deployment()}, want: Failed},
		{name: "rolling out", deps: []appsv1.Deployment{app{name: "web", env: "prod", ns: "web", version: "1", rolling: true}.deployment()}, want: InProgress},
		{name: "image changed behind Slipway", deps: []appsv1.Deployment{app{name: "web", env: "prod", ns: "web", version: "1", image: "evil/web:latest"}.deployment()},
			want: Drifted, check: func(t *testing.T, r Row) {
				if len(r.Drift) != 1 || !strings.Contains(r.Drift[0], "evil/web:latest") {
					t.Errorf("drift = %q", r.Drift)
				}
			}},
		{name: "failed deploy rolled back by Slipway", deps: []appsv1.Deployment{failedFirst},
			rss: []appsv1.ReplicaSet{
				replicaSet(failedFirst, 2, "1.3.0", "bob", "new checkout", now.Add(-30*time.Minute)),
				replicaSet(failedFirst, 3, "1.2.0", "ann", "", now.Add(-time.Hour)),
				replicaSet(failedFirst, 1, "1.1.0", "ann", "", now.Add(-48*time.Hour)),
			},
			want: Failed, check: func(t *testing.T, r Row) {
				if r.Last == nil || r.Last.Outcome != "failed" || r.Last.Version != "1.3.0" || r.Last.DeployedBy != "bob" || r.Last.Reason != "new checkout" {
					t.Errorf("last = %+v", r.Last)
				}
			}},
		{name: "slipway rollback", deps: []appsv1.Deployment{app{name: "web", env: "prod", ns: "web", version: "1.0.0", by: "cy",
			reason: "bad release", cause: "slipway rollback prod 1.0.0"}.deployment()}, want: RolledBack,
			check: func(t *testing.T, r Row) {
				if r.Last == nil || r.Last.Outcome != "rolled-back" || r.Last.DeployedBy != "cy" {
					t.Errorf("last = %+v", r.Last)
				}
			}},
		{name: "canary ahead", deps: []appsv1.Deployment{
			app{name: "web", env: "canary", canaryOf: "prod", ns: "web", version: "1.1.0"}.deployment(),
			app{name: "web", env: "prod", ns: "web", version: "1.0.0"}.deployment()},
			want: Canary, check: func(t *testing.T, r Row) {
				if r.CanaryOf != "prod" || r.TargetVersion != "1.0.0" || !r.Ahead() || r.Deployment != "web-canary" {
					t.Errorf("canary = %+v", r)
				}
			}},
		{name: "not Slipway's", deps: []appsv1.Deployment{unmanaged}, want: ""},
	}
}

func TestRows(t *testing.T) {
	for _, tt := range rowCases() {
		t.Run(tt.name, func(t *testing.T) {
			rows := Rows("prod-eu", tt.deps, tt.rss)
			if tt.want == "" {
				if len(rows) != 0 {
					t.Fatalf("rows = %+v, want none", rows)
				}
				return
			}
			r := rows[0]
			if r.State != tt.want || r.Context != "prod-eu" {
				t.Errorf("state = %s in %s, want %s in prod-eu", r.State, r.Context, tt.want)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestRowsOrderAppsThenEnvironmentsAsAReleaseTravels(t *testing.T) {
	var deps []appsv1.Deployment
	for _, a := range []app{{name: "b", env: "prod"}, {name: "a", env: "prod"}, {name: "a", env: "dev"},
		{name: "a", env: "canary", canaryOf: "prod"}, {name: "a", env: "showcase"}} {
		a.ns, a.version = a.name, "1"
		deps = append(deps, a.deployment())
	}
	var got []string
	for _, r := range Rows("c", deps, nil) {
		got = append(got, r.App+"/"+r.Env)
	}
	if want := []string{"a/dev", "a/showcase", "a/canary", "a/prod", "b/prod"}; !slices.Equal(got, want) {
		t.Errorf("order = %q, want %q", got, want)
	}
}

func TestSelect(t *testing.T) {
	rows := []Row{
		{App: "web", EnvStatus: deploy.EnvStatus{Env: "prod"}, State: Healthy, Labels: map[string]string{"team": "shop"}},
		{App: "web", EnvStatus: deploy.EnvStatus{Env: "dev", Drift: []string{"x"}}, State: Drifted},
		{App: "pay", EnvStatus: deploy.EnvStatus{Env: "prod"}, State: Failed},
		{App: "pay", EnvStatus: deploy.EnvStatus{Env: "dev"}, State: RolledBack},
	}
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all", Filter{}, []string{"web/prod", "web/dev", "pay/prod", "pay/dev"}},
		{"app", Filter{Apps: []string{"pay"}}, []string{"pay/prod", "pay/dev"}},
		{"env", Filter{Envs: []string{"prod"}}, []string{"web/prod", "pay/prod"}},
		{"failed", Filter{Failed: true}, []string{"pay/prod", "pay/dev"}},
		{"drift", Filter{Drift: true}, []string{"web/dev"}},
		{"failed in prod", Filter{Failed: true, Envs: []string{"prod"}}, []string{"pay/prod"}},
		{"label", Filter{Labels: []string{"team=shop"}}, []string{"web/prod"}},
		{"label key", Filter{Labels: []string{"team"}}, []string{"web/prod"}},
		{"label of another value", Filter{Labels: []string{"team=pay"}}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []string{}
			for _, r := range Select(rows, tt.f) {
				got = append(got, r.App+"/"+r.Env)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Select = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestArgoApp reads the Application an Argo CD tracking ID names.
func TestArgoApp(t *testing.T) {
	for id, want := range map[string]string{
		"hello-prod:apps/Deployment:hello/hello":      "argocd/hello-prod",
		"team_hello-prod:apps/Deployment:hello/hello": "team/hello-prod",
		"":                        "",
		"no-colon":                "",
		":apps/Deployment:ns/n":   "",
		"_x:apps/Deployment:ns/n": "argocd/_x",
	} {
		if got := argoApp(id); got != want {
			t.Errorf("argoApp(%q) = %q, want %q", id, got, want)
		}
	}
}
