package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
)

// doctorProject is a project tagged v1.2.3 at HEAD whose environment dev
// pulls from the registry at host.
func doctorProject(t *testing.T, host string, pullSecret bool) *config.Project {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`apiVersion: slipway/v1
app: hello
registries:
  local: {url: %s/team, insecure: true, pullSecret: %t}
environments:
  dev: {registry: local, namespace: hello-dev}
`, host, pullSecret)
	if err := os.WriteFile(filepath.Join(dir, config.ProjectFile), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Add(config.ProjectFile); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Test", Email: "test@example.com", When: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	h, err := wt.Commit("feat: hello", &git.CommitOptions{Author: sig})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateTag("v1.2.3", h, nil); err != nil {
		t.Fatal(err)
	}
	p, err := config.LoadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// unreachableKubeconfig writes a kubeconfig whose context dev points at a
// port nothing listens on.
func unreachableKubeconfig(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	s.Close()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	data := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: dev, cluster: {server: %q}}]
users: [{name: dev, user: {token: secret}}]
contexts: [{name: dev, context: {cluster: dev, user: dev}}]
current-context: dev
`, s.URL)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDoctor(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("SLIPWAY_REGISTRY_LOCAL_USERNAME", "")
	t.Setenv("SLIPWAY_REGISTRY_LOCAL_PASSWORD", "")

	open := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer open.Close()
	openHost := strings.TrimPrefix(open.URL, "http://")
	ref, err := name.NewTag(openHost+"/team/hello:1.2.3", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	empty := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer empty.Close()
	locked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer locked.Close()
	kubeconfig := unreachableKubeconfig(t)

	tests := []struct {
		name       string
		registry   string
		pullSecret bool
		creds      bool
		cluster    deploy.ClusterOptions
		want       map[string]deploy.CheckStatus
		hints      map[string]string
	}{
		{
			name: "no kubeconfig", registry: open.URL,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig, Context: "prod"},
			want:    map[string]deploy.CheckStatus{CheckKubeconfig: deploy.CheckFail, CheckPull: deploy.CheckOK, CheckPullSecret: deploy.CheckOK},
		},
		{
			name: "unreachable cluster", registry: open.URL,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig},
			want: map[string]deploy.CheckStatus{
				CheckKubeconfig: deploy.CheckOK, deploy.CheckReachability: deploy.CheckFail, deploy.CheckRBAC: deploy.CheckWarn,
				deploy.CheckClientCert: deploy.CheckOK, deploy.CheckServerCert: deploy.CheckOK,
				CheckPull: deploy.CheckOK, CheckPullSecret: deploy.CheckOK,
			},
		},
		{
			name: "not pushed", registry: empty.URL,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig, Context: "prod"},
			want:    map[string]deploy.CheckStatus{CheckKubeconfig: deploy.CheckFail, CheckPull: deploy.CheckWarn, CheckPullSecret: deploy.CheckOK},
			hints:   map[string]string{CheckPull: "slipway push dev"},
		},
		{
			name: "registry wants a login", registry: locked.URL,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig, Context: "prod"},
			want:    map[string]deploy.CheckStatus{CheckKubeconfig: deploy.CheckFail, CheckPull: deploy.CheckFail, CheckPullSecret: deploy.CheckOK},
			hints:   map[string]string{CheckPull: "docker login"},
		},
		{
			name: "pull secret without credentials", registry: open.URL, pullSecret: true,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig, Context: "prod"},
			want:    map[string]deploy.CheckStatus{CheckKubeconfig: deploy.CheckFail, CheckPull: deploy.CheckOK, CheckPullSecret: deploy.CheckFail},
			hints:   map[string]string{CheckPullSecret: "SLIPWAY_REGISTRY_LOCAL_USERNAME and SLIPWAY_REGISTRY_LOCAL_PASSWORD"},
		},
		{
			name: "pull secret", registry: open.URL, pullSecret: true, creds: true,
			cluster: deploy.ClusterOptions{Kubeconfig: kubeconfig, Context: "prod"},
			want:    map[string]deploy.CheckStatus{CheckKubeconfig: deploy.CheckFail, CheckPull: deploy.CheckOK, CheckPullSecret: deploy.CheckOK},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.creds {
				t.Setenv("SLIPWAY_REGISTRY_LOCAL_USERNAME", "puller")
				t.Setenv("SLIPWAY_REGISTRY_LOCAL_PASSWORD", "hunter2")
			}
			p := doctorProject(t, strings.TrimPrefix(tt.registry, "http://"), tt.pullSecret)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			r, err := Doctor(ctx, p, "dev", DoctorOptions{Cluster: tt.cluster})
			if err != nil {
				t.Fatal(err)
			}
			if r.Env != "dev" {
				t.Errorf("Env = %q", r.Env)
			}
			got := map[string]deploy.CheckStatus{}
			failed := false
			for _, c := range r.Checks {
				got[c.Name] = c.Status
				failed = failed || c.Status == deploy.CheckFail
				if h := tt.hints[c.Name]; !strings.Contains(c.Hint, h) {
					t.Errorf("%s hint = %q; want it to contain %q", c.Name, c.Hint, h)
				}
				if c.Status != deploy.CheckOK && c.Detail == "" {
					t.Errorf("%s: %s without detail", c.Name, c.Status)
				}
				if strings.Contains(c.Detail+c.Hint, "hunter2") {
					t.Errorf("%s shows the password: %+v", c.Name, c)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("checks:\n%+v\nwant statuses %v", r.Checks, tt.want)
			}
			if r.Failed() != failed {
				t.Errorf("Failed() = %v; want %v", r.Failed(), failed)
			}
		})
	}
}

func TestDoctorUnknownEnvironment(t *testing.T) {
	p := &config.Project{App: "hello"}
	_, err := Doctor(context.Background(), p, "nope", DoctorOptions{})
	if !errors.Is(err, config.ErrInvalid) {
		t.Errorf("Doctor(nope) = %v; want ErrInvalid", err)
	}
}

func TestDoctorReportFailed(t *testing.T) {
	tests := []struct {
		statuses []deploy.CheckStatus
		want     bool
	}{
		{nil, false},
		{[]deploy.CheckStatus{deploy.CheckOK, deploy.CheckWarn}, false},
		{[]deploy.CheckStatus{deploy.CheckOK, deploy.CheckFail, deploy.CheckWarn}, true},
	}
	for _, tt := range tests {
		var r DoctorReport
		for _, s := range tt.statuses {
			r.Checks = append(r.Checks, deploy.Check{Name: "x", Status: s})
		}
		if r.Failed() != tt.want {
			t.Errorf("Failed(%v) = %v; want %v", tt.statuses, r.Failed(), tt.want)
		}
	}
}
