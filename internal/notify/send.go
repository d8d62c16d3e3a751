package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slipwayhq/slipway/internal/termtext"
)

// Defaults of Send: all targets are told at once, and together they may
// hold a command for Budget at most.
const (
	DefaultBudget   = 5 * time.Second
	DefaultAttempt  = 2 * time.Second
	DefaultAttempts = 3
	// maxReply is how much of a reply is read; the rest is dropped with
	// the connection.
	maxReply = 64 << 10
	// maxQuote is how much of a failed reply a warning quotes.
	maxQuote = 200
)

// Options bound Send.
type Options struct {
	// Budget is the time all targets share (default DefaultBudget); Attempt
	// the time one request may take (default DefaultAttempt); Attempts how
	// often a target is tried (default DefaultAttempts).
	Budget, Attempt time.Duration
	Attempts        int
	// Client sends the requests (default: one that follows no redirect,
	// so that no header goes to a host it was not meant for).
	Client *http.Client
	// Backoff is the pause before the nth retry (default 250ms·n).
	Backoff func(n int) time.Duration
}

// Result is what became of telling one target.
type Result struct {
	Target   string `json:"target"`
	Attempts int    `json:"attempts"`
	// Status is the last reply's HTTP status, 0 when none came.
	Status int `json:"status,omitempty"`
	// Err is why the target was not told; nil when it was.
	Err error `json:"-"`
}

// Send tells every target ev at once, each in up to o.Attempts tries,
// and returns when all are told or o.Budget is spent. A target answering
// 2xx is told; a network error, a timeout, 429 or 5xx is tried again; any
// other answer is final. Errors never hold a target's URL or secrets.
func Send(ctx context.Context, targets []Target, ev Event, o Options) []Result {
	o = o.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.Budget)
	defer cancel()
	delivery := newDelivery()
	out := make([]Result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = tell(ctx, t, ev, delivery, o)
		}()
	}
	wg.Wait()
	return out
}

// withDefaults is o with its zero fields filled.
func (o Options) withDefaults() Options {
	if o.Budget <= 0 {
		o.Budget = DefaultBudget
	}
	if o.Attempt <= 0 {
		o.Attempt = DefaultAttempt
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.Client == nil {
		o.Client = defaultClient
	}
	if o.Backoff == nil {
		o.Backoff = func(n int) time.Duration { return time.Duration(n) * 250 * time.Millisecond }
	}
	return o
}

// defaultClient follows no redirect: a redirect would carry a token
// header (PRIVATE-TOKEN) to wherever it points.
var defaultClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport: &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            (&net.Dialer{Timeout: DefaultAttempt}).DialContext,
		TLSHandshakeTimeout:    DefaultAttempt,
		ResponseHeaderTimeout:  DefaultAttempt,
		MaxResponseHeaderBytes: 16 << 10,
	},
}

// tell tries target t until it is told, refuses for good, or ctx ends.
func tell(ctx context.Context, t Target, ev Event, delivery string, o Options) Result {
	res := Result{Target: t.Name()}
	for res.Attempts < o.Attempts {
		if res.Attempts > 0 {
			select {
			case <-ctx.Done():
				return res
			case <-time.After(o.Backoff(res.Attempts)):
			}
		}
		res.Attempts++
		status, retry, err := attempt(ctx, t, ev, delivery, o)
		res.Status, res.Err = status, err
		if err == nil || !retry || ctx.Err() != nil {
			break
		}
	}
	if res.Err != nil {
		res.Err = redact(res.Err, t.secrets())
	}
	return res
}

// attempt sends one request; retry says whether another may do better.
func attempt(ctx context.Context, t Target, ev Event, delivery string, o Options) (status int, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, o.Attempt)
	defer cancel()
	req, err := t.request(ctx, ev, delivery)
	if err != nil {
		return 0, false, err
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text holds the URL
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = errors.New("no answer in time")
		}
		return 0, true, fmt.Errorf("posting to %s: %w", host(req.URL), err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return code, false, nil
	case code == http.StatusTooManyRequests || code >= 500:
		return code, true, answered(req.URL, resp.Status, reply)
	default:
		return code, false, answered(req.URL, resp.Status, reply)
	}
}

// answered is the error of a reply that was not 2xx, quoting its start,
// cleaned for a terminal.
func answered(u *url.URL, status string, reply []byte) error {
	quote := termtext.CleanLines(strings.TrimSpace(string(reply)), maxQuote)
	if quote == "" {
		return fmt.Errorf("%s answered %s", host(u), termtext.Clean(status))
	}
	return fmt.Errorf("%s answered %s: %s", host(u), termtext.Clean(status), quote)
}

// host is what a warning names of a target's URL: its host only, since
// the path or query of a webhook URL may be its secret.
func host(u *url.URL) string {
	if u == nil {
		return "the target"
	}
	return u.Host
}

// redact replaces every secret in err's text.
func redact(err error, secrets []string) error {
	msg := err.Error()
	// The longest first: a secret within another is not cut out of it,
	// leaving the rest.
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// newDelivery is a random ID, the same for each try of one event.
func newDelivery() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
