package flow

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/gitops/bootstrap"
	"github.com/slipwayhq/slipway/internal/projfs"
)

func TestGitOpsBootstrap(t *testing.T) {
	dir := t.TempDir()
	p := &config.Project{App: "hello", Dir: dir}
	p.Environments = config.Environments{
		{Name: "dev", Namespace: "hello-dev"},
		{Name: "prod", Namespace: "hello", GitOps: &config.GitOps{Repo: "ssh://deploy@git.example.test/team/env.git", Branch: "env/prod", Path: ".", Engine: "flux"}},
		{Name: "argo", Namespace: "hello", GitOps: &config.GitOps{Repo: "https://git.example.test/team/env.git", Branch: "main", Path: "envs/argo", Engine: "argocd"}},
		{Name: "pull", Namespace: "hello", GitOps: &config.GitOps{Repo: "https://git.example.test/team/env.git", Branch: "main", Path: "envs/pull", Engine: "none"}},
	}
	tests := []struct {
		name string
		env  string
		o    GitOpsBootstrapOptions
		want []string
		file string // written, relative to dir
		err  error
	}{
		{name: "flux", env: "prod", want: []string{"kind: GitRepository", "url: ssh://git@git.example.test/team/env.git", "branch: env/prod", "path: ./\n"}},
		{name: "argocd in a namespace", env: "argo", o: GitOpsBootstrapOptions{Namespace: "gitops"},
			want: []string{"kind: Application", "namespace: gitops", "path: envs/argo"}},
		{name: "to a file", env: "prod", o: GitOpsBootstrapOptions{Out: "deploy/flux.yaml"}, file: "deploy/flux.yaml", want: []string{"kind: Kustomization"}},
		{name: "to an absolute file inside", env: "argo", o: GitOpsBootstrapOptions{Out: filepath.Join(dir, "argo.yaml")}, file: "argo.yaml"},
		{name: "outside the project", env: "prod", o: GitOpsBootstrapOptions{Out: "../flux.yaml"}, err: projfs.ErrOutside},
		{name: "absolute outside", env: "prod", o: GitOpsBootstrapOptions{Out: filepath.Join(t.TempDir(), "flux.yaml")}, err: projfs.ErrOutside},
		{name: "engine none", env: "pull", err: bootstrap.ErrNoEngine},
		{name: "direct environment", env: "dev", err: config.ErrInvalid},
		{name: "unknown environment", env: "nope", err: config.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := NewRunner(p, Factory{}).GitOpsBootstrap(tt.env, tt.o)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || Classify(err) != ClassUsage {
					t.Fatalf("error = %v; want %v, a usage error", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(res.YAML, w) {
					t.Errorf("YAML lacks %q:\n%s", w, res.YAML)
				}
			}
			if strings.Contains(res.YAML, "deploy@") {
				t.Errorf("YAML shows the URL's user:\n%s", res.YAML)
			}
			if res.File != tt.file {
				t.Errorf("File = %q; want %q", res.File, tt.file)
			}
			if tt.file != "" {
				b, err := os.ReadFile(filepath.Join(dir, tt.file))
				if err != nil || string(b) != res.YAML {
					t.Errorf("the file holds %q, %v; want the YAML", b, err)
				}
			}
		})
	}
}
