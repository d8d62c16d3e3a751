package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/progress"
)

// Retry-After handling bounds: at most this many tries of one request and
// this much waiting in total.
const (
	retryAfterTries   = 5
	retryAfterMaxWait = 30 * time.Second
)

type transportOptions struct {
	host     string
	insecure bool
	pool     *x509.CertPool // system pool plus the CA file; nil for the system pool
	timeouts deadline.Timeouts
	uploads  *uploads
	peers    *peers
}

// newTransport builds the base transport of a Client for one set of
// timeouts: TLS verified against the system pool plus the CA file; for the
// registry's own host, unverified TLS and plain HTTP only when insecure,
// and HTTPS enforced otherwise; every request watched by a
// deadline.Transport, the dialer and TLS handshake bounded as well so that
// abandoned dials end.
func newTransport(o transportOptions) http.RoundTripper {
	base, ok := remote.DefaultTransport.(*http.Transport)
	if !ok {
		base = http.DefaultTransport.(*http.Transport)
	}
	base = base.Clone()
	base.DialContext = (&net.Dialer{Timeout: deadline.Backstop(o.timeouts.Connect), KeepAlive: 30 * time.Second}).DialContext
	base.TLSHandshakeTimeout = deadline.Backstop(o.timeouts.TLS)
	base.MaxResponseHeaderBytes = MaxHeaderSize
	var other = base
	if o.pool != nil {
		other = base.Clone()
		other.TLSClientConfig = &tls.Config{RootCAs: o.pool, MinVersion: tls.VersionTLS12}
	}
	own := base.Clone()
	own.TLSClientConfig = &tls.Config{
		RootCAs:    o.pool,
		MinVersion: tls.VersionTLS12,
		// The user asked for it with insecure: true, for this host only.
		InsecureSkipVerify: o.insecure,
	}
	describe := func(r *http.Request) (string, string) { return describeRequest(r, o.host, o.uploads) }
	document := func(r *http.Request, resp *http.Response) bool { return isDocument(r, resp, o.host) }
	return &hostRouter{
		host:      o.host,
		own:       o.uploads.track(&deadline.Transport{Next: own, Timeouts: o.timeouts, Describe: describe, Document: document}),
		other:     &deadline.Transport{Next: other, Timeouts: o.timeouts, Describe: describe, Document: document},
		httpsOnly: !o.insecure,
		uploads:   o.uploads,
		peers:     o.peers,
	}
}

// hostRouter sends requests for the registry's host through own and all
// others (token servers, blob storage redirects) through other. When
// httpsOnly, plain-HTTP requests to the registry's host are upgraded:
// go-containerregistry would otherwise use HTTP for loopback and private
// addresses, which a registry without insecure: true must not. It notes
// which hosts answered in peers, and holds every small document to
// MaxDocumentSize.
type hostRouter struct {
	host      string
	own       http.RoundTripper
	other     http.RoundTripper
	httpsOnly bool
	uploads   *uploads
	peers     *peers // may be nil
}

func (r *hostRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	next := r.other
	if sameHost(req.URL.Host, r.host) {
		next = r.own
		if r.httpsOnly && req.URL.Scheme == "http" {
			req = req.Clone(req.Context())
			req.URL.Scheme = "https"
		}
	}
	r.peers.trying(req.URL.Host)
	resp, err := next.RoundTrip(req)
	if err != nil {
		if strings.Contains(err.Error(), "server response headers exceeded") {
			// net/http's words for MaxResponseHeaderBytes: a bound, not
			// a failure to retry.
			return nil, &BoundError{What: fmt.Sprintf("%s answered with more headers than Slipway reads", req.URL.Host), Bound: "256 KiB of headers"}
		}
		return resp, err
	}
	r.peers.answered(req.URL.Host)
	if !isDocument(req, resp, r.host) {
		return resp, nil
	}
	return capDocument(req, resp, r.host, r.uploads)
}

// sameHost reports whether the hosts a and b (host or host:port) are the
// same, port 443 being the one a host without a port is reached on: a
// redirect to http://HOST:443/ is to the registry's host, whose token
// go-containerregistry sends there, so it goes over HTTPS as well.
func sameHost(a, b string) bool {
	strip := func(h string) string {
		if host, port, err := net.SplitHostPort(h); err == nil && port == "443" {
			return host
		}
		return h
	}
	return strings.EqualFold(strip(a), strip(b))
}

// retryAfter retries requests answered 429 or 503 with a Retry-After
// header after waiting as asked, when the request can be replayed, within
// a bound of tries and total wait (maxWait, and what is left of the
// budget): a longer Retry-After is not waited for. Anything else is
// returned as is, for go-containerregistry's own backoff to handle. It
// tells the budget of every answer that needs no retry.
type retryAfter struct {
	next     http.RoundTripper
	tries    int
	maxWait  time.Duration
	budget   *budget // may be nil
	progress progress.Reporter
	sleep    func(context.Context, time.Duration) error
	now      func() time.Time
}

func (t *retryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	var waited time.Duration
	for try := 1; ; try++ {
		resp, err := t.next.RoundTrip(req)
		if err != nil {
			return resp, err
		}
		if !slices.Contains(RetryStatusCodes, resp.StatusCode) {
			t.budget.ok()
			return resp, nil
		}
		if try >= t.tries || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
			return resp, nil
		}
		d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), t.now())
		if !ok {
			return resp, nil
		}
		if limit := min(t.maxWait-waited, t.budget.left()); d > limit {
			t.progress.Report(progress.Event{Kind: progress.Warn, Step: "registry",
				Msg: fmt.Sprintf("%s answered %d and asked to retry after %s; Slipway waits at most %s", req.URL.Host, resp.StatusCode, d, max(limit, 0))})
			return resp, nil
		}
		next, ok := rewind(req)
		if !ok {
			return resp, nil
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		t.progress.Report(progress.Event{Kind: progress.Warn, Step: "registry",
			Msg: fmt.Sprintf("%s answered %d; retrying in %s as asked", req.URL.Host, resp.StatusCode, d)})
		if err := t.sleep(req.Context(), d); err != nil {
			return nil, err
		}
		waited += d
		req = next
	}
}

// rewind returns a copy of req with a fresh body, or false when the body
// cannot be read again.
func rewind(req *http.Request) (*http.Request, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	r := req.Clone(req.Context())
	r.Body = body
	return r, true
}

// maxRetryAfter caps what a Retry-After header is read as, far above any
// wait Slipway takes, before it becomes a time.Duration: a larger number
// of seconds would overflow into a negative wait.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date,
// at most maxRetryAfter.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || s > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		return time.Duration(s) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return min(max(at.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Stats counts, as seen on the wire, what a push did with blobs: uploaded,
// skipped because the registry had them, or mounted from another
// repository, and the bytes sent. It is safe for concurrent use; the zero
// value is ready.
type Stats struct {
	mu       sync.Mutex
	uploaded map[string]struct{}
	skipped  map[string]struct{}
	mounted  map[string]struct{}
	bytes    atomic.Int64
}

// Uploaded is how many blobs were uploaded.
func (s *Stats) Uploaded() int { return s.count(&s.uploaded) }

// Skipped is how many blobs the registry already had.
func (s *Stats) Skipped() int { return s.count(&s.skipped) }

// Mounted is how many blobs were mounted from another repository.
func (s *Stats) Mounted() int { return s.count(&s.mounted) }

// Bytes is how many blob bytes were sent.
func (s *Stats) Bytes() int64 { return s.bytes.Load() }

func (s *Stats) count(m *map[string]struct{}) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(*m)
}

func (s *Stats) add(m *map[string]struct{}, digest string) {
	if digest == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if *m == nil {
		*m = map[string]struct{}{}
	}
	(*m)[digest] = struct{}{}
}

// statsTransport observes blob requests of the distribution API.
type statsTransport struct {
	next  http.RoundTripper
	stats *Stats
}

func (t *statsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	path := req.URL.Path
	uploads := strings.Contains(path, "/blobs/uploads")
	if (req.Method == http.MethodPatch || req.Method == http.MethodPut) && uploads &&
		req.Body != nil && req.Body != http.NoBody {
		body := &countingReader{r: req.Body, n: &t.stats.bytes}
		req = req.Clone(req.Context())
		req.Body = body
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	switch {
	case req.Method == http.MethodHead && strings.Contains(path, "/blobs/") && !uploads && resp.StatusCode == http.StatusOK:
		t.stats.add(&t.stats.skipped, path[strings.LastIndex(path, "/")+1:])
	case req.Method == http.MethodPost && uploads && resp.StatusCode == http.StatusCreated:
		t.stats.add(&t.stats.mounted, req.URL.Query().Get("mount"))
	case req.Method == http.MethodPut && uploads && resp.StatusCode == http.StatusCreated:
		t.stats.add(&t.stats.uploaded, req.URL.Query().Get("digest"))
	}
	return resp, nil
}

type countingReader struct {
	r io.ReadCloser
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }
