package deadline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// EnvVar is the environment variable that sets Timeouts, in the form Parse
// reads. The global --network-timeout flag sets the same.
const EnvVar = "SLIPWAY_NETWORK_TIMEOUT"

// ErrInvalid is matched by errors from Parse.
var ErrInvalid = errors.New("invalid network timeout")

// Timeouts bound the waits of one network request, and how long one
// operation keeps retrying. A zero field means "not set": Or fills it.
type Timeouts struct {
	// Connect bounds name resolution and the TCP connection.
	Connect time.Duration
	// TLS bounds the TLS handshake.
	TLS time.Duration
	// Headers bounds the wait for the response headers once the request
	// has been sent.
	Headers time.Duration
	// Idle bounds how long a request or response body may stop moving:
	// a slow transfer that keeps moving never times out, one that stalls
	// fails after Idle without progress.
	Idle time.Duration
	// Document bounds the whole body of a small document (a manifest, a
	// tag list, a token: what Transport.Document picks), moving or not,
	// from its headers on: Idle alone restarts on every byte, so a peer
	// could drip one for hours.
	Document time.Duration
	// Retries bounds how long an operation keeps retrying failures
	// (timeouts, 5xx, 429) since the last success; the number of tries
	// is bounded separately.
	Retries time.Duration
}

// Defaults fit CI: a healthy server answers well within them, a dead one
// is given up on within a few minutes at most.
var Defaults = Timeouts{
	Connect:  10 * time.Second,
	TLS:      10 * time.Second,
	Headers:  30 * time.Second,
	Idle:     60 * time.Second,
	Document: 30 * time.Second,
	Retries:  2 * time.Minute,
}

// keys are the names Parse accepts, in the order String writes them.
var keys = []string{"connect", "tls", "headers", "idle", "document", "retries"}

func (t *Timeouts) field(key string) *time.Duration {
	switch key {
	case "connect":
		return &t.Connect
	case "tls":
		return &t.TLS
	case "headers":
		return &t.Headers
	case "idle":
		return &t.Idle
	case "document":
		return &t.Document
	case "retries":
		return &t.Retries
	}
	return nil
}

// Parse reads timeouts: a single duration sets every wait of a request
// (connect, tls, headers, idle, document), e.g. "45s"; KEY=DURATION pairs
// separated by commas set some, e.g. "headers=2m,idle=5m,retries=10m"; both may be
// mixed, the pairs winning. Fields not given are left zero. Every
// duration must be positive.
func Parse(s string) (Timeouts, error) {
	var t Timeouts
	var all time.Duration
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, isPair := strings.Cut(part, "=")
		d, err := time.ParseDuration(strings.TrimSpace(val))
		if !isPair {
			d, err = time.ParseDuration(part)
		}
		if err != nil || d <= 0 {
			return Timeouts{}, fmt.Errorf("parsing network timeout %q: %w: %q is not a positive duration such as 30s or 2m; the form is DURATION or KEY=DURATION,... with keys %s",
				s, ErrInvalid, strings.TrimSpace(cmp.Or(val, part)), strings.Join(keys, ", "))
		}
		if !isPair {
			all = d
			continue
		}
		f := t.field(strings.ToLower(strings.TrimSpace(key)))
		if f == nil {
			return Timeouts{}, fmt.Errorf("parsing network timeout %q: %w: unknown key %q; valid keys: %s",
				s, ErrInvalid, key, strings.Join(keys, ", "))
		}
		*f = d
	}
	if all > 0 {
		t = t.Or(Timeouts{Connect: all, TLS: all, Headers: all, Idle: all, Document: all})
	}
	return t, nil
}

// String writes t in the form Parse reads, leaving out zero fields.
func (t Timeouts) String() string {
	var parts []string
	for _, k := range keys {
		if d := *t.field(k); d > 0 {
			parts = append(parts, k+"="+d.String())
		}
	}
	return strings.Join(parts, ",")
}

// Or returns t with its zero fields taken from d.
func (t Timeouts) Or(d Timeouts) Timeouts {
	for _, k := range keys {
		if f := t.field(k); *f <= 0 {
			*f = *d.field(k)
		}
	}
	return t
}

// FromEnv reads EnvVar; unset or empty gives zero Timeouts.
func FromEnv() (Timeouts, error) {
	v := strings.TrimSpace(os.Getenv(EnvVar))
	if v == "" {
		return Timeouts{}, nil
	}
	t, err := Parse(v)
	if err != nil {
		return Timeouts{}, fmt.Errorf("reading %s: %w", EnvVar, err)
	}
	return t, nil
}

// Resolve completes explicit timeouts with EnvVar, then Defaults.
func Resolve(explicit Timeouts) (Timeouts, error) {
	env, err := FromEnv()
	if err != nil {
		return Timeouts{}, err
	}
	return explicit.Or(env).Or(Defaults), nil
}

type contextKey struct{}

// WithContext returns a context whose requests use t: its non-zero fields
// win over the timeouts a client was made with. The command line puts
// --network-timeout there.
func WithContext(ctx context.Context, t Timeouts) context.Context {
	return context.WithValue(ctx, contextKey{}, t)
}

// FromContext returns the timeouts WithContext put in ctx, or zero ones.
func FromContext(ctx context.Context) Timeouts {
	t, _ := ctx.Value(contextKey{}).(Timeouts)
	return t
}
