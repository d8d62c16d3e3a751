package testutil

import (
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ReadComplete reads what ref names and every manifest, config and layer
// under it (ggcr checks each against its digest as it reads), and returns
// its digest: it fails unless the image, or index, is whole in the
// registry.
func ReadComplete(ref name.Reference, opts ...remote.Option) (v1.Hash, error) {
	d, err := remote.Get(ref, opts...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading %s: %w", ref, err)
	}
	imgs, err := imagesOf(d)
	if err != nil {
		return d.Digest, err
	}
	for _, img := range imgs {
		if err := readImage(img); err != nil {
			return d.Digest, fmt.Errorf("reading %s: %w", ref, err)
		}
	}
	return d.Digest, nil
}

// imagesOf is the image d is, or the images of the index d is.
func imagesOf(d *remote.Descriptor) ([]v1.Image, error) {
	if !d.MediaType.IsIndex() {
		img, err := d.Image()
		return []v1.Image{img}, err
	}
	idx, err := d.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	imgs := make([]v1.Image, 0, len(im.Manifests))
	for _, m := range im.Manifests {
		img, err := idx.Image(m.Digest)
		if err != nil {
			return nil, err
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// readImage reads an image's manifest, config and every layer.
func readImage(img v1.Image) error {
	if _, err := img.RawManifest(); err != nil {
		return err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
