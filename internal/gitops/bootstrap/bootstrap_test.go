package bootstrap

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// goldens are the environments of both layouts, a directory per
// environment on one branch and a branch per environment, for each engine
// and each kind of URL.
var goldens = []struct {
	name string
	in   Input
}{
	{"flux-directory", Input{Env: "prod", Namespace: "hello", GitOps: config.GitOps{
		Repo: "https://git.example.com/team/environments.git", Branch: "main", Path: "envs/prod", Engine: "flux"}}},
	{"flux-branch", Input{Env: "prod", Namespace: "hello", GitOps: config.GitOps{
		Repo: "git@git.example.com:team/environments.git", Branch: "env/prod", Path: ".", Engine: "flux"}}},
	{"flux-object", Input{Env: "dev", Namespace: "hello-dev", GitOps: config.GitOps{
		Repo: "http://127.0.0.1:8080/env.git", Branch: "main", Path: "envs/dev", Engine: "flux", Object: "team/dev-apps"}}},
	{"argocd-directory", Input{Env: "prod", Namespace: "hello", GitOps: config.GitOps{
		Repo: "https://git.example.com/team/environments.git", Branch: "main", Path: "envs/prod", Engine: "argocd"}}},
	{"argocd-branch", Input{Env: "prod", Namespace: "hello", GitOps: config.GitOps{
		Repo: "ssh://git@git.example.com:2222/team/environments.git", Branch: "env/prod", Path: ".", Engine: "argocd"},
		ObjectNamespace: "gitops"}},
}

func TestRenderGolden(t *testing.T) {
	for _, tt := range goldens {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, filepath.Join("testdata", tt.name+".golden"), got)
		})
	}
}

func TestRender(t *testing.T) {
	base := Input{Env: "prod", Namespace: "hello", GitOps: config.GitOps{
		Repo: "https://git.example.com/team/env.git", Branch: "main", Path: "envs/prod", Engine: "flux"}}
	with := func(f func(*Input)) Input { in := base; f(&in); return in }
	tests := []struct {
		name    string
		in      Input
		want    []string // substrings of the output
		notWant []string
		err     error
		errHas  string
	}{
		{name: "flux defaults", in: base,
			want: []string{"name: prod\n  namespace: flux-system\n", "path: ./envs/prod\n", "interval: 1m\n", "interval: 10m\n",
				"timeout: 5m\n", "prune: true\n", "wait: true\n", "secretRef:\n    name: prod-git\n", "--feature-gates=CancelHealthCheckOnNewRevision=true"},
			notWant: []string{"targetNamespace"}},
		{name: "flux namespace", in: with(func(in *Input) { in.ObjectNamespace = "gitops" }),
			want: []string{"namespace: gitops\n", "flux create secret git prod-git -n gitops"}},
		{name: "object names the name", in: with(func(in *Input) { in.GitOps.Object = "prod-apps" }),
			want: []string{"name: prod-apps\n  namespace: flux-system\n", "name: prod-apps-git\n"}},
		{name: "object in another namespace than asked", in: with(func(in *Input) { in.GitOps.Object = "team/prod"; in.ObjectNamespace = "gitops" }),
			err: config.ErrInvalid, errHas: "the namespace asked for"},
		{name: "root path", in: with(func(in *Input) { in.GitOps.Path = "." }), want: []string{"path: ./\n"}},
		{name: "ssh user is git", in: with(func(in *Input) { in.GitOps.Repo = "ssh://deploy@git.example.com/team/env" }),
			want: []string{"url: ssh://git@git.example.com/team/env\n"}, notWant: []string{"deploy@"}},
		// Slipway pushes with credentials, so Flux fetches with them too:
		// a server that wants them for a push mostly wants them to fetch.
		{name: "http gets the secret too", in: with(func(in *Input) { in.GitOps.Repo = "http://127.0.0.1:3000/env.git" }),
			want: []string{"secretRef:\n    name: prod-git\n", "plain http sends them in clear"}},
		{name: "user info never printed", in: with(func(in *Input) { in.GitOps.Repo = "https://bob:hunter2@git.example.com/team/env.git" }),
			want: []string{"url: https://git.example.com/team/env.git\n"}, notWant: []string{"hunter2", "bob"}},
		{name: "argocd", in: with(func(in *Input) { in.GitOps.Engine = "argocd" }),
			want: []string{"namespace: argocd\n", "repoURL: https://git.example.com/team/env.git\n", "targetRevision: main\n",
				"path: envs/prod\n", "server: https://kubernetes.default.svc\n", "namespace: hello\n", "prune: true\n", "selfHeal: true\n"}},
		{name: "none", in: with(func(in *Input) { in.GitOps.Engine = "none" }), err: ErrNoEngine, errHas: "gitops.engine to flux or argocd"},
		{name: "file URL", in: with(func(in *Input) { in.GitOps.Repo = "file:///srv/env.git" }), err: config.ErrInvalid, errHas: "https or ssh"},
		{name: "local path", in: with(func(in *Input) { in.GitOps.Repo = "/srv/env.git" }), err: config.ErrInvalid, errHas: "https://HOST/PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Render(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("error = %v, want %v saying %q", err, tt.err, tt.errHas)
				}
				if errors.Is(err, ErrNoEngine) != (tt.err == ErrNoEngine) || !errors.Is(err, config.ErrInvalid) {
					t.Errorf("error %v: wrong sentinel", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(string(got), w) {
					t.Errorf("output holds %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestEngineURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://git.example.com/team/env.git", "https://git.example.com/team/env.git"},
		{"https://user@git.example.com/team/env.git", "https://git.example.com/team/env.git"},
		{"http://127.0.0.1:3000/env.git", "http://127.0.0.1:3000/env.git"},
		{"ssh://git.example.com/team/env", "ssh://git@git.example.com/team/env"},
		{"ssh://git@git.example.com:2222/team/env", "ssh://git@git.example.com:2222/team/env"},
		{"git@github.com:team/env.git", "ssh://git@github.com/team/env.git"},
		{"github.com:team/env.git", "ssh://git@github.com/team/env.git"},
		{"file:///srv/env.git", ""},
		{"/srv/env.git", ""},
		{"./env", ""},
		{"git://git.example.com/env", ""},
	}
	for _, tt := range tests {
		got, err := EngineURL(tt.in)
		if tt.want == "" {
			if err == nil || !errors.Is(err, config.ErrInvalid) {
				t.Errorf("EngineURL(%q) = %q, %v; want ErrInvalid", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("EngineURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
