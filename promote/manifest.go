package promote

import (
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/registry"
)

// ErrUnsupported is returned for manifests that cannot be copied byte for
// byte, such as Docker schema 1.
var ErrUnsupported = errors.New("unsupported manifest")

// refs are what a manifest refers to: child manifests (of an index) and
// blobs (config and layers of an image or artifact).
type refs struct {
	manifests []v1.Descriptor
	blobs     []v1.Descriptor
}

// references parses a manifest of media type mt and returns what it refers
// to; an index of more than registry.MaxIndexChildren manifests is refused
// (registry.ErrTooLarge). Foreign (non-distributable) layers are left out: registries do not
// hold them. Unknown media types are read as an index when they list
// manifests and as an image or artifact otherwise.
// maxLayers bounds the layers of one manifest: a container runtime
// stacks at most a few hundred (overlayfs 128 on most kernels).
const maxLayers = 1000

func references(raw []byte, mt types.MediaType) (refs, error) {
	if mt.IsSchema1() {
		return refs{}, fmt.Errorf("reading manifest: %w: %s", ErrUnsupported, mt)
	}
	var m struct {
		SchemaVersion int             `json:"schemaVersion"`
		Config        *v1.Descriptor  `json:"config"`
		Layers        []v1.Descriptor `json:"layers"`
		Manifests     []v1.Descriptor `json:"manifests"`
		FSLayers      json.RawMessage `json:"fsLayers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return refs{}, fmt.Errorf("reading manifest: %w", err)
	}
	if m.SchemaVersion == 1 || m.FSLayers != nil {
		return refs{}, fmt.Errorf("reading manifest: %w: schema 1", ErrUnsupported)
	}
	var r refs
	if mt.IsIndex() || (!mt.IsImage() && len(m.Manifests) > 0) {
		if len(m.Manifests) > registry.MaxIndexChildren {
			return refs{}, fmt.Errorf("reading manifest: %w", &registry.BoundError{
				What:  fmt.Sprintf("the index lists %d manifests", len(m.Manifests)),
				Bound: fmt.Sprintf("%d manifests in an index", registry.MaxIndexChildren),
			})
		}
		r.manifests = m.Manifests
		return r, nil
	}
	if len(m.Layers) > maxLayers {
		return refs{}, fmt.Errorf("reading manifest: %w", &registry.BoundError{
			What:  fmt.Sprintf("the manifest lists %d layers", len(m.Layers)),
			Bound: fmt.Sprintf("%d layers in a manifest", maxLayers),
		})
	}
	if m.Config != nil {
		r.blobs = append(r.blobs, *m.Config)
	}
	for _, l := range m.Layers {
		if l.MediaType.IsDistributable() {
			r.blobs = append(r.blobs, l)
		}
	}
	return r, nil
}

// rawManifest is a manifest to be put byte for byte, with its media type.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

// RawManifest implements remote.Taggable.
func (m rawManifest) RawManifest() ([]byte, error) { return m.raw, nil }

// MediaType is the Content-Type the manifest is put with.
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }
