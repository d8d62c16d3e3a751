package registry

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/slipwayhq/slipway/internal/deadline"
)

// budget bounds how long one operation (the requests made with one set of
// RemoteOptions) keeps retrying: once requests have failed for longer than
// limit since the last answer that needed no retry, failures are final.
// The number of tries is bounded by the backoff's steps besides. A nil
// *budget never runs out.
type budget struct {
	ctx   context.Context
	limit time.Duration
	now   func() time.Time

	mu           sync.Mutex
	failingSince time.Time
}

func newBudget(ctx context.Context, limit time.Duration) *budget {
	return &budget{ctx: ctx, limit: limit, now: time.Now}
}

// ok records an answer that needed no retry.
func (b *budget) ok() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.failingSince = time.Time{}
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
// connections), while ctx lasts and the budget does.
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
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.failingSince.IsZero() {
		b.failingSince = now
	}
	return now.Sub(b.failingSince) < b.limit
}

// retryable is go-containerregistry's default predicate, looking through
// wrapping.
func retryable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || errors.Is(err, ErrBlobSize) {
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
