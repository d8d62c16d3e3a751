package deadline

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// ErrTimeout is matched by every *Error.
var ErrTimeout = errors.New("network timeout")

// Wait is what a request was waiting for when it timed out.
type Wait int

// The waits of a request, in the order they happen.
const (
	WaitConnect Wait = iota // the TCP connection (and name resolution)
	WaitTLS                 // the TLS handshake
	WaitSend                // the server taking the request body
	WaitHeaders             // the response headers
	WaitBody                // more of the response body
	// WaitDocument is the whole body of a small document (see
	// Transport.Document), moving or not.
	WaitDocument
)

// phrase is how an Error says what did not happen.
func (w Wait) phrase() string {
	switch w {
	case WaitConnect:
		return "no connection within"
	case WaitTLS:
		return "no TLS handshake within"
	case WaitSend:
		return "the upload stalled: nothing sent for"
	case WaitHeaders:
		return "no response headers within"
	case WaitDocument:
		return "the response was not complete within"
	default:
		return "the response stalled: nothing received for"
	}
}

// Error is a request that waited longer than its Timeouts allow. It
// matches ErrTimeout, is a net.Error whose Timeout is true, and names the
// server and what was being done, never a URL or a credential.
type Error struct {
	// Server says what kind of server it is, e.g. "registry".
	Server string
	// Host is the host:port waited on.
	Host string
	// Wait is what did not happen in time.
	Wait Wait
	// Limit is how long it was waited for.
	Limit time.Duration
	// Doing is what Slipway was doing, e.g. "pushing blob sha256:abcd…".
	Doing string
	// Err is the underlying error, if any: when a lower layer gave up
	// first (a dialer's or TLS handshake's own limit).
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Server, e.Host, e.Detail())
}

// Detail is the message without the server, for callers that name it
// themselves: "no response headers within 30s while pushing blob ...".
func (e *Error) Detail() string {
	s := fmt.Sprintf("%s %s", e.Wait.phrase(), e.Limit)
	if e.Doing != "" {
		s += " while " + e.Doing
	}
	return s
}

// Is makes errors.Is(err, ErrTimeout) true.
func (e *Error) Is(target error) bool { return target == ErrTimeout }

// Unwrap returns the lower layer's error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Timeout is true: an Error is a net.Error that timed out.
func (e *Error) Timeout() bool { return true }

// Temporary is true: the request may be retried (within the retry bounds).
func (e *Error) Temporary() bool { return true }

var _ net.Error = (*Error)(nil)

// Backstop is the limit to give a dialer or TLS handshake below a
// Transport with limit d: a little longer, so that the Transport, which
// knows what was being done, speaks first, while dials it abandoned
// (net/http lets them finish for later requests) still end.
func Backstop(d time.Duration) time.Duration { return d + d/2 + time.Second }

// Describe says what kind of server a request goes to and what it does,
// for messages, e.g. "registry", "pushing blob sha256:abcd…".
type Describe func(*http.Request) (server, doing string)

// Transport enforces Timeouts on each request it sends through Next: one
// watchdog per request follows it through connect, TLS, sending, headers
// and body (with httptrace), and cancels it with an *Error when a wait
// runs past its limit. Body waits count only time spent blocked on the
// network: a reader that pauses, or an upload whose own source is slow,
// does not blame the server.
type Transport struct {
	// Next sends the requests (default http.DefaultTransport).
	Next http.RoundTripper
	// Timeouts are completed by Defaults; timeouts in a request's context
	// (WithContext) win over them.
	Timeouts Timeouts
	// Describe names the server and the operation in errors (default:
	// "server", the method and path).
	Describe Describe
	// Document, when set, picks the responses whose body is a small
	// document (a manifest, a tag list, a token, an error message): their
	// whole body must arrive within Timeouts.Document of the headers,
	// however it moves. Other bodies (blobs) only must not stop moving.
	// The clock runs whether or not the body is being read: documents are
	// read at once.
	Document func(*http.Request, *http.Response) bool
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	lim := FromContext(req.Context()).Or(t.Timeouts).Or(Defaults)
	ctx, cancel := context.WithCancelCause(req.Context())
	w := &watchdog{lim: lim, req: req, describe: t.Describe, cancel: cancel}
	w.arm(WaitConnect)
	https := req.URL.Scheme == "https"
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) {
			if err == nil && https {
				w.arm(WaitTLS)
			}
		},
		TLSHandshakeStart: func() { w.arm(WaitTLS) },
		TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
			if err == nil {
				w.arm(WaitSend)
			}
		},
		GotConn:      func(httptrace.GotConnInfo) { w.arm(WaitSend) },
		WroteRequest: func(httptrace.WroteRequestInfo) { w.arm(WaitHeaders) },
	})
	out := req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		out.Body = &sendBody{rc: req.Body, w: w}
		if req.GetBody != nil {
			out.GetBody = func() (io.ReadCloser, error) {
				b, err := req.GetBody()
				if err != nil || b == nil || b == http.NoBody {
					return b, err
				}
				return &sendBody{rc: b, w: w}, nil
			}
		}
	}
	resp, err := next.RoundTrip(out)
	if err != nil {
		err = w.failed(err)
		w.stop()
		cancel(nil)
		return nil, err
	}
	w.enter(WaitBody, false)
	if t.Document != nil && t.Document(req, resp) {
		w.bound(lim.Document)
	}
	resp.Body = &recvBody{rc: resp.Body, w: w}
	return resp, nil
}

// watchdog follows one request through its waits.
type watchdog struct {
	lim      Timeouts
	req      *http.Request
	describe Describe
	cancel   context.CancelCauseFunc

	mu      sync.Mutex
	wait    Wait
	limit   time.Duration
	since   time.Time // when the current wait began
	active  bool      // the clock runs (body waits pause it)
	timer   *time.Timer
	total   *time.Timer // the whole body's, for documents
	pending bool        // timer is set
	fireAt  time.Time   // when it fires
	fired   *Error
	done    bool
}

func (w *watchdog) limitOf(wt Wait) time.Duration {
	switch wt {
	case WaitConnect:
		return w.lim.Connect
	case WaitTLS:
		return w.lim.TLS
	case WaitHeaders:
		return w.lim.Headers
	default:
		return w.lim.Idle
	}
}

// arm starts (or restarts) the clock of wait wt; waits only move forward.
func (w *watchdog) arm(wt Wait) { w.enter(wt, true) }

// pause stops the clock of wait wt, if it is the current one: the body is
// not being waited on (the reader is busy elsewhere).
func (w *watchdog) pause(wt Wait) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wait == wt {
		w.active = false
	}
}

// enter moves to wait wt, its clock running when active.
func (w *watchdog) enter(wt Wait, active bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.fired != nil || wt < w.wait {
		return
	}
	now := time.Now()
	w.wait, w.limit, w.since, w.active = wt, w.limitOf(wt), now, active
	if !active {
		return
	}
	// The timer is set once and moved only when this wait ends earlier
	// than it would fire: a body read calls this for every chunk, and
	// check sets the timer again for what is left when it fires early.
	at := now.Add(w.limit)
	if w.pending && !at.Before(w.fireAt) {
		return
	}
	w.pending, w.fireAt = true, at
	if w.timer == nil {
		w.timer = time.AfterFunc(w.limit, w.check)
	} else {
		w.timer.Reset(w.limit)
	}
}

// check runs when the timer fires: it cancels the request when the
// current wait has run past its limit, else sets the timer for the rest.
func (w *watchdog) check() {
	w.mu.Lock()
	w.pending = false
	if w.done || w.fired != nil || !w.active {
		w.mu.Unlock()
		return
	}
	if left := w.limit - time.Since(w.since); left > 0 {
		w.pending, w.fireAt = true, time.Now().Add(left)
		w.timer.Reset(left)
		w.mu.Unlock()
		return
	}
	w.fired = w.errorLocked(w.limit, nil)
	e := w.fired
	w.mu.Unlock()
	w.cancel(e)
}

func (w *watchdog) errorLocked(limit time.Duration, err error) *Error {
	server, doing := "server", w.req.Method+" "+w.req.URL.Path
	if w.describe != nil {
		server, doing = w.describe(w.req)
	}
	return &Error{Server: server, Host: w.req.URL.Host, Wait: w.wait, Limit: limit, Doing: doing, Err: err}
}

// bound cancels the request with an *Error (WaitDocument) when its body
// has not ended d from now, whether it moves or not.
func (w *watchdog) bound(d time.Duration) {
	if d <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.fired != nil {
		return
	}
	w.total = time.AfterFunc(d, func() {
		w.mu.Lock()
		if w.done || w.fired != nil {
			w.mu.Unlock()
			return
		}
		w.wait = WaitDocument
		w.fired = w.errorLocked(d, nil)
		e := w.fired
		w.mu.Unlock()
		w.cancel(e)
	})
}

// stop ends the watch.
func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if w.timer != nil {
		w.timer.Stop()
	}
	if w.total != nil {
		w.total.Stop()
	}
}

// failed turns the error of a failed request into an *Error when the
// watchdog cancelled it, or when a lower layer's own limit ran out during
// a wait (a dialer's timeout, say); other errors, among them the *Error
// of another request read as this one's body, are returned as they are.
func (w *watchdog) failed(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fired != nil {
		return w.fired
	}
	var own *Error
	if errors.As(err, &own) {
		// Another request's timeout (an upload's source, say) that
		// came through this one: it is not this server's.
		return err
	}
	var ne net.Error
	if !w.done && errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, context.DeadlineExceeded) {
		return w.errorLocked(roundLimit(time.Since(w.since)), err)
	}
	return err
}

func roundLimit(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// sendBody is a request body whose reads pause the send clock: time spent
// in Read waits on the body's source, time between reads on the server.
type sendBody struct {
	rc io.ReadCloser
	w  *watchdog
}

func (b *sendBody) Read(p []byte) (int, error) {
	b.w.pause(WaitSend)
	n, err := b.rc.Read(p)
	b.w.arm(WaitSend)
	return n, err
}

func (b *sendBody) Close() error { return b.rc.Close() }

// recvBody is a response body whose reads run the receive clock only
// while they are blocked on the server.
type recvBody struct {
	rc io.ReadCloser
	w  *watchdog
}

func (b *recvBody) Read(p []byte) (int, error) {
	b.w.arm(WaitBody)
	n, err := b.rc.Read(p)
	b.w.pause(WaitBody)
	if err != nil && err != io.EOF {
		b.w.mu.Lock()
		if f := b.w.fired; f != nil {
			err = f
		}
		b.w.mu.Unlock()
	}
	return n, err
}

func (b *recvBody) Close() error {
	err := b.rc.Close()
	b.w.stop()
	b.w.cancel(nil)
	return err
}
