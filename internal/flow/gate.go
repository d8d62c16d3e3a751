package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/progress"
)

// ErrGate is matched when an environment's requirement refuses a deploy.
var ErrGate = errors.New("gate refused")

// Gate decides whether environment env may run digest, given the status of
// the environment it requires: that one must run the same digest, healthy,
// for at least the soak time.
func Gate(env string, req config.Requirement, st deploy.EnvStatus, digest string, now time.Time) error {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s requires %s: %s; deploy it there first, or pass --skip-gate --reason \"...\"",
			ErrGate, env, req.Env, fmt.Sprintf(format, args...))
	}
	switch {
	case st.Health == deploy.Unreachable:
		return refuse("its state cannot be read (%s)", st.Error)
	case st.Health == deploy.Missing:
		return refuse("nothing is deployed there")
	case st.Digest != digest:
		return refuse("it runs %s (%.19s), not %.19s", st.Version, st.Digest, digest)
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

// checkGate applies env's requirement, if any, to the digest about to be
// deployed.
func checkGate(ctx context.Context, p *config.Project, env config.Environment, digest string, o DeployOptions) error {
	if env.Requires == nil {
		return nil
	}
	// What an environment already runs, healthy, passed its gate before.
	own := clusterStatus(ctx, p, env, StatusOptions{Options: o.Options, Cluster: o.Cluster})
	if own.Digest == digest && own.Health == deploy.Healthy {
		return nil
	}
	req, _ := p.Environments.Get(env.Requires.Env)
	st := clusterStatus(ctx, p, req, StatusOptions{Options: o.Options, Cluster: deploy.ClusterOptions{Kubeconfig: o.Cluster.Kubeconfig}})
	if err := Gate(env.Name, *env.Requires, st, digest, time.Now()); err != nil {
		return fmt.Errorf("deploying to %s: %w", env.Name, err)
	}
	progress.Or(o.Progress).Report(progress.Event{Kind: progress.Info, Step: "gate", Msg: fmt.Sprintf("%s runs this digest, healthy", req.Name)})
	return nil
}

// retireCanaries removes the canary Deployments of env that run digest,
// now that env itself runs it healthy.
func retireCanaries(ctx context.Context, p *config.Project, env config.Environment, digest string, o DeployOptions) error {
	for _, c := range p.Environments {
		if c.CanaryOf != env.Name {
			continue
		}
		cluster, err := deploy.Connect(c, deploy.ClusterOptions{Kubeconfig: o.Cluster.Kubeconfig})
		if err != nil {
			return err
		}
		removed, err := cluster.RetireCanary(ctx, c.Namespace, deploy.Name(p, c), digest)
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
