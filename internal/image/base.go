package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/registry"
)

// ErrBasePlatform is returned when the base image has no image for a
// platform being built.
var ErrBasePlatform = errors.New("base image lacks platform")

// baseImage is the base, pinned by digest. Its manifests are read from the
// layout when an earlier build stored them there, else from the registry.
type baseImage struct {
	name   string // canonical reference as configured, "" for scratch
	ref    name.Reference
	pinned v1.Hash
	remote Remote
	lp     layout.Path

	// Set by load.
	mediaType types.MediaType
	raw       []byte
	index     *v1.IndexManifest
	// blobs are the base manifests and configs to keep in the layout.
	blobs map[v1.Hash][]byte
}

func (b *baseImage) scratch() bool { return b.name == "" }

// pinBase parses the configured base and pins it to a digest: the digest of
// a digest reference, the previous build's pin for the same tag unless
// refresh, else what the registry says now.
func pinBase(ctx context.Context, o BuildOptions, prev Record, lp layout.Path) (*baseImage, error) {
	b := &baseImage{remote: o.Remote, lp: lp, blobs: map[v1.Hash][]byte{}}
	configured := strings.TrimSpace(o.Image.Base)
	if configured == "" || configured == Scratch {
		return b, nil
	}
	ref, err := o.Remote.ParseReference(configured)
	if err != nil {
		return nil, fmt.Errorf("reading base image: %w", err)
	}
	b.ref, b.name = ref, ref.Name()
	if d, ok := ref.(name.Digest); ok {
		b.pinned, err = v1.NewHash(d.DigestStr())
		if err != nil {
			return nil, fmt.Errorf("reading base image %s: %w", configured, err)
		}
		return b, nil
	}
	if !o.RefreshBase && prev.Base != nil && prev.Base.Name == b.name {
		if h, err := v1.NewHash(prev.Base.Digest); err == nil {
			b.pinned = h
			return b, nil
		}
	}
	opts, err := o.Remote.OptionsFor(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("resolving base image %s: %w", configured, err)
	}
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("resolving base image %s: %w", configured, o.Remote.ClassifyFor(err, registry.SideBase, ref))
	}
	b.pinned = desc.Digest
	return b, nil
}

// digestRef is the base reference pinned to its digest.
func (b *baseImage) digestRef(h v1.Hash) name.Digest {
	return b.ref.Context().Digest(h.String())
}

// load reads the pinned manifest.
func (b *baseImage) load(ctx context.Context) error {
	if b.scratch() || b.raw != nil {
		return nil
	}
	raw, mt, err := b.manifest(ctx, b.pinned)
	if err != nil {
		return err
	}
	b.raw, b.mediaType = raw, mt
	if mt.IsIndex() {
		if b.index, err = v1.ParseIndexManifest(bytes.NewReader(raw)); err != nil {
			return fmt.Errorf("reading base image %s index: %w", b.name, err)
		}
		if err := registry.CheckIndex(b.pinned, b.index, 1); err != nil {
			return fmt.Errorf("reading base image %s index: %w", b.name, b.remote.ClassifyFor(err, registry.SideBase, b.ref))
		}
	}
	b.blobs[b.pinned] = raw
	return nil
}

// manifest returns the raw manifest h and its media type, from the layout
// when it is there.
func (b *baseImage) manifest(ctx context.Context, h v1.Hash) ([]byte, types.MediaType, error) {
	if raw, err := b.lp.Bytes(h); err == nil {
		if got, _, err := v1.SHA256(bytes.NewReader(raw)); err == nil && got == h {
			return raw, sniffMediaType(raw), nil
		}
	}
	ref := b.digestRef(h)
	opts, err := b.remote.OptionsFor(ctx, ref)
	if err != nil {
		return nil, "", fmt.Errorf("fetching base image %s: %w", b.name, err)
	}
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("fetching base image %s: %w", b.name, b.remote.ClassifyFor(err, registry.SideBase, ref))
	}
	return desc.Manifest, desc.MediaType, nil
}

// sniffMediaType reads a manifest's mediaType, guessing OCI when absent.
func sniffMediaType(raw []byte) types.MediaType {
	var m struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests json.RawMessage `json:"manifests"`
	}
	_ = json.Unmarshal(raw, &m)
	switch {
	case m.MediaType != "":
		return m.MediaType
	case m.Manifests != nil:
		return types.OCIImageIndex
	default:
		return types.OCIManifestSchema1
	}
}

// forPlatform returns the base image for p and its manifest digest; nil
// for scratch.
func (b *baseImage) forPlatform(ctx context.Context, p v1.Platform) (v1.Image, v1.Hash, error) {
	if b.scratch() {
		return nil, v1.Hash{}, nil
	}
	if err := b.load(ctx); err != nil {
		return nil, v1.Hash{}, err
	}
	h, raw, mt := b.pinned, b.raw, b.mediaType
	if b.index != nil {
		d, err := pickPlatform(b.index, p)
		if err != nil {
			return nil, v1.Hash{}, fmt.Errorf("picking %s from base image %s: %w", p, b.name, err)
		}
		if err := registry.CheckManifestSize(d); err != nil {
			return nil, v1.Hash{}, fmt.Errorf("picking %s from base image %s: %w", p, b.name, b.remote.ClassifyFor(err, registry.SideBase, b.ref))
		}
		h = d.Digest
		var err2 error
		if raw, mt, err2 = b.manifest(ctx, h); err2 != nil {
			return nil, v1.Hash{}, err2
		}
	}
	if !mt.IsImage() {
		return nil, v1.Hash{}, fmt.Errorf("reading base image %s: unsupported media type %s", b.name, mt)
	}
	img, err := b.image(ctx, h, raw, mt)
	if err != nil {
		return nil, v1.Hash{}, err
	}
	// A registry decides what size it declares: refuse a config beyond
	// the bound before fetching it.
	m, err := img.Manifest()
	if err == nil {
		err = registry.CheckConfig(m)
	}
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading base image %s config: %w", b.name, b.remote.ClassifyFor(err, registry.SideBase, b.ref))
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading base image %s config: %w", b.name, b.remote.ClassifyFor(err, registry.SideBase, b.ref))
	}
	if b.index == nil {
		if have := cfg.Platform(); have != nil && !have.Satisfies(p) {
			return nil, v1.Hash{}, fmt.Errorf("picking %s from base image %s: %w: it is a single %s image", p, b.name, ErrBasePlatform, have)
		}
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading base image %s config: %w", b.name, err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, v1.Hash{}, fmt.Errorf("reading base image %s config: %w", b.name, err)
	}
	b.blobs[h], b.blobs[cfgName] = raw, rawCfg
	return img, h, nil
}

// image returns manifest h as an image: from the layout when all its blobs
// are there, else from the registry.
func (b *baseImage) image(ctx context.Context, h v1.Hash, raw []byte, mt types.MediaType) (v1.Image, error) {
	if m, err := v1.ParseManifest(bytes.NewReader(raw)); err == nil && b.hasBlobs(m) {
		img, err := partial.CompressedToImage(&blobImage{lp: b.lp, raw: raw, mt: mt, manifest: m})
		if err == nil {
			return img, nil
		}
	}
	ref := b.digestRef(h)
	opts, err := b.remote.OptionsFor(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("fetching base image %s: %w", b.name, err)
	}
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching base image %s: %w", b.name, b.remote.ClassifyFor(err, registry.SideBase, ref))
	}
	return img, nil
}

func (b *baseImage) hasBlobs(m *v1.Manifest) bool {
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		fi, err := os.Stat(filepath.Join(string(b.lp), "blobs", d.Digest.Algorithm, d.Digest.Hex))
		if err != nil || fi.Size() != d.Size {
			return false
		}
	}
	return true
}

// pickPlatform picks p's image from an index: same OS and architecture, the
// same variant when p names one (else preferring none), same OS version
// when p names one.
func pickPlatform(idx *v1.IndexManifest, p v1.Platform) (v1.Descriptor, error) {
	var found *v1.Descriptor
	var have []string
	for i := range idx.Manifests {
		d := &idx.Manifests[i]
		if d.Platform == nil || !d.MediaType.IsImage() && d.MediaType != "" {
			continue
		}
		if d.Platform.OS == "unknown" {
			continue // attestations
		}
		have = append(have, d.Platform.String())
		if !d.Platform.Satisfies(v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion}) {
			continue
		}
		if found == nil || found.Platform.Variant != "" && d.Platform.Variant == "" {
			found = d
		}
	}
	if found == nil {
		return v1.Descriptor{}, fmt.Errorf("%w: it has %s", ErrBasePlatform, strings.Join(have, ", "))
	}
	return *found, nil
}

// blobImage is an image whose blobs are all in a layout, found by digest
// rather than through index.json.
type blobImage struct {
	lp       layout.Path
	raw      []byte
	mt       types.MediaType
	manifest *v1.Manifest
}

var _ partial.CompressedImageCore = (*blobImage)(nil)

func (i *blobImage) RawConfigFile() ([]byte, error)      { return i.lp.Bytes(i.manifest.Config.Digest) }
func (i *blobImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *blobImage) RawManifest() ([]byte, error)        { return i.raw, nil }

func (i *blobImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.manifest.Config.Digest {
		return &blobLayer{lp: i.lp, desc: i.manifest.Config}, nil
	}
	for _, d := range i.manifest.Layers {
		if d.Digest == h {
			return &blobLayer{lp: i.lp, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("finding layer %s: not in the image", h)
}

// blobLayer is a blob of a layout.
type blobLayer struct {
	lp   layout.Path
	desc v1.Descriptor
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)  { return l.lp.Blob(l.desc.Digest) }
func (l *blobLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
