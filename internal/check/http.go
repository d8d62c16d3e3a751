package check

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/termtext"
)

// MaxBody is the most bytes of an answer's body read and matched.
const MaxBody = 64 << 10

// Answer is what a pod answered to a GET.
type Answer struct {
	Status int
	// Body is at most MaxBody bytes; Cut is true when there was more.
	Body []byte
	Cut  bool
}

// Prober sends one GET for path to port of pod ns/name; ctx bounds it.
type Prober interface {
	Get(ctx context.Context, ns, pod string, port int, path string) (Answer, error)
}

// http runs HTTP check h: h.Count requests to t's pods in turn, h.Interval
// apart, each bounded by h.Timeout; every answer must pass judge.
func (r *Runner) http(ctx context.Context, h config.HTTPCheck, t deploy.CheckTarget) (deploy.CheckResult, error) {
	var res deploy.CheckResult
	re, err := regexp.Compile(h.Body)
	switch {
	case err != nil:
		res.Message = fmt.Sprintf("the body pattern %q does not compile: %v", h.Body, err)
		return res, nil
	case r.Prober == nil:
		res.Message = "no way to reach the pods was given"
		return res, nil
	case len(t.Pods) == 0:
		res.Message = "the new ReplicaSet has no ready pod to send requests to"
		return res, nil
	}
	for i := range h.Count {
		if i > 0 {
			if err := sleep(ctx, h.Interval.Duration); err != nil {
				return res, err
			}
		}
		pod := t.Pods[i%len(t.Pods)]
		rctx, cancel := context.WithTimeout(ctx, h.Timeout.Duration)
		a, err := r.Prober.Get(rctx, t.Namespace, pod, t.Port, h.Path)
		cancel()
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if msg := judge(h, re, a, err); msg != "" {
			res.Message = fmt.Sprintf("request %d of %d, to pod %s: %s", i+1, h.Count, pod, msg)
			res.Output = tail(string(a.Body))
			return res, nil
		}
	}
	res.Passed = true
	res.Message = fmt.Sprintf("%d requests answered %d", h.Count, h.Status)
	return res, nil
}

// judge says why answer a (or the error err getting it) fails h, "" when
// it passes; re is h.Body compiled.
func judge(h config.HTTPCheck, re *regexp.Regexp, a Answer, err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s", h.Timeout.Duration)
	case err != nil:
		return "the request failed: " + termtext.CleanLines(err.Error(), 512)
	case a.Status != h.Status:
		return fmt.Sprintf("answered %d, want %d", a.Status, h.Status)
	case h.Body != "" && !re.Match(a.Body):
		part := "the body"
		if a.Cut {
			part = fmt.Sprintf("the body's first %d KiB", MaxBody>>10)
		}
		return fmt.Sprintf("%s does not match %q", part, h.Body)
	}
	return ""
}
