package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// Sentinel errors, matched with errors.Is on what Classify returns.
var (
	// ErrAuth: the registry refused the request for lack of (valid)
	// credentials (401) or denied access (403). The error is an *AuthError.
	ErrAuth = errors.New("registry authentication failed")
	// ErrNotFound: the registry has no such repository, manifest or blob (404).
	ErrNotFound = errors.New("not found in registry")
	// ErrRateLimited: the registry answered 429 until retries ran out.
	ErrRateLimited = errors.New("registry rate limit reached")
	// ErrUnreachable: the registry could not be connected to.
	ErrUnreachable = errors.New("registry unreachable")
	// ErrTLS: the TLS connection failed, usually an untrusted certificate
	// or a plain-HTTP registry addressed over HTTPS.
	ErrTLS = errors.New("registry TLS failed")
	// ErrTimeout: a request waited longer than its Timeouts allow (to
	// connect, for the TLS handshake, the response headers, or a body
	// that stopped moving) until retries ran out. The error wraps a
	// *deadline.Error saying which wait; it also matches ErrUnreachable.
	ErrTimeout = errors.New("registry timed out")
	// ErrServer: the registry kept answering with a server error (5xx)
	// until retries ran out.
	ErrServer = errors.New("registry server error")
	// ErrTooLarge (in limits.go): the registry sent or declared a
	// document beyond Slipway's bounds; the error wraps a *BoundError.
)

// Side is the part a registry plays in an operation, named in messages
// before the word registry.
type Side string

// Sides of an operation; SideNone names none.
const (
	SideNone   Side = ""
	SideSource Side = "source"
	SideTarget Side = "target"
	SideBase   Side = "base"
)

// Target says which registry an error came from, for messages.
type Target struct {
	// Side prefixes the word registry.
	Side Side
	// Host is the registry host.
	Host string
	// Name is the registry's name in slipway.yaml, used to name the
	// SLIPWAY_REGISTRY_<NAME>_* variables; may be empty.
	Name string
	// Tried describes the credential sources looked at (Client.Tried).
	Tried string
	// Anonymous is true when no source had credentials.
	Anonymous bool
}

// String names the registry for messages: "[SIDE ]registry [NAME (]HOST[)]",
// e.g. "target registry rc (registry.example.com)".
func (t Target) String() string {
	r := "registry " + t.Host
	if t.Name != "" {
		r = "registry " + t.Name + " (" + t.Host + ")"
	}
	if t.Side != "" {
		r = string(t.Side) + " " + r
	}
	return r
}

// login is the next step of kind k for credential problems at t.
func (t Target) login(k remedy.Kind) remedy.Remedy {
	return remedy.Remedy{Kind: k, Host: t.Host, Registry: t.Name}
}

// AuthError is a 401 or 403 from a registry, or unusable credentials. It
// matches ErrAuth. Its message names the host and the credential sources
// tried, and never a secret; its Remedy is to log in.
type AuthError struct {
	Target
	// Status is the HTTP status, 401 or 403; 0 when the credentials could
	// not be used at all.
	Status int
	// Reason is a short explanation from the registry or from Slipway.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *AuthError) Error() string {
	var b strings.Builder
	b.WriteString(e.String())
	switch {
	case e.Status == http.StatusForbidden:
		if e.Anonymous {
			fmt.Fprintf(&b, " denied access to anonymous requests (tried %s)", e.Tried)
		} else {
			fmt.Fprintf(&b, " denied access with the credentials from %s", e.Tried)
		}
	case e.Status == http.StatusUnauthorized && e.Anonymous:
		fmt.Fprintf(&b, " requires authentication; no credentials found (tried %s)", e.Tried)
	case e.Status == http.StatusUnauthorized:
		fmt.Fprintf(&b, " rejected the credentials from %s", e.Tried)
	default:
		fmt.Fprintf(&b, ": unusable credentials (%s)", e.Tried)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	return b.String()
}

// Remedy is to log in (as an account that has access, after a 403).
func (e *AuthError) Remedy() remedy.Remedy {
	if e.Status == http.StatusForbidden {
		return e.login(remedy.LoginAsOther)
	}
	return e.login(remedy.LoginRegistry)
}

// Is makes errors.Is(err, ErrAuth) true.
func (e *AuthError) Is(target error) bool { return target == ErrAuth }

// Unwrap returns the underlying error.
func (e *AuthError) Unwrap() error { return e.Err }

// Error is a classified registry error other than an authentication one.
// errors.Is matches its Kind (ErrNotFound, ErrRateLimited, ErrUnreachable
// or ErrTLS) as well as anything in Err's chain.
type Error struct {
	Target
	// Kind is one of the sentinel errors.
	Kind error
	// Hint is the next step in plain words, may be empty.
	Hint string
	// Next is the next step as data, for the command line to word after
	// the message (and Hint); its Kind may be remedy.None.
	Next remedy.Remedy
	// Err is the underlying error.
	Err error
}

func (e *Error) Error() string {
	var msg string
	var de *deadline.Error
	var be *BoundError
	switch e.Kind {
	case ErrTooLarge:
		// The bound says it all; the chain above it would only repeat
		// the URL.
		if errors.As(e.Err, &be) {
			return e.String() + ": " + be.Error()
		}
		msg = e.String() + ": " + ErrTooLarge.Error()
	case ErrTimeout:
		// The wait says it all; the chain above it would only repeat
		// the URL.
		if errors.As(e.Err, &de) {
			msg = e.String() + ": " + de.Detail()
			if !strings.EqualFold(de.Host, e.Host) {
				msg = e.String() + ": " + de.Error()
			}
			if e.Hint != "" {
				msg += "; " + e.Hint
			}
			return msg
		}
		msg = e.String() + " timed out"
	case ErrServer:
		msg = e.String() + " kept failing with server errors until retries ran out"
	case ErrNotFound:
		msg = e.String() + ": not found"
	case ErrRateLimited:
		msg = e.String() + " is rate limiting requests (429) and retries ran out"
	case ErrUnreachable:
		msg = e.String() + " is unreachable"
	case ErrTLS:
		msg = e.String() + ": TLS failed"
	default:
		msg = e.String()
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Remedy returns e.Next.
func (e *Error) Remedy() remedy.Remedy { return e.Next }

// Is matches e.Kind; an ErrTimeout also matches ErrUnreachable.
func (e *Error) Is(target error) bool {
	return target == e.Kind || (e.Kind == ErrTimeout && target == ErrUnreachable)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Classify turns an error from go-containerregistry into a typed error with
// a next step: 401/403 into *AuthError (ErrAuth), 404 into ErrNotFound, 429
// into ErrRateLimited, 5xx into ErrServer, requests that ran out of time
// into ErrTimeout, documents beyond Slipway's bounds into ErrTooLarge,
// refused connections into ErrUnreachable and certificate problems into
// ErrTLS. Other errors, nil, and errors that are already
// classified are returned unchanged. URLs in the error lose their
// credentials and tokens (see redactURL).
func Classify(err error, t Target) error {
	if err == nil {
		return nil
	}
	redact(err)
	var ae *AuthError
	var ce *Error
	if errors.As(err, &ae) || errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, deadline.ErrTimeout) {
		return &Error{Target: t, Kind: ErrTimeout, Err: err, Next: remedy.Remedy{Kind: remedy.RaiseRegistryTimeout}}
	}
	if errors.Is(err, ErrTooLarge) {
		return &Error{Target: t, Kind: ErrTooLarge, Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusUnauthorized || hasCode(te, transport.UnauthorizedErrorCode):
			return &AuthError{Target: t, Status: http.StatusUnauthorized, Reason: diagnostics(te), Err: err}
		case te.StatusCode == http.StatusForbidden || hasCode(te, transport.DeniedErrorCode):
			return &AuthError{Target: t, Status: http.StatusForbidden, Reason: diagnostics(te), Err: err}
		case te.StatusCode == http.StatusNotFound:
			return &Error{Target: t, Kind: ErrNotFound, Err: err}
		case te.StatusCode == http.StatusTooManyRequests || hasCode(te, transport.TooManyRequestsErrorCode):
			return &Error{Target: t, Kind: ErrRateLimited, Err: err, Next: t.login(remedy.LoginForLimit)}
		case te.StatusCode >= 500:
			return &Error{Target: t, Kind: ErrServer, Err: err,
				Hint: "the registry is failing; try again later, or ask its operators"}
		}
		return err
	}
	if hint, ok := tlsHint(err, t); ok {
		return &Error{Target: t, Kind: ErrTLS, Hint: hint, Err: err}
	}
	if unreachable(err) {
		return &Error{Target: t, Kind: ErrUnreachable, Err: err,
			Hint: "check the url in slipway.yaml and that the registry is running"}
	}
	return err
}

// redact removes credentials and tokens from the URLs of the *url.Error
// values (from net/http) in err's chain, in place. (*transport.Error
// redacts its own.) It writes only a URL that changes: one error value can
// reach several goroutines (a failed upload is seen by each waiting on it),
// and a URL with nothing to hide, or one already redacted, is only read.
func redact(err error) {
	for e := err; e != nil; {
		if v, ok := e.(*url.Error); ok {
			if r := redactURL(v.URL); r != v.URL {
				v.URL = r
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			e = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				redact(x)
			}
			return
		default:
			return
		}
	}
}

func hasCode(te *transport.Error, code transport.ErrorCode) bool {
	for _, d := range te.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// diagnostics is the registry's own short explanation: codes and messages,
// never details (which may echo request data).
func diagnostics(te *transport.Error) string {
	parts := make([]string, 0, len(te.Errors))
	for _, d := range te.Errors {
		s := string(d.Code)
		if d.Message != "" {
			s += ": " + d.Message
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("HTTP %d", te.StatusCode)
	}
	return fmt.Sprintf("HTTP %d %s", te.StatusCode, strings.Join(parts, "; "))
}

// tlsHint recognises TLS failures and says what to do about them.
func tlsHint(err error, t Target) (hint string, ok bool) {
	const trust = "add its CA with `ca: FILE` under the registry in slipway.yaml, or set `insecure: true` for a local registry"
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &hostname):
		return fmt.Sprintf("its certificate is not valid for %s; use the host name the certificate names, or set `insecure: true` for a local registry", t.Host), true
	case errors.As(err, &invalid):
		return "its certificate is invalid or expired; " + trust, true
	case errors.As(err, &unknown), errors.As(err, &verify):
		return "its certificate is not trusted; " + trust, true
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"), errors.As(err, &record):
		return "it speaks plain HTTP; set `insecure: true` for it in slipway.yaml (local registries only)", true
	}
	return "", false
}

func unreachable(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
