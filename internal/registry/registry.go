package registry

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/progress"
)

// DefaultUserAgent is sent when Options.UserAgent is empty.
const DefaultUserAgent = "slipway"

// DefaultJobs is how many blobs are uploaded at once when Options.Jobs is 0.
const DefaultJobs = 4

// DefaultBackoff is the retry schedule for 408, 429, 5xx and network errors:
// five tries, waiting about 1s, 2s, 4s and 8s between them.
var DefaultBackoff = remote.Backoff{
	Duration: time.Second,
	Factor:   2,
	Jitter:   0.1,
	Steps:    5,
}

// RetryStatusCodes are the HTTP statuses that are retried with backoff.
var RetryStatusCodes = []int{
	http.StatusRequestTimeout,
	http.StatusTooManyRequests,
	http.StatusInternalServerError,
	http.StatusBadGateway,
	http.StatusServiceUnavailable,
	http.StatusGatewayTimeout,
}

// UnansweredRetries bounds how long requests to a host that has not
// answered once since it was first tried are retried, well below
// Timeouts.Retries: a host that answered before may be restarting, one
// that never did is more likely wrong or dead, and waiting minutes on it
// in silence helps no one.
const UnansweredRetries = 30 * time.Second

// ErrBadURL is returned by New when a registry URL cannot be used.
var ErrBadURL = errors.New("invalid registry url")

// Options configures a Client for one registry of slipway.yaml.
type Options struct {
	// Name is the registry's name in slipway.yaml, e.g. dev. It names the
	// SLIPWAY_REGISTRY_<NAME>_USERNAME and _PASSWORD variables. Default:
	// Registry.Name; when both are empty no variables are read.
	Name string
	// Registry is the registry's configuration.
	Registry config.Registry
	// Jobs is how many blobs are transferred at once (default DefaultJobs).
	Jobs int
	// UserAgent is sent with every request, e.g. slipway/1.2.3
	// (default DefaultUserAgent).
	UserAgent string
	// Progress receives warnings about retries (default progress.Discard).
	Progress progress.Reporter
	// Keychain is asked for credentials after the environment variables
	// (default authn.DefaultKeychain: Docker config and credential helpers).
	Keychain authn.Keychain
	// Backoff is the retry schedule (default DefaultBackoff).
	Backoff remote.Backoff
	// Timeouts bound every request and how long retries go on; zero
	// fields are taken from SLIPWAY_NETWORK_TIMEOUT, then
	// deadline.Defaults. Timeouts in a request's context
	// (deadline.WithContext) win over them.
	Timeouts Timeouts
}

// Timeouts bound the waits of each request: connect, TLS handshake,
// response headers, a body that stops moving (Idle) and the whole body of
// a small document (Document), and how long an operation keeps retrying
// (Retries).
type Timeouts = deadline.Timeouts

// DefaultTimeouts are the timeouts when neither Options,
// SLIPWAY_NETWORK_TIMEOUT nor the context set them: connect 10s, TLS 10s,
// headers 30s, idle body 60s, document 30s, retries 2m.
var DefaultTimeouts = deadline.Defaults

// Client holds everything needed to talk to one registry: the parsed URL,
// credentials, transport and retry policy. It is safe for concurrent use.
type Client struct {
	name      string
	reg       config.Registry
	registry  name.Registry
	prefix    string // repository prefix below the host, may be empty
	nameOpts  []name.Option
	keychain  *keychain
	timeouts  Timeouts                       // resolved: every field set
	ca        func() (*x509.CertPool, error) // see lazyCA
	uploads   *uploads
	cache     *sync.Map    // Timeouts -> http.RoundTripper
	peers     *peers       // the hosts tried and answered, shared by copies
	pings     *pings       // the registry's answers to the version check, shared by copies
	noRefs    *noReferrers // the repositories whose registry lacks the referrers API, shared by copies
	tokens    *tokens      // the tokens its token server handed out, shared by copies
	stats     *Stats       // may be nil
	jobs      int
	userAgent string
	progress  progress.Reporter
	backoff   remote.Backoff
	// unanswered is UnansweredRetries; tests shorten it.
	unanswered time.Duration
}

// New returns a Client for o.Registry. It makes no request, and reads the
// CA file, if any, only when the first request needs it.
func New(o Options) (*Client, error) {
	c := &Client{
		name:      o.Name,
		reg:       o.Registry,
		jobs:      o.Jobs,
		userAgent: o.UserAgent,
		progress:  progress.Or(o.Progress),
		backoff:   o.Backoff,
	}
	c.name = cmp.Or(c.name, o.Registry.Name)
	if c.jobs <= 0 {
		c.jobs = DefaultJobs
	}
	c.userAgent = cmp.Or(c.userAgent, DefaultUserAgent)
	if c.backoff == (remote.Backoff{}) {
		c.backoff = DefaultBackoff
	}
	if o.Registry.Insecure {
		c.nameOpts = []name.Option{name.Insecure}
	}
	host, prefix, err := splitURL(o.Registry.URL)
	if err != nil {
		return nil, err
	}
	c.registry, err = name.NewRegistry(host, c.nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("parsing registry url %q: %w: %w", o.Registry.URL, ErrBadURL, err)
	}
	c.prefix = prefix
	if prefix != "" {
		if _, err := name.NewRepository(host+"/"+prefix, c.nameOpts...); err != nil {
			return nil, fmt.Errorf("parsing registry url %q: %w: %w", o.Registry.URL, ErrBadURL, err)
		}
	}
	c.keychain = newKeychain(c.name, c.Host(), o.Keychain)
	c.ca = lazyCA(o.Registry.CA, c.Host())
	if c.timeouts, err = deadline.Resolve(o.Timeouts); err != nil {
		return nil, fmt.Errorf("setting up transport for registry %s: %w", c.Host(), err)
	}
	c.uploads, c.cache, c.peers, c.unanswered = &uploads{}, &sync.Map{}, &peers{}, UnansweredRetries
	c.pings, c.noRefs, c.tokens = &pings{}, &noReferrers{}, &tokens{}
	return c, nil
}

// Timeouts are the timeouts of requests made with ctx: those in ctx, then
// the Client's.
func (c *Client) Timeouts(ctx context.Context) Timeouts {
	return deadline.FromContext(ctx).Or(c.timeouts)
}

// transportFor returns the transport for requests bounded by t: its base
// (TLS, host routing, deadlines) built once for each t and shared, the
// registry's answer to the version check (pings), its token server's
// tokens (tokens) and which repositories' registry lacks the referrers
// API (noReferrers) remembered, with
// Retry-After retries within b on top, counted in the Client's Stats, if
// any.
func (c *Client) transportFor(t Timeouts, b *budget) http.RoundTripper {
	var rt http.RoundTripper = &retryAfter{
		next: &pingMemo{
			next: &tokenMemo{next: &referrersMemo{next: c.base(t), n: c.noRefs}, t: c.tokens, now: time.Now},
			p:    c.pings, t: c.tokens,
		},
		tries:    retryAfterTries,
		maxWait:  retryAfterMaxWait,
		budget:   b,
		progress: c.progress,
		sleep:    sleepContext,
		now:      time.Now,
	}
	if c.stats != nil {
		rt = &statsTransport{next: rt, stats: c.stats}
	}
	return rt
}

// base is the transport for requests bounded by t (TLS, host routing,
// deadlines), built once for each t and shared.
func (c *Client) base(t Timeouts) http.RoundTripper {
	base, ok := c.cache.Load(t)
	if !ok {
		pool, err := c.ca()
		if err != nil {
			return failedTransport{err}
		}
		base, _ = c.cache.LoadOrStore(t, newTransport(transportOptions{
			host: c.Host(), insecure: c.reg.Insecure, pool: pool, timeouts: t, uploads: c.uploads, peers: c.peers,
		}))
	}
	return base.(http.RoundTripper)
}

// splitURL splits "host[:port][/prefix...]" into host and prefix.
func splitURL(url string) (host, prefix string, err error) {
	u := strings.TrimSpace(url)
	if u == "" {
		return "", "", fmt.Errorf("parsing registry url: %w: empty", ErrBadURL)
	}
	if i := strings.Index(u, "://"); i >= 0 {
		return "", "", fmt.Errorf("parsing registry url %q: %w: leave out the scheme (%s://); use insecure: true for plain HTTP", url, ErrBadURL, u[:i])
	}
	u = strings.Trim(u, "/")
	host, prefix, _ = strings.Cut(u, "/")
	return host, prefix, nil
}

// Name is the registry's name in slipway.yaml; it may be empty.
func (c *Client) Name() string { return c.name }

// Config is the registry's configuration.
func (c *Client) Config() config.Registry { return c.reg }

// Host is the registry host as go-containerregistry names it, e.g.
// 127.0.0.1:5000 or index.docker.io.
func (c *Client) Host() string { return c.registry.RegistryStr() }

// Insecure reports whether plain HTTP and unverified TLS are allowed.
func (c *Client) Insecure() bool { return c.reg.Insecure }

// NameOptions are the options for parsing references in this registry:
// name.Insecure when the registry is insecure.
func (c *Client) NameOptions() []name.Option {
	return append([]name.Option(nil), c.nameOpts...)
}

// Repo is the repository URL/APP of an app in this registry.
func (c *Client) Repo(app string) (name.Repository, error) {
	path := c.Host() + "/" + app
	if c.prefix != "" {
		path = c.Host() + "/" + c.prefix + "/" + app
	}
	r, err := name.NewRepository(path, c.nameOpts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("naming repository for app %q in registry %s: %w", app, c.Host(), err)
	}
	return r, nil
}

// ParseReference parses an image reference, as insecure when it is in this
// registry and the registry is insecure.
func (c *Client) ParseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", s, err)
	}
	if c.reg.Insecure && ref.Context().RegistryStr() == c.Host() {
		if ref, err = name.ParseReference(s, c.nameOpts...); err != nil {
			return nil, fmt.Errorf("parsing image reference %q: %w", s, err)
		}
	}
	return ref, nil
}

// RemoteOptions are the go-containerregistry options for talking to this
// registry: credentials, transport, retries, jobs, user agent and ctx.
// Every request is bounded by c.Timeouts(ctx); the requests made with
// these options share one retry budget: retries end once requests have
// failed for Timeouts.Retries since the last one that did not, or after
// the backoff's steps, whichever comes first; for a host that has not
// answered once, UnansweredRetries after it was first tried. Each retry
// is reported to Options.Progress as a warning.
func (c *Client) RemoteOptions(ctx context.Context) []remote.Option {
	t := c.Timeouts(ctx)
	b := c.budget(ctx, t)
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(c.transportFor(t, b)),
		remote.WithJobs(c.jobs),
		remote.WithUserAgent(c.userAgent),
		remote.WithRetryBackoff(c.backoff),
		remote.WithRetryStatusCodes(RetryStatusCodes...),
		remote.WithRetryPredicate(b.retry),
	}
}

// budget is the retry budget of one operation under t.
func (c *Client) budget(ctx context.Context, t Timeouts) *budget {
	b := newBudget(ctx, t.Retries)
	b.unanswered, b.steps, b.peers, b.progress = c.unanswered, c.backoff.Steps, c.peers, c.progress
	return b
}

// OptionsFor returns RemoteOptions(ctx); it lets a Client stand where a
// Set is expected.
func (c *Client) OptionsFor(ctx context.Context, _ name.Reference) ([]remote.Option, error) {
	return c.RemoteOptions(ctx), nil
}

// ClassifyFor is Classify; it lets a Client stand where a Set is expected.
func (c *Client) ClassifyFor(err error, side Side, _ name.Reference) error {
	return c.Classify(err, side)
}

// WithStats returns a copy of c whose requests are counted in s.
func (c *Client) WithStats(s *Stats) *Client {
	cp := *c
	cp.stats = s
	return &cp
}

// Tried describes, without secrets, where credentials for this registry
// were looked for and which source supplied them.
func (c *Client) Tried() string {
	return c.keychain.source(c.Host()).desc
}

// Anonymous reports whether no credentials were found for this registry.
func (c *Client) Anonymous() bool {
	return c.keychain.source(c.Host()).anonymous
}

// Target describes this registry, playing side, for Classify.
func (c *Client) Target(side Side) Target {
	s := c.keychain.source(c.Host())
	return Target{Side: side, Host: c.Host(), Name: c.name, Tried: s.desc, Anonymous: s.anonymous}
}

// Classify turns an error from talking to this registry, playing side,
// into a typed error with a next step; see Classify.
func (c *Client) Classify(err error, side Side) error {
	return Classify(err, c.Target(side))
}
