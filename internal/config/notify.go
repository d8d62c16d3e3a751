package config

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Notify is one target told the verdicts of deploys: a signed JSON
// webhook, a Slack-compatible incoming webhook, or a commit status on
// GitHub or GitLab. Its secrets are env://NAME references, read when a
// deploy ends; they never appear in output or generated CI.
type Notify struct {
	Name         string         `yaml:"name" doc:"names the target in warnings (default: its kind, e.g. slack)"`
	Webhook      *WebhookNotify `yaml:"webhook" doc:"POST the verdict as JSON (schema docs/notify.schema.json), signed with HMAC-SHA256; see docs/notifications.md"`
	Slack        *SlackNotify   `yaml:"slack" doc:"post the verdict as a message to a Slack-compatible incoming webhook"`
	GitHub       *GitHubNotify  `yaml:"github" doc:"set a commit status on the source commit in a GitHub repository"`
	GitLab       *GitLabNotify  `yaml:"gitlab" doc:"set a commit status on the source commit in a GitLab project"`
	Events       []string       `yaml:"events" doc:"the verdicts it is told: succeeded, failed, rolledBack, waiting (at a gate), superseded (default all)"`
	Environments []string       `yaml:"environments" doc:"tell it of deploys to these environments only (default every environment)"`
}

// WebhookNotify is a generic JSON webhook.
type WebhookNotify struct {
	URL    string `yaml:"url" required:"true" doc:"https:// or http:// URL without credentials, or env://NAME to read it from variable NAME"`
	Secret string `yaml:"secret" doc:"env://NAME of the HMAC-SHA256 key; the body's signature is sent as X-Slipway-Signature-256: sha256=HEX"`
}

// SlackNotify is a Slack-compatible incoming webhook (Slack, Mattermost,
// Rocket.Chat), whose URL is itself the secret.
type SlackNotify struct {
	URL string `yaml:"url" required:"true" doc:"env://NAME of the incoming webhook's URL (the URL is a secret: it is never written in slipway.yaml)"`
}

// GitHubNotify sets commit statuses through GitHub's REST API.
type GitHubNotify struct {
	Repository string `yaml:"repository" required:"true" doc:"OWNER/NAME of the repository holding the source commit"`
	Token      string `yaml:"token" doc:"env://NAME of a token that may write commit statuses (default env://GITHUB_TOKEN)"`
	API        string `yaml:"api" doc:"REST API base URL (default https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3)"`
}

// GitLabNotify sets commit statuses through GitLab's REST API.
type GitLabNotify struct {
	Project string `yaml:"project" required:"true" doc:"the project holding the source commit: its numeric ID or its path, such as group/name"`
	Token   string `yaml:"token" doc:"env://NAME of a token with the api scope (default env://GITLAB_TOKEN)"`
	API     string `yaml:"api" doc:"REST API base URL (default https://gitlab.com/api/v4)"`
}

// Notification events: a deploy's verdict, one per deploy.
const (
	EventSucceeded  = "succeeded"
	EventFailed     = "failed"
	EventRolledBack = "rolledBack"
	EventWaiting    = "waiting"
	EventSuperseded = "superseded"
)

// NotifyEvents are every event, in the order docs list them.
var NotifyEvents = []string{EventSucceeded, EventFailed, EventRolledBack, EventWaiting, EventSuperseded}

// Defaults of the notification targets.
const (
	DefaultGitHubToken = "env://GITHUB_TOKEN"
	DefaultGitHubAPI   = "https://api.github.com"
	DefaultGitLabToken = "env://GITLAB_TOKEN"
	DefaultGitLabAPI   = "https://gitlab.com/api/v4"
)

// maxNotify bounds the targets: each deploy tells all of them at once.
const maxNotify = 20

var (
	ghRepo    = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$`)
	glProject = regexp.MustCompile(`^(?:[0-9]{1,19}|[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*){1,20})$`)
)

// Kind is the kind of target: webhook, slack, github or gitlab; "" when
// it names none.
func (n Notify) Kind() string {
	switch {
	case n.Webhook != nil:
		return "webhook"
	case n.Slack != nil:
		return "slack"
	case n.GitHub != nil:
		return "github"
	case n.GitLab != nil:
		return "gitlab"
	}
	return ""
}

// Label names the target in messages: its name, or its kind.
func (n Notify) Label() string {
	if n.Name != "" {
		return n.Name
	}
	return n.Kind()
}

// Wants reports whether the target is told event of a deploy to env.
func (n Notify) Wants(event, env string) bool {
	return (len(n.Events) == 0 || slices.Contains(n.Events, event)) &&
		(len(n.Environments) == 0 || slices.Contains(n.Environments, env))
}

// Secrets are the variables the target reads its secrets from: the names
// in its env://NAME references, with the defaults filled.
func (n Notify) Secrets() []string {
	var refs []string
	switch {
	case n.Webhook != nil:
		refs = []string{n.Webhook.URL, n.Webhook.Secret}
	case n.Slack != nil:
		refs = []string{n.Slack.URL}
	case n.GitHub != nil:
		refs = []string{n.GitHub.Token}
	case n.GitLab != nil:
		refs = []string{n.GitLab.Token}
	}
	var out []string
	for _, r := range refs {
		if name, ok := EnvRef(r); ok {
			out = append(out, name)
		}
	}
	return out
}

// EnvRef returns NAME of an env://NAME reference.
func EnvRef(ref string) (string, bool) {
	if !keyRefEnv.MatchString(ref) {
		return "", false
	}
	return strings.TrimPrefix(ref, "env://"), true
}

// defaultNotify fills what the targets left out.
func defaultNotify(targets []Notify) {
	for i := range targets {
		if g := targets[i].GitHub; g != nil {
			g.Token = cmp.Or(g.Token, DefaultGitHubToken)
			g.API = cmp.Or(g.API, DefaultGitHubAPI)
		}
		if g := targets[i].GitLab; g != nil {
			g.Token = cmp.Or(g.Token, DefaultGitLabToken)
			g.API = cmp.Or(g.API, DefaultGitLabAPI)
		}
	}
}

// notify checks the notification targets of p.
func (v *validator) notify(p *Project) {
	if len(p.Notify) > maxNotify {
		v.add("notify", "%d targets; at most %d are told of each deploy", len(p.Notify), maxNotify)
	}
	envNames := p.Environments.Names()
	names := map[string]bool{}
	for i, n := range p.Notify {
		at := fmt.Sprintf("notify[%d]", i)
		v.notifyTarget(at, n)
		if n.Name != "" {
			if !dnsLabel.MatchString(n.Name) {
				v.add(at+".name", "%q is not a valid name; use lower-case letters, digits and '-'", n.Name)
			}
			if names[n.Name] {
				v.add(at+".name", "%q names two targets; give each its own", n.Name)
			}
			names[n.Name] = true
		}
		for j, e := range n.Events {
			if !slices.Contains(NotifyEvents, e) {
				v.add(fmt.Sprintf("%s.events[%d]", at, j), "%s", notValid(e, NotifyEvents))
			}
		}
		for j, e := range n.Environments {
			if !slices.Contains(envNames, e) {
				v.add(fmt.Sprintf("%s.environments[%d]", at, j), "%s", unknown("environment", e, envNames))
			}
		}
	}
}

// notifyTarget checks the kind-specific fields of target n at at.
func (v *validator) notifyTarget(at string, n Notify) {
	kinds := 0
	for _, set := range []bool{n.Webhook != nil, n.Slack != nil, n.GitHub != nil, n.GitLab != nil} {
		if set {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		v.add(at, "a target is one kind, but this one has %d of webhook, slack, github and gitlab; split it into targets of one each", kinds)
	case n.Webhook != nil:
		if _, isRef := EnvRef(n.Webhook.URL); !isRef && v.src.Has(at+".webhook.url") {
			if msg := NotifyURLProblem(n.Webhook.URL); msg != "" {
				v.add(at+".webhook.url", "%s", msg)
			}
		}
		v.secretRef(at+".webhook.secret", n.Webhook.Secret, false)
	case n.Slack != nil:
		v.secretRef(at+".slack.url", n.Slack.URL, true)
	case n.GitHub != nil:
		if v.src.Has(at+".github.repository") && !ghRepo.MatchString(n.GitHub.Repository) {
			v.add(at+".github.repository", "%q is not OWNER/NAME of a GitHub repository", n.GitHub.Repository)
		}
		v.secretRef(at+".github.token", n.GitHub.Token, false)
		v.apiURL(at+".github.api", n.GitHub.API)
	case n.GitLab != nil:
		if v.src.Has(at+".gitlab.project") && (!glProject.MatchString(n.GitLab.Project) || hasDotSegment(n.GitLab.Project)) {
			v.add(at+".gitlab.project", "%q is neither a project ID nor a path such as group/name", n.GitLab.Project)
		}
		v.secretRef(at+".gitlab.token", n.GitLab.Token, false)
		v.apiURL(at+".gitlab.api", n.GitLab.API)
	default:
		v.add(at, "a target needs one of webhook, slack, github or gitlab, e.g. {slack: {url: env://SLACK_WEBHOOK_URL}}")
	}
}

// hasDotSegment reports a "." or ".." segment in a slash-separated path.
func hasDotSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// secretRef checks a field that holds a secret: only env://NAME, so that
// the secret itself is never in slipway.yaml. An empty one passes unless
// required (the decoder reports a missing required field).
func (v *validator) secretRef(at, ref string, required bool) {
	switch {
	case ref == "" && !required:
	case !v.src.Has(at) && ref == "":
	case !keyRefEnv.MatchString(ref):
		v.add(at, "give env://NAME, the variable holding the secret (letters, digits and _); a secret is never written in slipway.yaml")
	}
}

// apiURL checks a REST API base URL.
func (v *validator) apiURL(at, raw string) {
	if !v.src.Has(at) {
		return
	}
	if msg := NotifyURLProblem(raw); msg != "" {
		v.add(at, "%s", msg)
	}
}

// NotifyURLProblem says what is wrong with a URL Slipway posts to, ""
// when nothing: it must be http(s) with a host and carry no credentials,
// which would be printed wherever the URL is (and it never quotes one
// that does). Deploys check a URL read from env://NAME with it too.
func NotifyURLProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("%q is not a URL; give e.g. https://hooks.example.com/slipway", raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("%q: the scheme must be https or http", raw)
	case u.User != nil:
		return "the URL carries credentials; move them to a variable and give env://NAME instead"
	case u.Fragment != "":
		return fmt.Sprintf("%q: a URL posted to has no #fragment", raw)
	}
	return ""
}
