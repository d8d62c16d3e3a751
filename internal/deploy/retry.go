package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/progress"
)

// Pauses between the tries of an API call that fails as calls to a
// restarting API server fail: from retryFirst, doubling up to retryMost.
const (
	retryFirst = 250 * time.Millisecond
	retryMost  = 5 * time.Second
)

// unansweredSpell bounds the retries of a call to an API server that has
// answered no call of this run: it may be restarting, or the kubeconfig
// may point at nothing, which must not cost minutes to find out.
const unansweredSpell = 10 * time.Second

// apiState is what the copies of one Cluster (see with) share.
type apiState struct {
	// answered is set once the API server answered a call.
	answered atomic.Bool
}

// WithProgress returns a copy of c whose calls ride out an API server
// that restarts (see call), reporting the retries to rep. Deploy, Undo
// and Lock make one of their own; other calls of a Cluster are tried once.
func (c *Cluster) WithProgress(rep progress.Reporter) *Cluster { return c.with(rep, c.spell) }

// with returns a copy of c whose calls are retried (see call), reporting
// to rep, for at most spell (0: Timeouts.Retries alone bounds it). The
// copies share whether the API server has answered.
func (c *Cluster) with(rep progress.Reporter, spell time.Duration) *Cluster {
	cc := *c
	cc.rep, cc.spell, cc.retrying = rep, spell, true
	if cc.api == nil {
		cc.api = &apiState{}
	}
	return &cc
}

// retried runs f through c.call and returns its result.
func retried[T any](ctx context.Context, c *Cluster, doing string, f func(context.Context) (T, error)) (T, error) {
	var out T
	err := c.call(ctx, doing, func(ctx context.Context) (err error) {
		out, err = f(ctx)
		return err
	})
	return out, err
}

// call runs f, one API call (or a few that are safe to repeat together).
// On a Cluster made by with (or WithProgress) it runs f again while it
// fails as calls to a restarting API server fail (see restarting): with pauses from retryFirst doubling up to
// retryMost, for at most the retry spell since its first failure, never
// past ctx's deadline. The spell is the request timeouts' Retries (2
// minutes by default), at most the run's own (see with), and at most
// unansweredSpell while the API server has answered no call. The first
// retry, and a recovery, are reported; doing names the call in the
// report ("reading Deployment hello/hello"). It returns f's last error,
// unexplained, noting how long it was retried.
//
// Every call retried must be safe to repeat when an earlier try reached
// the server but its answer was lost: server-side applies, reads and
// deletes are; an update carries the resourceVersion read, so a repeat
// is a conflict that the caller reads again after.
func (c *Cluster) call(ctx context.Context, doing string, f func(context.Context) error) error {
	var failedAt time.Time
	delay := cmp.Or(c.retryFirst, retryFirst)
	for {
		err := f(ctx)
		if err == nil || !c.retrying || !restarting(err) {
			if err == nil || isAPIStatus(err) {
				c.markAnswered()
			}
			if !failedAt.IsZero() && err == nil {
				c.report(progress.Info, fmt.Sprintf("the API server of %s answers again, after %s", c.Env, time.Since(failedAt).Round(time.Second)))
			}
			return err
		}
		if ctx.Err() != nil {
			return err
		}
		now := time.Now()
		spell := c.retrySpell(ctx)
		if failedAt.IsZero() {
			failedAt = now
			c.report(progress.Warn, fmt.Sprintf("the API server of %s (context %s) %s while %s; retrying for up to %s",
				c.Env, c.Context, restartSymptom(err), doing, spell.Round(time.Second)))
		}
		dl, hasDL := ctx.Deadline()
		if now.Add(delay).Sub(failedAt) > spell || (hasDL && now.Add(delay).After(dl)) {
			return fmt.Errorf("%w (retried for %s)", err, now.Sub(failedAt).Round(time.Millisecond))
		}
		pause(ctx, delay)
		if ctx.Err() != nil {
			return err
		}
		delay = min(2*delay, retryMost)
	}
}

// retrySpell is how long a failing call is retried (see call).
func (c *Cluster) retrySpell(ctx context.Context) time.Duration {
	spell := c.Timeouts(ctx).Retries
	if c.spell > 0 {
		spell = min(spell, c.spell)
	}
	if c.api == nil || !c.api.answered.Load() {
		spell = min(spell, unansweredSpell)
	}
	return spell
}

func (c *Cluster) markAnswered() {
	if c.api != nil {
		c.api.answered.Store(true)
	}
}

func (c *Cluster) report(kind progress.Kind, msg string) {
	progress.Or(c.rep).Report(progress.Event{Kind: kind, Step: "cluster", Msg: msg})
}

func isAPIStatus(err error) bool {
	var se apierrors.APIStatus
	return errors.As(err, &se)
}

// restarting reports whether err is how a call fails while the API server
// restarts, or sheds load: the connection refused, reset or closed
// before the answer (EOF, GOAWAY), a request timed out (deadline.Error
// included), and the answers 503, 504, 429 and server timeouts. Every
// other answer, and a cancelled context, is final; so are TLS and name
// resolution errors, which a restart does not cause.
func restarting(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se apierrors.APIStatus
	if errors.As(err, &se) {
		switch se.Status().Code {
		case http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
			return true
		}
		return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err)
	}
	var de *deadline.Error
	// A request on a connection closed under it (seen: a restart noticed by
	// the lock's renewal closes the connection an apply is on) never
	// reached an answer; every call retried here is idempotent.
	return errors.As(err, &de) || strings.Contains(err.Error(), "http2: client connection force closed") || utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) ||
		utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) || utilnet.IsTimeout(err)
}

// restartSymptom says, in a few words and without any text of the
// server's, how a call failed, for restarting errors.
func restartSymptom(err error) string {
	var se apierrors.APIStatus
	switch {
	case errors.As(err, &se):
		code := int(se.Status().Code)
		return fmt.Sprintf("answers %d %s", code, http.StatusText(code))
	case utilnet.IsConnectionRefused(err):
		return "refuses connections"
	case utilnet.IsTimeout(err):
		return "does not answer in time"
	}
	return "closed the connection"
}
