package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/slipwayhq/slipway/internal/termtext"
)

// Target is one place a verdict is told.
type Target interface {
	// Name labels the target in warnings: never a URL, which may hold a
	// secret.
	Name() string
	// request makes the request telling ev; delivery, the same for every
	// attempt, lets a receiver drop repeats.
	request(ctx context.Context, ev Event, delivery string) (*http.Request, error)
	// secrets are the values no warning may print.
	secrets() []string
}

// ErrNoCommit is returned for a commit status when the deploy has no
// source commit to set it on.
var ErrNoCommit = errors.New("no source commit to set a status on")

// Webhook posts the event's JSON form, signed with HMAC-SHA256 of the body
// under Secret (when set) in X-Slipway-Signature-256.
type Webhook struct {
	Label  string
	URL    string
	Secret []byte
}

// Slack posts a message to a Slack-compatible incoming webhook.
type Slack struct {
	Label string
	URL   string
}

// GitHub sets a commit status (context slipway/ENV) on the source commit
// through GitHub's REST API.
type GitHub struct {
	Label      string
	API        string
	Repository string
	Token      string
}

// GitLab sets a commit status (name slipway/ENV) on the source commit
// through GitLab's REST API.
type GitLab struct {
	Label   string
	API     string
	Project string
	Token   string
}

// Headers of a webhook delivery.
const (
	SignatureHeader = "X-Slipway-Signature-256"
	EventHeader     = "X-Slipway-Event"
	DeliveryHeader  = "X-Slipway-Delivery"
)

// Limits of what commit statuses hold.
const (
	githubDescription = 140
	gitlabDescription = 255
)

// urlSecrets are the forms in which a URL that is itself a secret (its
// path or query) may come back in a receiver's reply, which errors quote
// ("Cannot POST /services/T0/B0/XXXX"): whole, its request URI, path
// and query, escaped or not, and each of their parts of 8 bytes or more.
func urlSecrets(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	out = append(out, u.RequestURI(), u.EscapedPath(), u.Path, u.RawQuery)
	parts := strings.Split(u.Path, "/")
	for _, vs := range u.Query() {
		parts = append(parts, vs...)
	}
	for _, p := range parts {
		if len(p) >= 8 {
			out = append(out, p, url.PathEscape(p), url.QueryEscape(p))
		}
	}
	return out
}

// Name is the webhook's label.
func (w Webhook) Name() string      { return w.Label }
func (w Webhook) secrets() []string { return append(urlSecrets(w.URL), string(w.Secret)) }

func (w Webhook) request(ctx context.Context, ev Event, delivery string) (*http.Request, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encoding the event: %w", err)
	}
	req, err := post(ctx, w.URL, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set(EventHeader, ev.Event)
	req.Header.Set(DeliveryHeader, delivery)
	if len(w.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(w.Secret, body))
	}
	return req, nil
}

// Sign returns the X-Slipway-Signature-256 value of body under secret:
// "sha256=" and the HMAC-SHA256's hex.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Name is the Slack target's label.
func (s Slack) Name() string      { return s.Label }
func (s Slack) secrets() []string { return urlSecrets(s.URL) }

func (s Slack) request(ctx context.Context, ev Event, _ string) (*http.Request, error) {
	body, err := json.Marshal(map[string]string{"text": SlackText(ev)})
	if err != nil {
		return nil, fmt.Errorf("encoding the message: %w", err)
	}
	return post(ctx, s.URL, body)
}

// icons start a Slack message: the event at a glance.
var icons = map[string]string{
	Succeeded: ":white_check_mark:", Failed: ":x:", RolledBack: ":leftwards_arrow_with_hook:",
	Waiting: ":hourglass:", Superseded: ":fast_forward:",
}

// SlackText is the message Slack gets: the title, then the message,
// who and why, and the run. Every value is escaped as Slack's mrkdwn
// asks (&, <, >), so that text from a cluster cannot mention a channel
// or hide a link.
func SlackText(ev Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s *%s*", icons[ev.Event], slackEscape(ev.Title()))
	if ev.Message != "" {
		fmt.Fprintf(&b, "\n%s", slackEscape(termtext.Clip(ev.Message, 1500)))
	}
	if ev.Who != "" || ev.Why != "" {
		fmt.Fprintf(&b, "\nby %s: %s", slackEscape(ev.Who), slackEscape(termtext.Clip(ev.Why, 300)))
	}
	if ev.Run != "" {
		fmt.Fprintf(&b, "\n%s", slackEscape(ev.Run))
	}
	return b.String()
}

// slackEscape escapes s as Slack's mrkdwn asks: &, < and >.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Name is the GitHub target's label.
func (g GitHub) Name() string      { return g.Label }
func (g GitHub) secrets() []string { return []string{g.Token} }

func (g GitHub) request(ctx context.Context, ev Event, _ string) (*http.Request, error) {
	if ev.SourceCommit == "" {
		return nil, ErrNoCommit
	}
	owner, name, _ := strings.Cut(g.Repository, "/")
	u := strings.TrimSuffix(g.API, "/") + "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/statuses/" + url.PathEscape(ev.SourceCommit)
	req, err := postStatus(ctx, u, status{State: githubStates[ev.Event], Context: "slipway/" + ev.Environment,
		Description: termtext.Clip(ev.Title(), githubDescription), TargetURL: ev.Run})
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+g.Token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	return req, nil
}

// status is the body of GitHub's and GitLab's commit status requests:
// GitHub names it by Context, GitLab by Name.
type status struct {
	State       string `json:"state"`
	Context     string `json:"context,omitempty"`
	Name        string `json:"name,omitempty"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url,omitempty"`
}

// postStatus is the POST of commit status st to u.
func postStatus(ctx context.Context, u string, st status) (*http.Request, error) {
	body, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding the status: %w", err)
	}
	return post(ctx, u, body)
}

// githubStates are the commit states of GitHub's API for each event.
var githubStates = map[string]string{
	Succeeded: "success", Failed: "failure", RolledBack: "failure", Waiting: "pending", Superseded: "error",
}

// Name is the GitLab target's label.
func (g GitLab) Name() string      { return g.Label }
func (g GitLab) secrets() []string { return []string{g.Token} }

func (g GitLab) request(ctx context.Context, ev Event, _ string) (*http.Request, error) {
	if ev.SourceCommit == "" {
		return nil, ErrNoCommit
	}
	u := strings.TrimSuffix(g.API, "/") + "/projects/" + url.PathEscape(g.Project) + "/statuses/" + url.PathEscape(ev.SourceCommit)
	req, err := postStatus(ctx, u, status{State: gitlabStates[ev.Event], Name: "slipway/" + ev.Environment,
		Description: termtext.Clip(ev.Title(), gitlabDescription), TargetURL: ev.Run})
	if err != nil {
		return nil, err
	}
	req.Header.Set("PRIVATE-TOKEN", g.Token)
	return req, nil
}

// gitlabStates are the commit states of GitLab's API for each event.
var gitlabStates = map[string]string{
	Succeeded: "success", Failed: "failed", RolledBack: "failed", Waiting: "pending", Superseded: "canceled",
}

// post makes a JSON POST of body to u.
func post(ctx context.Context, u string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("the target's URL is not a URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "slipway")
	return req, nil
}
