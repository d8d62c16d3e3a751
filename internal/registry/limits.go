package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Bounds on what Slipway reads from a registry. A registry decides what it
// sends and what it declares: these keep a broken or hostile one from
// filling memory or walking Slipway through trees without end.
const (
	// MaxDocumentSize bounds every small document read whole: a manifest,
	// an index, a referrers list, a page of tags, a token, an error
	// message. The OCI distribution spec has registries accept manifests
	// up to 4 MiB, and clients not push larger ones.
	MaxDocumentSize = 4 << 20
	// MaxConfigSize bounds an image config, refused before it is fetched
	// when its manifest declares more.
	MaxConfigSize = 8 << 20
	// MaxIndexDepth bounds how deep indexes nest: an index of images is 1
	// deep, an index of such indexes 2.
	MaxIndexDepth = 4
	// MaxIndexChildren bounds the manifests one index lists.
	MaxIndexChildren = 1000
	// MaxHeaderSize bounds the headers of every answer (net/http's own
	// default is 10 MiB); a registry's are a few hundred bytes.
	MaxHeaderSize = 256 << 10
)

// ErrTooLarge is matched by a *BoundError: a registry sent, or declared,
// more than Slipway reads.
var ErrTooLarge = errors.New("beyond Slipway's bounds")

// BoundError is a document from a registry beyond one of Slipway's bounds:
// larger than it reads, or an index that lists too many manifests or nests
// too deep. It matches ErrTooLarge and is never retried.
type BoundError struct {
	// What says what was refused and why, e.g. "image config
	// sha256:0123456789ab… declares 1073741824 bytes".
	What string
	// Bound says what Slipway allows, e.g. "8 MiB of an image config".
	Bound string
}

func (e *BoundError) Error() string {
	return fmt.Sprintf("%s; Slipway reads at most %s", e.What, e.Bound)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *BoundError) Is(target error) bool { return target == ErrTooLarge }

// mib writes a bound in MiB.
func mib(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }

// CheckConfig refuses the config of manifest m, before it is fetched,
// when m declares it larger than MaxConfigSize.
func CheckConfig(m *v1.Manifest) error {
	if m == nil || m.Config.Size <= MaxConfigSize {
		return nil
	}
	return &BoundError{
		What:  fmt.Sprintf("image config %s declares %d bytes", cut(m.Config.Digest.String()), m.Config.Size),
		Bound: mib(MaxConfigSize) + " of an image config",
	}
}

// CheckIndex refuses index m, with digest h, when it lists more than
// MaxIndexChildren manifests, or when depth (1 for a top-level index, 2
// for an index in it) is beyond MaxIndexDepth.
func CheckIndex(h v1.Hash, m *v1.IndexManifest, depth int) error {
	switch {
	case depth > MaxIndexDepth:
		return &BoundError{
			What:  fmt.Sprintf("index %s is nested %d deep", cut(h.String()), depth),
			Bound: fmt.Sprintf("indexes nested %d deep", MaxIndexDepth),
		}
	case m != nil && len(m.Manifests) > MaxIndexChildren:
		return &BoundError{
			What:  fmt.Sprintf("index %s lists %d manifests", cut(h.String()), len(m.Manifests)),
			Bound: fmt.Sprintf("%d manifests in an index", MaxIndexChildren),
		}
	}
	return nil
}

// CheckManifestSize refuses a manifest before it is fetched when its
// descriptor declares it larger than MaxDocumentSize.
func CheckManifestSize(d v1.Descriptor) error {
	if d.Size <= MaxDocumentSize {
		return nil
	}
	return &BoundError{
		What:  fmt.Sprintf("manifest %s declares %d bytes", cut(d.Digest.String()), d.Size),
		Bound: mib(MaxDocumentSize) + " of a manifest",
	}
}

// isDocument reports whether resp's body is a small document, read whole
// into memory: every error answer, and every answer but a blob's bytes (a
// GET of /v2/.../blobs/DIGEST from the registry at host, or from the blob
// storage it redirects to). A GET of another host is a token's only when
// it asks for a scope or service, as token requests do: a storage URL
// must never be taken for one, whatever its path says. An answer to HEAD
// has no body, and its Content-Length is the size of what a GET would
// bring (a blob's, say): it is no document.
func isDocument(req *http.Request, resp *http.Response, host string) bool {
	if req.Method == http.MethodHead {
		return false
	}
	if resp.StatusCode/100 != 2 || req.Method != http.MethodGet {
		return true
	}
	if !strings.EqualFold(req.URL.Host, host) {
		q := req.URL.Query()
		return q.Has("scope") || q.Has("service")
	}
	p := req.URL.Path
	return !strings.Contains(p, "/blobs/") || strings.Contains(p, "/blobs/uploads")
}

// capDocument refuses a document answer that declares more than
// MaxDocumentSize, and caps the read of one that does not say.
func capDocument(req *http.Request, resp *http.Response, host string, up *uploads) (*http.Response, error) {
	server, doing := describeRequest(req, host, up)
	what := "its answer to " + doing
	if server != "registry" {
		what = "the " + server + "'s answer to " + doing
	}
	bound := mib(MaxDocumentSize) + " of a manifest, tag list, token or error message"
	if resp.ContentLength > MaxDocumentSize {
		resp.Body.Close()
		return nil, &BoundError{What: fmt.Sprintf("%s declares %d bytes", what, resp.ContentLength), Bound: bound}
	}
	resp.Body = &cappedBody{rc: resp.Body, left: MaxDocumentSize,
		err: &BoundError{What: what + " is larger", Bound: bound}}
	return resp, nil
}

// cappedBody fails once more than left bytes have been read.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
	err  error
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	if b.left -= int64(n); b.left < 0 {
		return n, b.err
	}
	return n, err
}

func (b *cappedBody) Close() error { return b.rc.Close() }
