package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrWholeBlobRefused is matched when a registry refuses a blob sent whole
// in the request that ends its upload session. Every registry the OCI
// distribution spec describes takes one, but a proxy in front may refuse
// a large body, or a registry a PUT that carries one: the caller then
// uploads the blob as go-containerregistry does (a PATCH with the bytes,
// then an empty PUT).
var ErrWholeBlobRefused = errors.New("the registry refused a blob sent whole in one request")

// BlobWriter uploads blobs into one repository in three requests each, the
// fewest that still skip a blob the registry has: HEAD the blob, POST to
// start an upload session, then PUT ?digest= with the whole blob as the
// body, which the registry hashes as it stores it and refuses when the
// digest does not match (DIGEST_INVALID). go-containerregistry's upload
// sends the bytes in a PATCH and commits them with an empty PUT: a
// request and a round trip more per blob, and on docker-registry the
// stored hash state written and read back in between. A single POST
// ?digest= with the body, which the spec allows too, would save one more,
// but docker-registry 2.8 answers it 202 and drops the body.
//
// It uses the client's credentials (push scope), transport, deadlines and
// retries; a failed upload is retried from its start, the bytes opened
// again. It is safe for concurrent use.
type BlobWriter struct {
	repo    name.Repository
	client  *http.Client
	backoff remote.Backoff
	retry   func(error) bool
}

// BlobWriter authenticates with the registry for pushing to repo (one
// ping, and a token request where the registry wants one) and returns a
// writer of its blobs.
func (c *Client) BlobWriter(ctx context.Context, repo name.Repository) (*BlobWriter, error) {
	auth, err := c.keychain.ResolveContext(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("resolving credentials for %s: %w", repo, err)
	}
	t := c.Timeouts(ctx)
	b := c.budget(ctx, t)
	base := c.transportFor(t, b)
	var rt http.RoundTripper = &perAttempt{
		retrying: transport.NewRetry(base, transport.WithRetryBackoff(c.backoff),
			transport.WithRetryStatusCodes(RetryStatusCodes...), transport.WithRetryPredicate(b.retry)),
		once: base,
	}
	rt = transport.NewUserAgent(rt, c.userAgent)
	rt, err = transport.NewWithContext(ctx, repo.Registry, auth, rt, []string{repo.Scope(transport.PushScope)})
	if err != nil {
		return nil, err
	}
	return &BlobWriter{repo: repo, client: &http.Client{Transport: rt, CheckRedirect: CheckRedirect},
		backoff: c.backoff, retry: b.retry}, nil
}

// attemptKey marks the context of the requests of one attempt of Write,
// which retries whole attempts.
type attemptKey struct{}

// perAttempt sends the requests of an attempt of Write once, since Write
// retries the whole attempt (a blob's body cannot be read again, and
// retrying both ways would multiply the tries), and the others (the ping
// and token requests) through retrying.
type perAttempt struct{ retrying, once http.RoundTripper }

func (t *perAttempt) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Context().Value(attemptKey{}) != nil {
		return t.once.RoundTrip(r)
	}
	return t.retrying.RoundTrip(r)
}

// Write uploads blob d, whose bytes open returns, unless the registry has
// it already (then skipped is true and open is not called). A registry
// that refuses the blob sent whole gives an error matching
// ErrWholeBlobRefused; one that finds other bytes than d's digest names
// gives go-containerregistry's DIGEST_INVALID error. Errors that
// go-containerregistry retries are retried, each time from the HEAD,
// within the client's backoff and retry budget.
func (w *BlobWriter) Write(ctx context.Context, d v1.Descriptor, open func() (io.ReadCloser, error)) (skipped bool, err error) {
	return w.WriteGated(ctx, d, open, nil)
}

// Gate holds back the request that carries a blob's bytes until the
// caller lets it go: it returns once the request may start, with the
// function to call when the blob is written or given up, with the error
// it was given up with (nil when written).
type Gate func(ctx context.Context) (release func(error), err error)

// WriteGated is Write, whose reading of the bytes and PUT with them wait
// for gate (when not nil): the HEAD and the POST, which carry nothing, go
// at once, so that when one blob's bytes are sent the next one's session
// is open already, and the first blobs' bytes are opened while their
// sessions start.
func (w *BlobWriter) WriteGated(ctx context.Context, d v1.Descriptor, open func() (io.ReadCloser, error), gate Gate) (skipped bool, err error) {
	if gate != nil {
		// Once let through, a blob keeps its way until it is written or
		// given up: its retries do not queue behind other blobs.
		var release func(error)
		defer func() {
			if release != nil {
				release(err)
			}
		}()
		once := gate
		gate = func(ctx context.Context) (func(error), error) {
			if release == nil {
				r, err := once(ctx)
				if err != nil {
					return nil, err
				}
				release = r
			}
			return func(error) {}, nil
		}
	}
	ctx = context.WithValue(ctx, attemptKey{}, true)
	bo := w.backoff
	for {
		skipped, err = w.writeOnce(ctx, d, open, gate)
		if err == nil || !w.retry(err) || bo.Steps <= 1 {
			return skipped, err
		}
		if serr := sleepContext(ctx, bo.Step()); serr != nil {
			return false, err
		}
	}
}

func (w *BlobWriter) writeOnce(ctx context.Context, d v1.Descriptor, open func() (io.ReadCloser, error), gate Gate) (bool, error) {
	if has, err := w.has(ctx, d.Digest); err != nil || has {
		return has, err
	}
	// The session starts at once, and the bytes are opened (for a blob
	// read from another registry, a round trip of its own) once the gate
	// lets them, whether or not the session has started by then.
	var loc *url.URL
	var serr error
	started := make(chan struct{})
	go func() {
		defer close(started)
		loc, serr = w.start(ctx)
	}()
	if gate != nil {
		release, err := gate(ctx)
		if err != nil {
			<-started
			return false, err
		}
		defer release(nil) // the caller's release, in WriteGated, gets the outcome
	}
	if d.Size > 0 { // put sends no bytes for an empty blob
		body, err := open()
		if err != nil {
			<-started
			return false, err
		}
		first := &openedOnce{body: body, open: open}
		defer first.closeUnused()
		open = first.take
	}
	<-started
	if serr != nil {
		return false, serr
	}
	return false, w.put(ctx, loc, d, open)
}

// openedOnce hands out body the first time it is taken, then what open
// returns (a redirect or a retry sends the bytes again, read anew).
type openedOnce struct {
	mu   sync.Mutex
	body io.ReadCloser
	open func() (io.ReadCloser, error)
}

func (o *openedOnce) take() (io.ReadCloser, error) {
	o.mu.Lock()
	b := o.body
	o.body = nil
	o.mu.Unlock()
	if b != nil {
		return b, nil
	}
	return o.open()
}

// closeUnused closes body when it was never taken.
func (o *openedOnce) closeUnused() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
}

// url is the URL of path in the repository's registry.
func (w *BlobWriter) url(path string) string {
	return (&url.URL{Scheme: w.repo.Scheme(), Host: w.repo.RegistryStr(), Path: "/v2/" + w.repo.RepositoryStr() + path}).String()
}

// do sends a request to u, with the body open returns when open is not
// nil, and checks that the answer is one of want.
func (w *BlobWriter) do(ctx context.Context, method, u string, open func() (io.ReadCloser, error), size int64, want ...int) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	if open != nil {
		if req.Body, err = open(); err != nil {
			return nil, err
		}
		// With GetBody a 307 or 308 redirect, or a retry after a
		// Retry-After, sends the bytes again, read anew.
		req.GetBody, req.ContentLength = open, size
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, want...); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// has reports whether the registry has blob h in the repository.
func (w *BlobWriter) has(ctx context.Context, h v1.Hash) (bool, error) {
	resp, err := w.do(ctx, http.MethodHead, w.url("/blobs/"+h.String()), nil, 0, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// start starts an upload session and returns where its bytes go.
func (w *BlobWriter) start(ctx context.Context) (*url.URL, error) {
	resp, err := w.do(ctx, http.MethodPost, w.url("/blobs/uploads/"), nil, 0, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return uploadLocation(resp)
}

// uploadLocation is where resp's Location sends an upload next, resolved
// against the request. As in go-containerregistry, another host that is a
// private, loopback or link-local address is refused: the bytes must not
// go to an internal service a registry names.
func uploadLocation(resp *http.Response) (*url.URL, error) {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, fmt.Errorf("starting an upload: the registry answered %d without a Location", resp.StatusCode)
	}
	u, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("starting an upload: parsing its Location %q: %w", quoteBound(loc), err)
	}
	if from, to := resp.Request.URL.Hostname(), u.Hostname(); to != from && isPrivateOrLinkLocal(to) {
		return nil, fmt.Errorf("starting an upload: %w: its Location names %q, a private, loopback or link-local address",
			ErrRedirect, quoteBound(to))
	}
	return u, nil
}

// put sends blob d whole to the upload session at loc and ends it.
func (w *BlobWriter) put(ctx context.Context, loc *url.URL, d v1.Descriptor, open func() (io.ReadCloser, error)) error {
	u := *loc
	q := u.Query()
	q.Set("digest", d.Digest.String())
	u.RawQuery = q.Encode()
	if d.Size == 0 {
		open = func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	resp, err := w.do(ctx, http.MethodPut, u.String(), open, d.Size, http.StatusCreated)
	if err != nil {
		if refusedWhole(err) {
			return fmt.Errorf("%w: %w", ErrWholeBlobRefused, err)
		}
		return err
	}
	resp.Body.Close()
	return nil
}

// refusedWhole reports whether err, the answer to a PUT with a whole
// blob, refuses that way of uploading rather than the blob or the
// client: a 4xx other than for credentials (401, 403), a timeout or rate
// limit (408, 429, retried) or bytes that do not match the digest
// (DIGEST_INVALID); or 501 Not Implemented.
func refusedWhole(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == transport.DigestInvalidErrorCode {
			return false
		}
	}
	switch s := te.StatusCode; {
	case s == http.StatusNotImplemented:
		return true
	case s == http.StatusUnauthorized, s == http.StatusForbidden, s == http.StatusRequestTimeout, s == http.StatusTooManyRequests:
		return false
	default:
		return s >= 400 && s < 500
	}
}
