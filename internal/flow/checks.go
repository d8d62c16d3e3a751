package flow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"time"

	"github.com/slipwayhq/slipway/internal/check"
	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
)

// taskWaitDelay is how long a task check's output is still read after
// its shell ends or is stopped: a process it left running may hold the
// output open, and must not hold the deploy.
const taskWaitDelay = 5 * time.Second

// checker returns the deploy.Checker of env's checks (deploy.checks,
// then its own) on cluster c, nil when it has none. HTTP checks go
// through the API server's pod proxy; a task check gets SLIPWAY_URL
// port-forwarded through the API server to the first new pod, and may run
// as long as the rollout may (o.Timeout, else deploy.timeout).
func (r *Runner) checker(env config.Environment, c *deploy.Cluster, o DeployOptions) (deploy.Checker, error) {
	checks := r.Project.ChecksOf(env)
	if len(checks) == 0 {
		return nil, nil
	}
	cr := &check.Runner{Checks: checks, Task: r.checkTask, Progress: o.Progress, Client: c.Client,
		TaskTimeout: cmp.Or(o.Timeout, r.Project.Deploy.Timeout.Duration)}
	if slices.ContainsFunc(checks, func(c config.Check) bool { return c.Task != "" }) {
		// Before anything is applied: a check naming no task of ci.yaml
		// is a mistake in the files, not a failed rollout.
		if _, err := config.LoadCI(r.Project.Dir, r.Project); err != nil {
			return nil, fmt.Errorf("loading the task checks of %s: %w", env.Name, err)
		}
		if c.Config != nil { // a fake cluster has none
			fw, err := check.NewPortForwarder(c.Config)
			if err != nil {
				return nil, fmt.Errorf("preparing the checks of %s: %w", env.Name, err)
			}
			cr.Forwarder = fw
		}
	}
	if slices.ContainsFunc(checks, func(c config.Check) bool { return c.HTTP != nil }) {
		p, err := check.NewProxyProber(c.Config)
		if err != nil {
			return nil, fmt.Errorf("preparing the checks of %s: %w", env.Name, err)
		}
		cr.Prober = p
	}
	return cr, nil
}

// checkTask runs the ci.yaml task of a task check as TaskCommand does,
// with env added, no input, and its output to out. A task that exits
// non-zero returns a *TaskError.
func (r *Runner) checkTask(ctx context.Context, name string, env []string, out io.Writer) error {
	c, err := config.LoadCI(r.Project.Dir, r.Project)
	if err != nil {
		return err
	}
	cmd, err := TaskCommand(ctx, c, name)
	if err != nil {
		return err
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = taskWaitDelay
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return &TaskError{Task: name, Code: ee.ExitCode()}
	}
	return err
}

// checksAccess checks, when env has checks and its API server was
// reached, that the credentials may run them (deploy.Cluster.ChecksAccess);
// ok is false when there is nothing to check.
func (r *Runner) checksAccess(ctx context.Context, env config.Environment, c *deploy.Cluster, reached bool) (deploy.Check, bool) {
	checks := r.Project.ChecksOf(env)
	proxy := slices.ContainsFunc(checks, func(c config.Check) bool { return c.HTTP != nil })
	forward := slices.ContainsFunc(checks, func(c config.Check) bool { return c.Task != "" })
	jobs := slices.ContainsFunc(checks, func(c config.Check) bool { return c.Job != nil })
	if !proxy && !forward && !jobs || !reached {
		return deploy.Check{}, false
	}
	return c.ChecksAccess(ctx, env.Namespace, proxy, forward, jobs), true
}
