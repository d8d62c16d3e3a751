package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestNotifyConfig(t *testing.T) {
	const head = "apiVersion: slipway/v1\napp: hello\nregistries: {dev: registry.example.com/team}\nenvironments:\n  dev: {registry: dev}\n  prod: {registry: dev}\nnotify:\n"
	tests := []struct {
		name, notify string
		problem      string // "" when valid
	}{
		{"webhook", "  - webhook: {url: 'https://hooks.example.com/slipway', secret: env://HOOK_SECRET}", ""},
		{"webhook from a variable", "  - {name: ops, webhook: {url: env://OPS_HOOK}, events: [failed, rolledBack], environments: [prod]}", ""},
		{"slack", "  - slack: {url: env://SLACK_WEBHOOK_URL}", ""},
		{"github", "  - github: {repository: acme/hello}", ""},
		{"github enterprise", "  - github: {repository: acme/hello.go, token: env://GHE_TOKEN, api: 'https://ghe.example.com/api/v3'}", ""},
		{"gitlab", "  - gitlab: {project: group/sub/hello}", ""},
		{"gitlab by id", "  - gitlab: {project: '1234', api: 'https://gitlab.example.com/api/v4'}", ""},
		{"no kind", "  - {events: [failed]}", "notify[0]: a target needs one of webhook, slack, github or gitlab"},
		{"two kinds", "  - {slack: {url: env://S}, github: {repository: a/b}}", "notify[0]: a target is one kind, but this one has 2"},
		{"slack URL written out", "  - slack: {url: 'https://hooks.slack.com/services/T0/B0/XYZ'}", "notify[0].slack.url: give env://NAME, the variable holding the secret"},
		{"webhook secret written out", "  - webhook: {url: 'https://h.example.com', secret: hunter2}", "notify[0].webhook.secret: give env://NAME"},
		{"github token written out", "  - github: {repository: a/b, token: ghp_abc}", "notify[0].github.token: give env://NAME"},
		{"webhook credentials", "  - webhook: {url: 'https://bob:pw@h.example.com/x'}", "notify[0].webhook.url: the URL carries credentials"},
		{"webhook scheme", "  - webhook: {url: 'ftp://h.example.com/x'}", "the scheme must be https or http"},
		{"webhook not a URL", "  - webhook: {url: 'hooks'}", `"hooks" is not a URL`},
		{"webhook no url", "  - webhook: {secret: env://S}", `notify[0].webhook.url: missing required field "url"`},
		{"github repository", "  - github: {repository: hello}", `notify[0].github.repository: "hello" is not OWNER/NAME`},
		{"gitlab project", "  - gitlab: {project: '../x'}", `notify[0].gitlab.project: "../x" is neither a project ID nor a path`},
		{"api", "  - gitlab: {project: '1', api: 'gitlab.example.com'}", "notify[0].gitlab.api:"},
		{"event", "  - {slack: {url: env://S}, events: [failed, deployed]}", `notify[0].events[1]: "deployed" is not valid`},
		{"environment", "  - {slack: {url: env://S}, environments: [staging]}", `notify[0].environments[0]: unknown environment "staging"`},
		{"name", "  - {name: 'Ops Team', slack: {url: env://S}}", `notify[0].name: "Ops Team" is not a valid name`},
		{"same name", "  - {name: ops, slack: {url: env://S}}\n  - {name: ops, slack: {url: env://T}}", `notify[1].name: "ops" names two targets`},
		{"unknown field", "  - slack: {url: env://S, channel: '#ops'}", `unknown field "channel"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProject(ProjectFile, []byte(head+tt.notify+"\n"))
			if tt.problem == "" {
				if err != nil {
					t.Fatalf("unexpected problems: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.problem) {
				t.Fatalf("err = %v, want %q", err, tt.problem)
			}
			if !strings.HasPrefix(err.Error(), ProjectFile+":8:") && !strings.HasPrefix(err.Error(), ProjectFile+":9:") {
				t.Errorf("err = %v, want it at its line in %s", err, ProjectFile)
			}
		})
	}
}

// TestNotifyDefaults fills the tokens and API addresses, and Secrets
// lists the variables a target reads.
func TestNotifyDefaults(t *testing.T) {
	const y = "apiVersion: slipway/v1\napp: hello\nnotify:\n  - github: {repository: a/b}\n  - gitlab: {project: g/p}\n  - webhook: {url: env://HOOK_URL, secret: env://HOOK_KEY}\n  - webhook: {url: 'https://h.example.com'}\n"
	p, err := ParseProject(ProjectFile, []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	n := p.Notify
	if n[0].GitHub.Token != DefaultGitHubToken || n[0].GitHub.API != DefaultGitHubAPI || n[1].GitLab.Token != DefaultGitLabToken || n[1].GitLab.API != DefaultGitLabAPI {
		t.Errorf("defaults %+v %+v", n[0].GitHub, n[1].GitLab)
	}
	want := [][]string{{"GITHUB_TOKEN"}, {"GITLAB_TOKEN"}, {"HOOK_URL", "HOOK_KEY"}, nil}
	for i, w := range want {
		if got := n[i].Secrets(); !reflect.DeepEqual(got, w) {
			t.Errorf("target %d reads %q, want %q", i, got, w)
		}
	}
	if !n[0].Wants(EventFailed, "prod") || n[0].Label() != "github" {
		t.Errorf("target 0: wants failed in prod %v, label %q", n[0].Wants(EventFailed, "prod"), n[0].Label())
	}
}
