package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/config"
)

// imageSpec is what goes into one platform's config and manifest besides
// the layers.
type imageSpec struct {
	image       config.Image
	platform    v1.Platform
	epoch       time.Time
	annotations map[string]string // OCI annotations, also used as labels
	baseName    string
	baseDigest  v1.Hash
}

// assemble puts base (nil for scratch) and layers together into an OCI
// image. It returns the image and how many layers came from the base.
// It writes the manifest and config bytes itself rather than through ggcr's
// mutate: mutate keeps a Docker base's media types and lets ggcr's own
// encoding decide the bytes, and the digest must follow only from the
// inputs, in OCI types, whatever ggcr version built it.
func assemble(base v1.Image, layers []*fileLayer, history []v1.History, s imageSpec) (v1.Image, int, error) {
	var baseCfg *v1.ConfigFile
	var baseLayers []v1.Layer
	if base != nil {
		var err error
		if baseCfg, err = base.ConfigFile(); err != nil {
			return nil, 0, fmt.Errorf("reading base config: %w", err)
		}
		if baseLayers, err = base.Layers(); err != nil {
			return nil, 0, fmt.Errorf("reading base layers: %w", err)
		}
	}
	bi := &builtImage{layers: map[v1.Hash]partial.CompressedLayer{}}
	descs := []v1.Descriptor{} // never null in the manifest
	diffIDs := []v1.Hash{}
	for _, l := range baseLayers {
		d, err := partial.Descriptor(l)
		if err != nil {
			return nil, 0, fmt.Errorf("reading base layer: %w", err)
		}
		mt := ociLayerType(d.MediaType)
		descs = append(descs, v1.Descriptor{MediaType: mt, Size: d.Size, Digest: d.Digest})
		bi.layers[d.Digest] = &mediaTypeLayer{Layer: l, mt: mt}
	}
	for _, l := range layers {
		descs = append(descs, v1.Descriptor{MediaType: types.OCILayer, Size: l.size, Digest: l.digest})
		diffIDs = append(diffIDs, l.diffID)
		bi.layers[l.digest] = l
	}
	cfg := imageConfig(baseCfg, s, history, diffIDs)
	var err error
	if bi.config, err = json.Marshal(cfg); err != nil {
		return nil, 0, fmt.Errorf("encoding image config: %w", err)
	}
	cd, cs, err := v1.SHA256(bytes.NewReader(bi.config))
	if err != nil {
		return nil, 0, err
	}
	ann := copyMap(s.annotations)
	if base != nil {
		ann[AnnotationBaseName] = s.baseName
		ann[AnnotationBaseDigest] = s.baseDigest.String()
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        v1.Descriptor{MediaType: types.OCIConfigJSON, Size: cs, Digest: cd},
		Layers:        descs,
		Annotations:   ann,
	}
	if bi.manifest, err = json.Marshal(m); err != nil {
		return nil, 0, fmt.Errorf("encoding image manifest: %w", err)
	}
	img, err := partial.CompressedToImage(bi)
	if err != nil {
		return nil, 0, err
	}
	return img, len(baseLayers), nil
}

// imageConfig is the base config (or an empty one) with the platform,
// time, layers, history and the settings of image: applied.
func imageConfig(base *v1.ConfigFile, s imageSpec, history []v1.History, diffIDs []v1.Hash) *v1.ConfigFile {
	cfg := &v1.ConfigFile{}
	if base != nil {
		cfg = base.DeepCopy()
	}
	cfg.Created = v1.Time{Time: s.epoch}
	cfg.OS, cfg.Architecture, cfg.Variant = s.platform.OS, s.platform.Architecture, s.platform.Variant
	if s.platform.OSVersion != "" {
		cfg.OSVersion = s.platform.OSVersion
	}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = append(slices.Clip(cfg.RootFS.DiffIDs), diffIDs...)
	if cfg.RootFS.DiffIDs == nil {
		cfg.RootFS.DiffIDs = []v1.Hash{} // an array, never null, as the OCI schema wants
	}
	cfg.History = append(cfg.History, history...)

	c, ic := &cfg.Config, s.image
	if len(ic.Entrypoint) > 0 {
		c.Entrypoint = append([]string(nil), ic.Entrypoint...)
		c.Cmd = nil // as in Dockerfiles, a new entrypoint drops the base's arguments
	}
	if len(ic.Cmd) > 0 {
		c.Cmd = append([]string(nil), ic.Cmd...)
	}
	c.Env = mergeEnv(c.Env, ic.Env)
	if ic.Workdir != "" {
		c.WorkingDir = ic.Workdir
	}
	switch {
	case ic.User != "":
		c.User = ic.User
	case IsRoot(c.User):
		c.User = DefaultUser // a base's non-root user is kept; root never is by default
	}
	if len(ic.Ports) > 0 {
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ic.Ports {
			c.ExposedPorts[fmt.Sprintf("%d/tcp", p)] = struct{}{}
		}
	}
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	maps.Copy(c.Labels, ic.Labels)
	maps.Copy(c.Labels, s.annotations)
	return cfg
}

// IsRoot reports whether an image config's user runs as root: unset, 0 or
// root, with any group.
func IsRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "" || u == "0" || u == "root"
}

// mergeEnv sets vars over base (KEY=VALUE entries), adds PATH when missing
// and returns the result sorted by key.
func mergeEnv(base []string, vars map[string]string) []string {
	m := map[string]string{}
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	maps.Copy(m, vars)
	if _, ok := m["PATH"]; !ok {
		m["PATH"] = DefaultPath
	}
	keys := slices.Sorted(maps.Keys(m))
	env := make([]string, len(keys))
	for i, k := range keys {
		env[i] = k + "=" + m[k]
	}
	return env
}

// copyMap is maps.Clone that never returns nil: callers add to the copy.
func copyMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	maps.Copy(c, m)
	return c
}

// ociLayerType maps Docker layer media types to their OCI equivalents,
// which name the same bytes.
func ociLayerType(mt types.MediaType) types.MediaType {
	switch mt {
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		return types.OCIRestrictedLayer
	}
	return mt
}

// mediaTypeLayer is a layer under another media type.
type mediaTypeLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l *mediaTypeLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// builtImage is an image Slipway assembled.
type builtImage struct {
	config   []byte
	manifest []byte
	layers   map[v1.Hash]partial.CompressedLayer
}

var _ partial.CompressedImageCore = (*builtImage)(nil)

func (i *builtImage) RawConfigFile() ([]byte, error)      { return i.config, nil }
func (i *builtImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (i *builtImage) RawManifest() ([]byte, error)        { return i.manifest, nil }

func (i *builtImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := i.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("finding layer %s: not in the image", h)
}

// builtIndex is an OCI image index of Slipway's images.
type builtIndex struct {
	raw      []byte
	digest   v1.Hash
	manifest *v1.IndexManifest
	images   map[v1.Hash]v1.Image
}

var _ v1.ImageIndex = (*builtIndex)(nil)

// newIndex writes the index bytes itself rather than through ggcr's
// mutate.AppendManifests, as assemble does the images: the digest follows
// only from the images, platforms and annotations, in OCI types.
func newIndex(images []v1.Image, platforms []v1.Platform, ann map[string]string) (*builtIndex, error) {
	idx := &builtIndex{images: map[v1.Hash]v1.Image{}}
	m := &v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Annotations: ann}
	for i, img := range images {
		d, err := partial.Descriptor(img)
		if err != nil {
			return nil, err
		}
		p := platforms[i]
		m.Manifests = append(m.Manifests, v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest, Platform: &p})
		idx.images[d.Digest] = img
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	idx.raw, idx.manifest = raw, m
	if idx.digest, _, err = v1.SHA256(bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	return idx, nil
}

func (x *builtIndex) MediaType() (types.MediaType, error)       { return types.OCIImageIndex, nil }
func (x *builtIndex) Digest() (v1.Hash, error)                  { return x.digest, nil }
func (x *builtIndex) Size() (int64, error)                      { return int64(len(x.raw)), nil }
func (x *builtIndex) IndexManifest() (*v1.IndexManifest, error) { return x.manifest.DeepCopy(), nil }
func (x *builtIndex) RawManifest() ([]byte, error)              { return x.raw, nil }
func (x *builtIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	return nil, fmt.Errorf("finding index %s: not in the index", h)
}

func (x *builtIndex) Image(h v1.Hash) (v1.Image, error) {
	if img, ok := x.images[h]; ok {
		return img, nil
	}
	return nil, fmt.Errorf("finding image %s: not in the index", h)
}
