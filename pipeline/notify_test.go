package pipeline

import (
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
)

// notifyCase is the gitops test project with notify targets: Slack for
// canary and prod, GitHub commit statuses everywhere (GITHUB_TOKEN by
// default), a signed webhook for dev.
func notifyCase(t *testing.T) Input {
	in := gitopsCase(t)
	proj := *in.project
	proj.Notify = []config.Notify{
		{Slack: &config.SlackNotify{URL: "env://SLACK_WEBHOOK_URL"}, Events: []string{"failed", "rolledBack"}, Environments: []string{"prod", "canary"}},
		{GitHub: &config.GitHubNotify{Repository: "acme/shop", Token: config.DefaultGitHubToken, API: config.DefaultGitHubAPI}},
		{Name: "audit", Webhook: &config.WebhookNotify{URL: "https://audit.example.com/in", Secret: "env://AUDIT_HMAC"}, Environments: []string{"dev"}},
	}
	in.project = &proj
	return in
}

// TestNotifyCredentials checks that each notify secret reaches the deploy
// steps of the environments its target hears of, and no other step; that
// the header lists it; and that on GitHub the default GITHUB_TOKEN is the
// workflow's own token, with statuses: write on the deploy jobs only.
func TestNotifyCredentials(t *testing.T) {
	in := notifyCase(t)
	for _, c := range []struct {
		target Target
		slack  string // how a deploy step gets the Slack URL
		header []string
	}{
		{GitHub, "SLACK_WEBHOOK_URL: ${{ secrets.SLACK_WEBHOOK_URL }}", []string{
			"#   SLACK_WEBHOOK_URL: a secret of notify target slack (slipway.yaml notify), for deploy canary, deploy prod",
			"#   AUDIT_HMAC: a secret of notify target audit (slipway.yaml notify), for deploy dev",
			"# Commit statuses (slipway.yaml notify github) are set with the workflow's own"}},
		{GitLab, "", []string{"SLACK_WEBHOOK_URL: a secret of notify target slack (slipway.yaml notify), for deploy canary, deploy prod",
			"GITHUB_TOKEN: a secret of notify target github (slipway.yaml notify), for deploy canary, deploy dev, deploy preview, deploy prod, deploy staging"}},
		{Drone, "SLACK_WEBHOOK_URL:\n        from_secret: SLACK_WEBHOOK_URL", []string{"#   SLACK_WEBHOOK_URL: a secret of notify target slack"}},
		{Jenkinsfile, "string(credentialsId: 'SLACK_WEBHOOK_URL', variable: 'SLACK_WEBHOOK_URL')", []string{"//   SLACK_WEBHOOK_URL (secret text): SLACK_WEBHOOK_URL; a secret of notify target slack"}},
	} {
		t.Run(string(c.target), func(t *testing.T) {
			text := generateWithHeader(t, c.target, in, c.header)
			body := text[strings.Index(text, "\n"+firstCode(c.target)):]
			if c.slack != "" {
				if n := strings.Count(body, c.slack); n != 2 {
					t.Errorf("%q appears %d times, want for deploy canary and deploy prod:\n%s", c.slack, n, body)
				}
			}
			if c.target != GitHub {
				return
			}
			if n := strings.Count(body, "GITHUB_TOKEN: ${{ github.token }}"); n != 5 {
				t.Errorf("GITHUB_TOKEN is the workflow's token in %d steps, want the 5 deploy steps:\n%s", n, body)
			}
			if strings.Contains(text, "secrets.GITHUB_TOKEN") || strings.Contains(text, "#   GITHUB_TOKEN") {
				t.Errorf("GITHUB_TOKEN is asked for as a repository secret:\n%s", text)
			}
			if n := strings.Count(body, "statuses: write"); n != 5 {
				t.Errorf("statuses: write on %d jobs, want the 5 jobs with deploy steps:\n%s", n, body)
			}
		})
	}
}
