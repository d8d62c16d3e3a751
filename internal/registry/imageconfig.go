package registry

import (
	"bytes"
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ImageConfig returns the config of APP@DIGEST in this registry; for an
// index, the config of its first image (the platforms of one build share
// their settings). Indexes are followed at most MaxIndexDepth deep, and a
// config declared larger than MaxConfigSize is refused before it is
// fetched: a registry decides what it declares.
func (c *Client) ImageConfig(ctx context.Context, app string, digest v1.Hash) (*v1.ConfigFile, error) {
	repo, err := c.Repo(app)
	if err != nil {
		return nil, err
	}
	ref := repo.Digest(digest.String())
	p, err := remote.NewPuller(c.RemoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	img, err := firstImage(ctx, p, ref)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, c.Classify(err, SideNone))
	}
	m, err := img.Manifest()
	if err == nil {
		err = CheckConfig(m)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", ref, c.Classify(err, SideNone))
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", ref, c.Classify(err, SideNone))
	}
	return cfg, nil
}

// firstImage reads ref and, while it is an index, its first manifest,
// within MaxIndexDepth and MaxIndexChildren. go-containerregistry's own
// Descriptor.Image follows nested indexes without a bound.
func firstImage(ctx context.Context, p *remote.Puller, ref name.Digest) (v1.Image, error) {
	for depth := 1; ; depth++ {
		desc, err := p.Get(ctx, ref)
		if err != nil {
			return nil, err
		}
		if !desc.MediaType.IsIndex() {
			return desc.Image()
		}
		im, err := v1.ParseIndexManifest(bytes.NewReader(desc.Manifest))
		if err != nil {
			return nil, fmt.Errorf("parsing index %s: %w", cut(desc.Digest.String()), err)
		}
		if err := CheckIndex(desc.Digest, im, depth); err != nil {
			return nil, err
		}
		if len(im.Manifests) == 0 {
			return nil, fmt.Errorf("index %s lists no images", cut(desc.Digest.String()))
		}
		if err := CheckManifestSize(im.Manifests[0]); err != nil {
			return nil, err
		}
		ref = ref.Context().Digest(im.Manifests[0].Digest.String())
	}
}
