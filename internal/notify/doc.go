// Package notify tells targets the verdict of a deploy (a signed JSON webhook, Slack, GitHub and GitLab commit statuses), within a bound, never changing the verdict.
package notify
