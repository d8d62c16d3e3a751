package flow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/notify"
	"github.com/slipwayhq/slipway/internal/progress"
)

// notifyDeploy tells slipway.yaml's notify targets the verdict of a
// deploy to envName, res and err being what the deploy returned, and
// warns of every target it could not tell. It never changes the verdict,
// and holds the command for notify.DefaultBudget at most. A deploy with
// no verdict tells no one: one that changed nothing, a GitOps commit not
// waited for, or one stopped before its rollout (bad input, no access, an
// interrupt).
func (r *Runner) notifyDeploy(ctx context.Context, envName string, res DeployResult, err error, o DeployOptions, start time.Time) {
	if len(r.Project.Notify) == 0 || errors.Is(err, context.Canceled) {
		return
	}
	ev, ok := verdictEvent(res, err)
	if !ok {
		return
	}
	ev.App, ev.Environment, ev.Who, ev.Why, ev.Run = r.Project.App, envName, Actor(), o.Reason, ciRunURL()
	ev.Time, ev.Seconds = r.make.Now().UTC(), time.Since(start).Round(time.Millisecond).Seconds()
	ev.SourceCommit = res.Commit
	var targets []notify.Target
	rep := progress.Or(o.Progress)
	for _, n := range r.Project.Notify {
		if !n.Wants(ev.Event, envName) {
			continue
		}
		t, err := notifyTarget(n)
		if err != nil {
			rep.Report(progress.Event{Kind: progress.Warn, Step: "notify", Msg: fmt.Sprintf("not telling %s: %v", n.Label(), err)})
			continue
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 {
		return
	}
	send := r.make.Notify
	if send == nil {
		send = func(ctx context.Context, ts []notify.Target, ev notify.Event) []notify.Result {
			return notify.Send(ctx, ts, ev, notify.Options{})
		}
	}
	// The verdict is in whatever the caller's context does now: a deploy
	// whose context ends later still tells its targets, within the budget.
	var told []string
	for _, res := range send(context.WithoutCancel(ctx), targets, ev) {
		if res.Err != nil {
			rep.Report(progress.Event{Kind: progress.Warn, Step: "notify", Msg: fmt.Sprintf("could not tell %s of the verdict (%d attempts): %v; the verdict stands", res.Target, res.Attempts, res.Err)})
		} else {
			told = append(told, res.Target)
		}
	}
	if len(told) > 0 {
		rep.Report(progress.Event{Kind: progress.Finish, Step: "notify", Msg: fmt.Sprintf("told %s: %s", strings.Join(told, ", "), ev.Event)})
	}
}

// verdictEvent is the event a deploy's result and error tell, false when
// they hold no verdict.
func verdictEvent(res DeployResult, err error) (notify.Event, bool) {
	ev := notify.Event{Schema: notify.Schema, Mode: "direct", Namespace: res.Namespace, Version: res.Version, Image: res.Image,
		Digest: deploy.DigestOf(res.Image)}
	if res.GitOps != nil {
		ev.Mode, ev.Commit = "gitops", res.GitOps.Commit
	}
	var gf *GitOpsFailedError
	var df *deploy.FailedError
	switch {
	case err == nil && res.GitOps != nil && res.GitOps.EngineOutcome == nil:
		return ev, false // committed, not waited for
	case err == nil && res.UpToDate && res.GitOps == nil:
		return ev, false
	case err == nil:
		ev.Event, ev.Message = notify.Succeeded, succeededMessage(res)
	case errors.Is(err, ErrGate):
		ev.Event, ev.Reason, ev.Message = notify.Waiting, "Gate", err.Error()
	case errors.Is(err, ErrSuperseded):
		ev.Event, ev.Reason, ev.Message = notify.Superseded, "Superseded", err.Error()
	case errors.Is(err, ErrNotPickedUp):
		ev.Event, ev.Reason, ev.Message = notify.Failed, "NotPickedUp", err.Error()
	case errors.As(err, &gf):
		ev = failedEvent(ev, gf.Result, gf.GitOps.Revert != "", err)
		ev.Commit = gf.GitOps.Commit
	case errors.As(err, &df):
		ev = failedEvent(ev, df.Result, df.Result.RolledBack, err)
		ev.RolledBackTo = df.Result.RolledBackTo
	case res.Verdict != nil && res.Verdict.Phase == deploy.PhaseSucceeded:
		// The rollout succeeded; what failed came after (retiring a canary).
		ev.Event, ev.Message = notify.Succeeded, succeededMessage(res)+"; then: "+err.Error()
	default:
		return ev, false
	}
	return ev, true
}

// failedEvent fills ev from a failed rollout's result: rolledBack when
// the previous version runs again.
func failedEvent(ev notify.Event, res deploy.Result, rolledBack bool, err error) notify.Event {
	ev.Event, ev.Message = notify.Failed, err.Error()
	if rolledBack {
		ev.Event = notify.RolledBack
	}
	if res.Verdict != nil {
		ev.Reason = res.Verdict.Reason
	}
	if ev.Version == "" {
		ev.Namespace, ev.Version, ev.Image = res.Namespace, res.Version, res.Image
	}
	return ev
}

// succeededMessage says what a successful deploy did.
func succeededMessage(res DeployResult) string {
	msg := fmt.Sprintf("%s runs %s", res.Env, res.Version)
	if res.Verdict != nil && res.Verdict.Desired > 0 {
		msg += fmt.Sprintf(" on %d of %d pods", res.Verdict.Available, res.Verdict.Desired)
	}
	if res.GitOps != nil {
		msg += ", applied from commit " + res.GitOps.Commit
	}
	return msg
}

// notifyTarget makes the target n describes, reading its secrets from
// the environment.
func notifyTarget(n config.Notify) (notify.Target, error) {
	switch {
	case n.Webhook != nil:
		u, err := notifyURL(n.Webhook.URL)
		if err != nil {
			return nil, err
		}
		var key string
		if n.Webhook.Secret != "" {
			if key, err = secretOrValue(n.Webhook.Secret); err != nil {
				return nil, err
			}
		}
		return notify.Webhook{Label: n.Label(), URL: u, Secret: []byte(key)}, nil
	case n.Slack != nil:
		u, err := notifyURL(n.Slack.URL)
		return notify.Slack{Label: n.Label(), URL: u}, err
	case n.GitHub != nil:
		tok, err := secretOrValue(n.GitHub.Token)
		return notify.GitHub{Label: n.Label(), API: n.GitHub.API, Repository: n.GitHub.Repository, Token: tok}, err
	case n.GitLab != nil:
		tok, err := secretOrValue(n.GitLab.Token)
		return notify.GitLab{Label: n.Label(), API: n.GitLab.API, Project: n.GitLab.Project, Token: tok}, err
	}
	return nil, errors.New("it names no kind of target")
}

// notifyURL is the URL ref names (env://NAME or the URL itself), checked
// as config check checks one written out; the message never quotes a URL
// read from a variable, which is a secret.
func notifyURL(ref string) (string, error) {
	u, err := secretOrValue(ref)
	if err != nil {
		return "", err
	}
	if msg := config.NotifyURLProblem(u); msg != "" {
		if name, ok := config.EnvRef(ref); ok {
			return "", fmt.Errorf("variable %s does not hold an http(s) URL without credentials", name)
		}
		return "", errors.New(msg)
	}
	return u, nil
}

// secretOrValue is the value of variable NAME for env://NAME, or ref
// itself.
func secretOrValue(ref string) (string, error) {
	name, ok := config.EnvRef(ref)
	if !ok {
		return ref, nil
	}
	v := os.Getenv(name)
	if v == "" {
		return "", fmt.Errorf("variable %s is not set", name)
	}
	return v, nil
}

// ciRunURL links to the CI run this command runs in, when the CI system
// says where it is.
func ciRunURL() string {
	if s, repo, id := os.Getenv("GITHUB_SERVER_URL"), os.Getenv("GITHUB_REPOSITORY"), os.Getenv("GITHUB_RUN_ID"); s != "" && repo != "" && id != "" {
		return s + "/" + repo + "/actions/runs/" + id
	}
	for _, k := range []string{"CI_JOB_URL", "BUILD_URL", "DRONE_BUILD_LINK"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}
