package check

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/progress"
)

// DefaultTaskTimeout bounds a task check when Runner.TaskTimeout is 0.
const DefaultTaskTimeout = 5 * time.Minute

// Runner runs an environment's checks on a rollout; it is a
// deploy.Checker.
type Runner struct {
	Checks []config.Check
	// Prober sends the requests of HTTP checks (see ProxyProber); nil
	// fails them.
	Prober Prober
	// Client creates and reads the Jobs of Job checks; nil fails them.
	Client kubernetes.Interface
	// HTTPClient sends metric checks' queries (default http.DefaultClient).
	HTTPClient *http.Client
	// Task runs the ci.yaml tasks of task checks; nil fails them.
	Task TaskFunc
	// Forwarder, when set, forwards a local address to the first new pod
	// for the length of each task check, given to it as SLIPWAY_URL.
	Forwarder Forwarder
	// TaskTimeout bounds each task check (default DefaultTaskTimeout).
	TaskTimeout time.Duration
	Progress    progress.Reporter
}

var _ deploy.Checker = (*Runner)(nil)

// Check runs r.Checks on t in order, stopping at the first that fails.
// The error is ctx's, when it ends.
func (r *Runner) Check(ctx context.Context, t deploy.CheckTarget) ([]deploy.CheckResult, error) {
	rep := progress.Or(r.Progress)
	var out []deploy.CheckResult
	for _, c := range r.Checks {
		rep.Report(progress.Event{Kind: progress.Info, Step: "checks", Msg: "checking " + c.String()})
		var res deploy.CheckResult
		var err error
		switch {
		case c.HTTP != nil:
			res, err = r.http(ctx, *c.HTTP, t)
		case c.Task != "":
			res, err = r.task(ctx, c.Task, t)
		case c.Job != nil:
			res, err = r.job(ctx, *c.Job, t)
		case c.Metric != nil:
			res, err = r.metric(ctx, *c.Metric, t)
		default:
			res = deploy.CheckResult{Message: "the check names no kind"}
		}
		res.Check = c.String()
		out = append(out, res)
		if err != nil {
			return out, err
		}
		if !res.Passed {
			rep.Report(progress.Event{Kind: progress.Warn, Step: "checks", Msg: fmt.Sprintf("%s failed: %s", res.Check, res.Message)})
			return out, nil
		}
	}
	return out, nil
}

// sleep waits d or until ctx ends, returning ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
