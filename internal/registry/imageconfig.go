package registry

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ImageConfig returns the config of APP@DIGEST in this registry; for an
// index, the config of its first image (the platforms of one build share
// their settings).
func (c *Client) ImageConfig(ctx context.Context, app, digest string) (*v1.ConfigFile, error) {
	repo, err := c.Repo(app)
	if err != nil {
		return nil, err
	}
	ref := repo.Digest(digest)
	opts := c.RemoteOptions(ctx)
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, c.Classify(err, ""))
	}
	img, err := desc.Image() // for an index, the image for the default platform
	if desc.MediaType.IsIndex() {
		idx, ierr := desc.ImageIndex()
		if ierr != nil {
			return nil, fmt.Errorf("reading %s: %w", ref, c.Classify(ierr, ""))
		}
		m, ierr := idx.IndexManifest()
		if ierr != nil {
			return nil, fmt.Errorf("reading %s: %w", ref, c.Classify(ierr, ""))
		}
		if len(m.Manifests) == 0 {
			return nil, fmt.Errorf("reading %s: the index lists no images", ref)
		}
		img, err = idx.Image(m.Manifests[0].Digest)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, c.Classify(err, ""))
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", ref, c.Classify(err, ""))
	}
	return cfg, nil
}
