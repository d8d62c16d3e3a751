package gitremote

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/slipwayhq/slipway/internal/deadline"
)

// Sentinel errors, matchable with errors.Is.
var (
	// ErrAuth means the remote refused the credentials, or none were found.
	ErrAuth = errors.New("authentication failed")
	// ErrTimeout means a remote did not answer in time.
	ErrTimeout = errors.New("git remote timed out")
	// ErrTooLarge means a remote sent more than Slipway reads from one.
	ErrTooLarge = errors.New("git remote sent too much")
)

// IsAuthError reports whether err says the remote refused the
// credentials.
func IsAuthError(err error) bool {
	if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "permission denied (publickey")
}

// OperationLimit bounds one operation on a remote (a fetch, a push): the
// retries timeout of --network-timeout or SLIPWAY_NETWORK_TIMEOUT, else its
// default.
func OperationLimit(ctx context.Context) time.Duration {
	t, err := deadline.Resolve(deadline.FromContext(ctx))
	if err != nil || t.Retries <= 0 {
		return deadline.Defaults.Retries
	}
	return t.Retries
}

// RedactURL removes any user name and password from a remote URL.
func RedactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil && u.Host != "" {
		u.User = nil
		return u.String()
	}
	if !strings.Contains(raw, "://") {
		// scp-like user@host:path
		if at, colon := strings.Index(raw, "@"), strings.Index(raw, ":"); at >= 0 && at < colon {
			return raw[at+1:]
		}
	}
	return raw
}

// MaxQuote is how much of a remote's own words an error quotes: go-git's
// messages carry what the server sent (an HTTP error body, a hook's
// rejection), which the server chooses.
const MaxQuote = 256

// quotedError shows the message of the error it wraps without secrets and
// cut to MaxQuote bytes.
type quotedError struct {
	err     error
	secrets []string
}

func (e *quotedError) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return Cut(msg, MaxQuote)
}

func (e *quotedError) Unwrap() error { return e.err }

// Quote wraps err, an error of go-git or a remote, so that its message
// never shows any of secrets and is at most MaxQuote bytes (plus a marker
// saying how much was cut). Redaction comes first, so a cut never leaves
// part of a secret behind.
func Quote(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	return &quotedError{err: err, secrets: secrets}
}

// Cut returns s cut to at most max bytes at a character boundary, with a
// marker saying how many bytes were left out.
func Cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return fmt.Sprintf("%s…(%d more bytes)", s[:i], len(s)-i)
}
