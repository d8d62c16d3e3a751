package registry

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"sync"

	"github.com/slipwayhq/slipway/internal/projfs"
)

// lazyCA returns a function that reads caFile once, when a request to the
// registry first needs it, rather than when the Client is made: a build
// that talks to one registry of a project must not fail on another's
// missing CA file.
func lazyCA(caFile, host string) func() (*x509.CertPool, error) {
	return sync.OnceValues(func() (*x509.CertPool, error) {
		pool, err := readCA(caFile)
		if err != nil {
			return nil, fmt.Errorf("setting up transport for registry %s: %w", host, err)
		}
		return pool, nil
	})
}

// readCA returns the system pool plus the certificates of caFile, or nil
// when there is no CA file. The file may lie anywhere (a company CA under
// /etc/ssl), but only a regular file of at most projfs.MaxKey is read, and
// its content is never quoted.
func readCA(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	pem, err := projfs.ReadRegular(caFile, projfs.MaxKey)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("reading CA file %s: no PEM certificate in it", projfs.Show(caFile))
	}
	return pool, nil
}

// failedTransport fails every request with the error that kept the
// transport from being built.
type failedTransport struct{ err error }

func (f failedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close() // as a RoundTripper must, even when failing
	}
	return nil, f.err
}
