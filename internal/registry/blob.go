package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrBlobSize is returned when a blob's length differs from its descriptor.
var ErrBlobSize = errors.New("the blob's length differs from its descriptor")

// BlobReader opens blobs of one repository for reading, with the client's
// credentials (pull scope), transport and retries. It is safe for
// concurrent use.
type BlobReader struct {
	repo   name.Repository
	client *http.Client
}

// BlobReader authenticates with the registry for pulling from repo (one
// ping, and a token request where the registry wants one) and returns a
// reader of its blobs.
func (c *Client) BlobReader(ctx context.Context, repo name.Repository) (*BlobReader, error) {
	auth, err := c.keychain.ResolveContext(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("resolving credentials for %s: %w", repo, err)
	}
	t := c.Timeouts(ctx)
	b := c.budget(ctx, t)
	var rt http.RoundTripper = transport.NewRetry(c.transportFor(t, b),
		transport.WithRetryBackoff(c.backoff), transport.WithRetryStatusCodes(RetryStatusCodes...),
		transport.WithRetryPredicate(b.retry))
	rt = transport.NewUserAgent(rt, c.userAgent)
	rt, err = transport.NewWithContext(ctx, repo.Registry, auth, rt, []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return nil, err
	}
	return &BlobReader{repo: repo, client: &http.Client{Transport: rt, CheckRedirect: CheckRedirect}}, nil
}

// Open starts reading the blob d. Unlike go-containerregistry's layers, it
// does not hash what it reads: it is meant for copying into a registry,
// which checks the digest itself as the upload is committed. It does check
// the length: a body longer or shorter than d.Size is an error matching
// ErrBlobSize.
func (b *BlobReader) Open(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", b.repo.Scheme(), b.repo.RegistryStr(), b.repo.RepositoryStr(), d.Digest)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		resp.Body.Close()
		return nil, err
	}
	if resp.ContentLength >= 0 && resp.ContentLength != d.Size {
		resp.Body.Close()
		return nil, fmt.Errorf("reading blob %s: %w: Content-Length %d, descriptor %d", d.Digest, ErrBlobSize, resp.ContentLength, d.Size)
	}
	return &sizedReader{rc: resp.Body, left: d.Size, digest: d.Digest}, nil
}

// sizedReader fails when its body ends before or after left bytes.
type sizedReader struct {
	rc     io.ReadCloser
	left   int64
	digest v1.Hash
}

func (r *sizedReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.left -= int64(n)
	switch {
	case r.left < 0:
		return n, fmt.Errorf("reading blob %s: %w: %d bytes too many", r.digest, ErrBlobSize, -r.left)
	case err == io.EOF && r.left > 0:
		return n, fmt.Errorf("reading blob %s: %w: %d bytes missing", r.digest, ErrBlobSize, r.left)
	}
	return n, err
}

func (r *sizedReader) Close() error { return r.rc.Close() }
