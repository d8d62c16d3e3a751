package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/progress"
)

// budget bounds how long one operation (the requests made with one set of
// RemoteOptions) keeps retrying: once requests have failed for longer than
// limit since the last answer that needed no retry, failures are final; a
// host that has not answered once since it was first tried is given up on
// after unanswered. The number of tries is bounded by the backoff's steps
// besides. Each retry is reported as a warning. A nil *budget never runs
// out.
type budget struct {
	ctx        context.Context
	limit      time.Duration
	unanswered time.Duration
	steps      int // of the backoff, for messages
	peers      *peers
	progress   progress.Reporter
	now        func() time.Time

	mu           sync.Mutex
	failingSince time.Time
	failures     int // since the last answer that needed no retry
}

func newBudget(ctx context.Context, limit time.Duration) *budget {
	return &budget{ctx: ctx, limit: limit, progress: progress.Discard, now: time.Now}
}

// ok records an answer that needed no retry.
func (b *budget) ok() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.failingSince, b.failures = time.Time{}, 0
	b.mu.Unlock()
}

// left is how much of the budget remains for waiting before a retry.
func (b *budget) left() time.Duration {
	if b == nil {
		return time.Duration(1<<63 - 1)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failingSince.IsZero() {
		return b.limit
	}
	return b.limit - b.now().Sub(b.failingSince)
}

// retry is the retry predicate of go-containerregistry: the errors it
// would retry (temporary ones, timeouts among them, and broken
// connections), while ctx lasts and the budget does. It says what it
// retries, so that a registry that never answers does not keep a command
// silent.
func (b *budget) retry(err error) bool {
	if err == nil || !retryable(err) {
		return false
	}
	if b == nil {
		return true
	}
	if b.ctx.Err() != nil {
		return false
	}
	host, reason := retryReason(err)
	now := b.now()
	b.mu.Lock()
	if b.failingSince.IsZero() {
		b.failingSince = now
	}
	b.failures++
	attempt := b.failures + 1
	silent, never := b.peers.silentFor(host, now)
	ok := now.Sub(b.failingSince) < b.limit && !(never && b.unanswered > 0 && silent >= b.unanswered)
	b.mu.Unlock()
	if ok && host != "" && (b.steps <= 0 || attempt <= b.steps) {
		msg := fmt.Sprintf("registry %s: %s; retrying (attempt %d", host, reason, attempt)
		if b.steps > 0 {
			msg += fmt.Sprintf(" of %d", b.steps)
		}
		if never && b.unanswered > 0 {
			msg += fmt.Sprintf("; it has not answered yet, so Slipway gives up %s after first trying it", b.unanswered)
		}
		b.progress.Report(progress.Event{Kind: progress.Warn, Step: "registry", Msg: msg + ")"})
	}
	return ok
}

// retryReason names the host a failure came from and says what failed,
// in Slipway's words: never a registry's own text, which is untrusted.
func retryReason(err error) (host, reason string) {
	var de *deadline.Error
	var te *transport.Error
	var ue *url.Error
	switch {
	case errors.As(err, &de):
		return de.Host, de.Detail()
	case errors.As(err, &te):
		if te.Request != nil && te.Request.URL != nil {
			host = te.Request.URL.Host
		}
		return host, fmt.Sprintf("answered %d %s", te.StatusCode, http.StatusText(te.StatusCode))
	case errors.As(err, &ue):
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Host
		}
	}
	return host, "the connection failed"
}

// peers remembers, for one Client, when each host was first tried and
// whether it ever answered. It is bounded and safe for concurrent use; a
// nil *peers knows nothing.
type peers struct {
	mu     sync.Mutex
	first  map[string]time.Time // host -> first request sent
	answer map[string]bool
}

// maxPeers bounds the hosts remembered: a registry, its token server and
// blob storage are a handful.
const maxPeers = 64

func (p *peers) trying(host string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.first == nil {
		p.first, p.answer = map[string]time.Time{}, map[string]bool{}
	}
	if _, ok := p.first[host]; !ok && len(p.first) < maxPeers {
		p.first[host] = time.Now()
	}
}

func (p *peers) answered(host string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.first[host]; ok {
		p.answer[host] = true
	}
}

// silentFor is how long host has been tried without ever answering;
// never is false when it answered, or is not known.
func (p *peers) silentFor(host string, now time.Time) (d time.Duration, never bool) {
	if p == nil || host == "" {
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	first, ok := p.first[host]
	if !ok || p.answer[host] {
		return 0, false
	}
	return now.Sub(first), true
}

// retryable is go-containerregistry's default predicate, looking through
// wrapping.
func retryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, ErrBlobSize) ||
		errors.Is(err, ErrTooLarge) || errors.Is(err, ErrRedirect) {
		return false
	}
	if errors.Is(err, deadline.ErrTimeout) {
		return true
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}
