package config

import (
	"strings"
	"testing"
)

func TestGitOpsConfig(t *testing.T) {
	const head = "apiVersion: slipway/v1\napp: hello\nregistries: {dev: registry.example.com/team}\nenvironments:\n  prod:\n    registry: dev\n    gitops: "
	tests := []struct {
		name, gitops string
		problem      string // "" when valid
	}{
		{"directory per environment", "{repo: https://git.example.com/team/env.git, branch: main, path: envs/prod, engine: flux}", ""},
		{"branch per environment", "{repo: https://git.example.com/team/env.git, branch: env/prod, path: ., engine: argocd}", ""},
		{"scp-like ssh", "{repo: 'git@git.example.com:team/env.git', engine: none, object: flux-system/prod}", ""},
		{"ssh URL with a user", "{repo: 'ssh://git@git.example.com/team/env.git'}", ""},
		{"defaults", "{repo: https://git.example.com/env.git}", ""},
		{"no repo", "{branch: main}", "environments.prod.gitops.repo"},
		{"empty repo", "{repo: ''}", "the repository URL is empty"},
		{"user and password", "{repo: 'https://bob:hunter2@git.example.com/env.git'}", "holds credentials"},
		{"token as user", "{repo: 'https://ghp_secret@git.example.com/env.git'}", "holds credentials"},
		{"scp-like with password", "{repo: 'bob:hunter2@git.example.com:env.git'}", "holds credentials"},
		{"ssh with password", "{repo: 'ssh://bob:hunter2@git.example.com/env.git'}", "holds credentials"},
		{"git protocol", "{repo: 'git://git.example.com/env.git'}", "is not one of https"},
		{"branch with ..", "{repo: https://g.example.com/e.git, branch: 'a..b'}", "environments.prod.gitops.branch"},
		{"branch with space", "{repo: https://g.example.com/e.git, branch: 'a b'}", "not a valid branch name"},
		{"branch ending .lock", "{repo: https://g.example.com/e.git, branch: 'env/prod.lock'}", "not a valid branch name"},
		{"branch starting -", "{repo: https://g.example.com/e.git, branch: '-x'}", "not a valid branch name"},
		{"absolute path", "{repo: https://g.example.com/e.git, path: /envs/prod}", "environments.prod.gitops.path"},
		{"path leaving", "{repo: https://g.example.com/e.git, path: ../prod}", "leaves the repository"},
		{"path not clean", "{repo: https://g.example.com/e.git, path: envs//prod/}", "is not clean"},
		{"path in .git", "{repo: https://g.example.com/e.git, path: .git/hooks}", "names .git"},
		{"unknown engine", "{repo: https://g.example.com/e.git, engine: fluxcd}", "did you mean \"flux\""},
		{"bad object", "{repo: https://g.example.com/e.git, object: 'Prod_App'}", "environments.prod.gitops.object"},
		{"unknown field", "{repo: https://g.example.com/e.git, interval: 1m}", "interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProject(ProjectFile, []byte(head+tt.gitops+"\n"))
			if tt.problem == "" {
				if err != nil {
					t.Fatalf("unexpected problems: %v", err)
				}
				g := p.Environments[0].GitOps
				if g == nil || g.Branch == "" || g.Path == "" || g.Engine == "" {
					t.Errorf("gitops = %+v, want defaults filled in", g)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.problem) {
				t.Fatalf("err = %v, want a problem with %q", err, tt.problem)
			}
			for _, secret := range []string{"hunter2", "ghp_secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the problem shows the credential %q: %v", secret, err)
				}
			}
			if !strings.Contains(err.Error(), "slipway.yaml:") {
				t.Errorf("the problem names no file:line: %v", err)
			}
		})
	}
}

// TestGitOpsKustomizationApp: an app named kustomization would write the
// environment's kustomization.yaml; a GitOps environment refuses it, a
// direct one does not care.
func TestGitOpsKustomizationApp(t *testing.T) {
	const doc = "apiVersion: slipway/v1\napp: kustomization\nregistries: {dev: registry.example.com/team}\nenvironments:\n  dev: {registry: dev}\n"
	if _, err := ParseProject(ProjectFile, []byte(doc)); err != nil {
		t.Fatalf("a direct environment: %v", err)
	}
	_, err := ParseProject(ProjectFile, []byte(doc+"  prod:\n    registry: dev\n    gitops: {repo: https://git.example.com/env.git}\n"))
	if err == nil || !strings.Contains(err.Error(), "environments.prod.gitops") || !strings.Contains(err.Error(), "kustomization.yaml") {
		t.Errorf("err = %v, want a problem at environments.prod.gitops naming kustomization.yaml", err)
	}
}
