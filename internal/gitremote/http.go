package gitremote

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/slipwayhq/slipway/internal/deadline"
)

// Bounds on what one HTTP response of a git server may hold, besides a
// fetch's packfile (which its reader bounds: go-git streams it into
// storage).
const (
	// MaxAdvertisement bounds the list of refs a server advertises. Git's
	// protocol v0/v1, all go-git speaks, lists every ref however few are
	// asked for; 32 MiB is some 300,000 refs.
	MaxAdvertisement = 32 << 20
	// MaxReport bounds a push's report of what the server did.
	MaxReport = 1 << 20
	// MaxErrorBody bounds the body of an answer that is not a success:
	// go-git reads it whole into its error's message.
	MaxErrorBody = 4 << 10
	// MaxHeaders bounds the headers of every answer (net/http's own
	// default is 10 MiB); a git server's are a few hundred bytes.
	MaxHeaders = 256 << 10
)

// go-git picks a transport per URL scheme from one process-wide table, and
// its default HTTP client reads error bodies whole and waits without end.
// Installing ours when this package loads, before any goroutine can use
// go-git, gives every git remote Slipway talks to over HTTP the same
// bounds, whichever package talks to it.
func init() {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxResponseHeaderBytes = MaxHeaders
	t := githttp.NewClient(&http.Client{Transport: Transport(base)})
	client.InstallProtocol("http", t)
	client.InstallProtocol("https", t)
}

// Transport returns next with Slipway's bounds for git's smart HTTP
// protocol: the deadlines of internal/deadline (from the request's
// context, else their defaults), the list of refs and any answer but a
// pack read whole within Document, and each body cut to its bound.
func Transport(next http.RoundTripper) http.RoundTripper {
	return &deadline.Transport{
		Next:     bodyLimits{next: next},
		Describe: describe,
		Document: func(req *http.Request, resp *http.Response) bool {
			return resp.StatusCode >= 300 || strings.HasSuffix(req.URL.Path, "/info/refs")
		},
	}
}

// describe names a request to a git server in timeout messages.
func describe(req *http.Request) (server, doing string) {
	switch p := req.URL.Path; {
	case strings.HasSuffix(p, "/info/refs"):
		return "git server", "listing refs"
	case strings.HasSuffix(p, "/git-upload-pack"):
		return "git server", "fetching"
	case strings.HasSuffix(p, "/git-receive-pack"):
		return "git server", "pushing"
	}
	return "git server", req.Method + " " + Cut(req.URL.Path, 64)
}

// bodyLimits bounds each response body by what the request is for.
type bodyLimits struct{ next http.RoundTripper }

func (b bodyLimits) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(req)
	if err != nil {
		if strings.Contains(err.Error(), "server response headers exceeded") {
			// net/http's words for MaxResponseHeaderBytes.
			return nil, fmt.Errorf("reading the answer's headers: %w: more than %d bytes", ErrTooLarge, MaxHeaders)
		}
		return nil, err
	}
	switch p := req.URL.Path; {
	case resp.StatusCode >= 300:
		// An error's body only feeds a message: cut it quietly.
		resp.Body = &limitedBody{rc: resp.Body, left: MaxErrorBody, quiet: true}
	case strings.HasSuffix(p, "/info/refs"):
		resp.Body = &limitedBody{rc: resp.Body, left: MaxAdvertisement, limit: MaxAdvertisement, what: "the list of refs"}
	case strings.HasSuffix(p, "/git-receive-pack"):
		resp.Body = &limitedBody{rc: resp.Body, left: MaxReport, limit: MaxReport, what: "the push report"}
	}
	return resp, nil
}

// limitedBody reads at most left bytes of rc; past them it ends (quiet)
// or fails with ErrTooLarge.
type limitedBody struct {
	rc    io.ReadCloser
	left  int64
	quiet bool
	what  string
	limit int64 // the bound, for the message
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		if l.quiet {
			return 0, io.EOF
		}
		// One byte more tells a body of exactly the bound from a longer one.
		var one [1]byte
		if n, err := io.ReadFull(l.rc, one[:]); n == 0 {
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			return 0, err
		}
		return 0, fmt.Errorf("reading %s: %w: more than %d bytes", l.what, ErrTooLarge, l.limit)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }
