package registry

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Resolve returns the digest that APP:TAG points at in this registry, with
// one HEAD request. A missing tag is an error matching ErrNotFound.
func (c *Client) Resolve(ctx context.Context, app, tag string) (v1.Hash, error) {
	repo, err := c.Repo(app)
	if err != nil {
		return v1.Hash{}, err
	}
	ref := repo.Tag(tag)
	desc, err := remote.Head(ref, c.RemoteOptions(ctx)...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("resolving %s: %w", ref, c.Classify(err, SideNone))
	}
	return desc.Digest, nil
}
