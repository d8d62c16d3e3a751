package flow

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/sign"
)

// TestPullSecret makes the .dockerconfigjson of a registry's pull secret
// from its variables, only when the registry asks for one.
func TestPullSecret(t *testing.T) {
	tests := []struct {
		name     string
		asks     bool
		user, pw string
		want     string // the auth field; "" for no secret
		wantErr  bool
	}{
		{name: "not asked", user: "u", pw: "p"},
		{name: "asked", asks: true, user: "u", pw: "p", want: "dTpw"},
		{name: "asked without a password", asks: true, user: "u", wantErr: true},
		{name: "asked without variables", asks: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SLIPWAY_REGISTRY_RC_USERNAME", tt.user)
			t.Setenv("SLIPWAY_REGISTRY_RC_PASSWORD", tt.pw)
			b, err := pullSecret(config.Registry{Name: "rc", PullSecret: tt.asks}, "r.example.com")
			if (err != nil) != tt.wantErr {
				t.Fatalf("pullSecret = %v, want an error: %t", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "set SLIPWAY_REGISTRY_RC_USERNAME and SLIPWAY_REGISTRY_RC_PASSWORD") {
					t.Errorf("pullSecret = %v, want ErrInvalid naming the variables", err)
				}
				return
			}
			if tt.want == "" {
				if b != nil {
					t.Errorf("pullSecret = %s, want none", b)
				}
				return
			}
			var cfg struct {
				Auths map[string]struct{ Username, Password, Auth string }
			}
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			if a := cfg.Auths["r.example.com"]; a.Username != tt.user || a.Password != tt.pw || a.Auth != tt.want {
				t.Errorf("auth = %+v", a)
			}
		})
	}
}

// TestActor names who runs Slipway from the first variable set.
func TestActor(t *testing.T) {
	vars := []string{"SLIPWAY_ACTOR", "BUILD_USER_ID", "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "DRONE_COMMIT_AUTHOR", "USER", "LOGNAME"}
	for i, v := range vars {
		t.Run(v, func(t *testing.T) {
			for _, u := range vars {
				t.Setenv(u, "")
			}
			for _, u := range vars[i:] {
				t.Setenv(u, "by-"+u)
			}
			if got := Actor(); got != "by-"+v {
				t.Errorf("Actor = %s, want by-%s", got, v)
			}
		})
	}
}

// TestReadPod reads pod.yml when there is one, and makes do without.
func TestReadPod(t *testing.T) {
	p := &config.Project{Dir: t.TempDir(), Deploy: config.Deploy{Pod: "pod.yml"}}
	if pod, err := readPod(p); err != nil || len(pod.Spec.Containers) != 0 {
		t.Errorf("readPod without a file = %+v, %v", pod, err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, "pod.yml"), []byte(podYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if pod, err := readPod(p); err != nil || len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].ReadinessProbe == nil {
		t.Errorf("readPod = %+v, %v; want the probe", pod, err)
	}
	if err := os.WriteFile(filepath.Join(p.Dir, "pod.yml"), []byte("spec: {containerz: []}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPod(p); err == nil {
		t.Error("readPod of an unknown field succeeded")
	}
}

// TestDeployRefusesRoot shows in a dry run what a deploy refuses (an
// image that runs as root under runAsNonRoot), and refuses it at deploy
// before anything is applied.
func TestDeployRefusesRoot(t *testing.T) {
	f := newFixture(t)
	f.pushAs("dev", "1.2.3", "")
	r := f.runner()
	res, err := r.DryRun(context.Background(), "dev", DeployOptions{Options: f.options()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "runs as root") {
		t.Errorf("dry run warnings %q do not say what deploy refuses", res.Warnings)
	}
	if _, err := r.Deploy(context.Background(), "dev", DeployOptions{Options: f.options()}); !errors.Is(err, deploy.ErrWouldNotStart) {
		t.Errorf("Deploy = %v, want ErrWouldNotStart", err)
	}
	if st := f.kube.status(t, "hello-dev", "hello"); st.Health != deploy.Missing {
		t.Errorf("dev is %s after a refusal", st.Health)
	}
}

// TestDeployRefusesUnverified refuses, in every mode, an image that
// fails the environment's verify section, before a cluster is opened.
func TestDeployRefusesUnverified(t *testing.T) {
	f := newFixture(t)
	kp, err := sign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(f.p.Dir, "cosign.pub"), kp.Public, 0o644); err != nil {
		t.Fatal(err)
	}
	f.p.Environments[0].Verify = &config.Verify{Key: "cosign.pub"}
	f.push("dev", "1.2.3")
	r := f.runner()
	for _, run := range []func(context.Context, string, DeployOptions) (DeployResult, error){r.Deploy, r.DryRun, r.Diff} {
		if _, err := run(context.Background(), "dev", DeployOptions{Options: f.options()}); !errors.Is(err, sign.ErrUnverified) {
			t.Errorf("= %v, want ErrUnverified", err)
		}
	}
	if len(f.connects) != 0 {
		t.Errorf("connected %v before verifying", f.connects)
	}
	st, err := r.Status(context.Background(), []string{"dev"}, StatusOptions{})
	if err != nil || st[0].Verify != nil {
		t.Errorf("Status = %+v, %v: nothing runs, so nothing is verified", st, err)
	}
}
