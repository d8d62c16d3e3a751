package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/check"
	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/short"
	"github.com/slipwayhq/slipway/internal/termtext"
)

// ErrGate is matched when an environment's requirement refuses a deploy.
var ErrGate = errors.New("gate refused")

// Gate decides whether environment env may run digest, given the status of
// the environment it requires: that one must run the same digest, healthy,
// for at least the soak time.
func Gate(env string, req config.Requirement, st deploy.EnvStatus, digest string, now time.Time) error {
	refuse := func(format string, args ...any) error {
		return remedy.With(fmt.Errorf("%w: %s requires %s: %s", ErrGate, env, req.Env, fmt.Sprintf(format, args...)),
			remedy.Remedy{Kind: remedy.SkipGate, Env: req.Env})
	}
	switch {
	case st.Health == deploy.Unreachable:
		return refuse("its state cannot be read (%s)", st.Error)
	case st.Health == deploy.Missing:
		return refuse("nothing is deployed there")
	case st.Digest != digest:
		return refuse("it runs %s (%s), not %s", st.Version, short.Digest(st.Digest), short.Digest(digest))
	case st.Health != deploy.Healthy:
		return refuse("it runs this digest but is %s", st.Health)
	}
	if soak := req.Soak.Duration; soak > 0 {
		healthyFor := now.Sub(st.DeployedAt)
		if st.DeployedAt.IsZero() || healthyFor < soak {
			return refuse("it has run this digest for %s of the %s soak; %s to go",
				healthyFor.Round(time.Second), soak, (soak - healthyFor).Round(time.Second))
		}
	}
	return nil
}

// AnalysisGate decides, for environment env whose requirement req names
// a canary with an analysis, whether the analysis recorded on the
// canary's Deployment (rec, nil when none; readErr when it could not be
// read) lets env run digest: it must be of digest, and passed.
func AnalysisGate(env string, req config.Requirement, rec *check.AnalysisRecord, readErr error, digest string) error {
	refuse := func(format string, args ...any) error {
		return remedy.With(fmt.Errorf("%w: %s requires %s: %s", ErrGate, env, req.Env, fmt.Sprintf(format, args...)),
			remedy.Remedy{Kind: remedy.SkipGate, Env: req.Env})
	}
	switch {
	case readErr != nil:
		return refuse("its analysis cannot be read (%s)", termtext.Clean(readErr.Error()))
	case rec == nil:
		return refuse("no analysis of this digest is recorded on its Deployment (one deployed before it had an analysis, or whose analysis was interrupted)")
	case rec.Digest != digest:
		return refuse("its last analysis was of %s, not %s", short.Digest(rec.Digest), short.Digest(digest))
	case !rec.Passed():
		return refuse("its analysis of this digest failed at %s: %s", rec.At.Format(time.RFC3339), rec.Message)
	}
	return nil
}

// canaryDone reports, for a canary environment, that the environment it
// is a canary of already runs digest, healthy: no canary is needed. It
// never applies to other environments.
func (r *Runner) canaryDone(ctx context.Context, env config.Environment, in deploy.RenderInput, digest string, o DeployOptions) (DeployResult, bool) {
	if env.CanaryOf == "" {
		return DeployResult{}, false
	}
	main, _ := r.Project.Environments.Get(env.CanaryOf)
	st := r.clusterStatus(ctx, main, deploy.ClusterOptions{Kubeconfig: o.Cluster.Kubeconfig}, false)
	if st.Digest != digest || st.Health != deploy.Healthy {
		return DeployResult{}, false
	}
	res := planned(env, in)
	res.UpToDate, res.Note = true, fmt.Sprintf("%s already runs this digest, healthy: no canary needed", main.Name)
	return DeployResult{Result: res}, true
}

// passGate applies env's requirement to digest, or skips it as
// o.SkipGate asks; it returns the reason to record, which notes a
// skipped gate.
func (r *Runner) passGate(ctx context.Context, env config.Environment, digest string, o DeployOptions) (string, error) {
	switch {
	case o.SkipGate && strings.TrimSpace(o.Reason) == "":
		return "", remedy.With(fmt.Errorf("deploying to %s: %w", env.Name, config.ErrInvalid), remedy.Remedy{Kind: remedy.ReasonToSkip, Env: env.Name})
	case o.SkipGate && env.Requires != nil:
		return fmt.Sprintf("gate skipped (requires %s): %s", env.Requires.Env, o.Reason), nil
	}
	return o.Reason, r.checkGate(ctx, env, digest, o)
}

// checkGate applies env's requirement, if any, to the digest about to be
// deployed. The required environment's cluster is found without
// --context, which names env's own.
func (r *Runner) checkGate(ctx context.Context, env config.Environment, digest string, o DeployOptions) error {
	if env.Requires == nil {
		return nil
	}
	// What an environment already runs, healthy, passed its gate before.
	own := r.clusterStatus(ctx, env, o.Cluster, false)
	if own.Digest == digest && own.Health == deploy.Healthy {
		return nil
	}
	req, _ := r.Project.Environments.Get(env.Requires.Env)
	st := r.clusterStatus(ctx, req, deploy.ClusterOptions{Kubeconfig: o.Cluster.Kubeconfig}, false)
	if err := Gate(env.Name, *env.Requires, st, digest, r.make.Now()); err != nil {
		return fmt.Errorf("deploying to %s: %w", env.Name, err)
	}
	if err := r.analysisGate(ctx, env, req, digest, o); err != nil {
		return fmt.Errorf("deploying to %s: %w", env.Name, err)
	}
	progress.Or(o.Progress).Report(progress.Event{Kind: progress.Info, Step: "gate", Msg: fmt.Sprintf("%s runs this digest, healthy", req.Name)})
	return nil
}

// retireCanaries removes the canary Deployments of env that run digest,
// now that env itself runs it healthy.
func (r *Runner) retireCanaries(ctx context.Context, env config.Environment, digest string, o DeployOptions) error {
	p := r.Project
	for _, c := range p.Environments {
		if c.CanaryOf != env.Name {
			continue
		}
		cluster, err := r.cluster(c, deploy.ClusterOptions{Kubeconfig: o.Cluster.Kubeconfig})
		if err != nil {
			return err
		}
		removed, err := cluster.WithProgress(o.Progress).RetireCanary(ctx, c.Namespace, deploy.Name(p, c), digest)
		if err != nil {
			return err
		}
		if removed {
			progress.Or(o.Progress).Report(progress.Event{Kind: progress.Finish, Step: "canary",
				Msg: fmt.Sprintf("removed %s: %s now runs its digest", deploy.Name(p, c), env.Name)})
		}
	}
	return nil
}
