package check

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/termtext"
)

// TaskFunc runs the ci.yaml task called name with env added to its
// environment, its output (stdout and stderr) to out. An error with an
// ExitCode() int method is a task that exited non-zero.
type TaskFunc func(ctx context.Context, name string, env []string, out io.Writer) error

// TaskEnv is the environment a task check gets: SLIPWAY_ENVIRONMENT,
// SLIPWAY_NAMESPACE, SLIPWAY_VERSION and SLIPWAY_DIGEST (and SLIPWAY_URL,
// added by the Runner when it forwards).
func TaskEnv(t deploy.CheckTarget) []string {
	digest := ""
	if i := strings.LastIndex(t.Image, "@"); i >= 0 {
		digest = t.Image[i+1:]
	}
	return []string{"SLIPWAY_ENVIRONMENT=" + t.Env, "SLIPWAY_NAMESPACE=" + t.Namespace,
		"SLIPWAY_VERSION=" + t.Version, "SLIPWAY_DIGEST=" + digest}
}

// task runs the task check name, bounded by r.TaskTimeout: it passes when
// the task exits 0.
func (r *Runner) task(ctx context.Context, name string, t deploy.CheckTarget) (deploy.CheckResult, error) {
	var res deploy.CheckResult
	if r.Task == nil {
		res.Message = "no way to run tasks was given"
		return res, nil
	}
	limit := cmp.Or(r.TaskTimeout, DefaultTaskTimeout)
	tctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	env, stop := r.forward(tctx, t)
	defer stop()
	out := &tailBuffer{max: maxTaskOutput}
	err := r.Task(tctx, name, env, out)
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	var coded interface{ ExitCode() int }
	switch {
	case err == nil:
		res.Passed, res.Message = true, "exited 0"
		return res, nil
	case tctx.Err() != nil:
		res.Message = fmt.Sprintf("did not finish within %s, and was stopped", limit)
	case errors.As(err, &coded):
		res.Message = fmt.Sprintf("exited with status %d", coded.ExitCode())
	default:
		res.Message = fmt.Sprintf("running task %s: %v", name, err)
	}
	res.Output = tail(out.String())
	return res, nil
}

// forward returns the environment of a task check on t: TaskEnv, and
// SLIPWAY_URL when r.Forwarder forwards to t's first pod; stop ends the
// forward. A forward that fails is a warning: the task runs without
// SLIPWAY_URL, and fails by itself if it needs it.
func (r *Runner) forward(ctx context.Context, t deploy.CheckTarget) (env []string, stop func()) {
	env = TaskEnv(t)
	if r.Forwarder == nil || len(t.Pods) == 0 {
		return env, func() {}
	}
	url, stop, err := r.Forwarder.Forward(ctx, t.Namespace, t.Pods[0], t.Port)
	if err != nil {
		progress.Or(r.Progress).Report(progress.Event{Kind: progress.Warn, Step: "checks",
			Msg: "SLIPWAY_URL is not set: " + termtext.CleanLines(err.Error(), 512)})
		return env, func() {}
	}
	return append(env, "SLIPWAY_URL="+url), stop
}
