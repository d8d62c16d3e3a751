package image

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// rawManifest is a manifest put as it is.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.raw, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// TestBaseBounds builds on base images whose registry declares what would
// cost: a config of 1 GiB, a platform's manifest of 1 GiB, an index of
// many manifests. Each is refused before it is fetched.
func TestBaseBounds(t *testing.T) {
	noSourceDateEpoch(t)
	missing := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
	image := func(cfgSize int64) ([]byte, types.MediaType) {
		raw, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
			Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: cfgSize, Digest: missing}, Layers: []v1.Descriptor{}})
		return raw, types.OCIManifestSchema1
	}
	// child is an image the registry holds, for indexes to list: it
	// checks that they do.
	child, _ := image(2)
	childDigest, _, _ := v1.SHA256(strings.NewReader(string(child)))
	index := func(children int, size int64) ([]byte, types.MediaType) {
		ms := make([]v1.Descriptor, children)
		for i := range ms {
			ms[i] = v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: size, Digest: childDigest,
				Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}
		}
		raw, _ := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: ms})
		return raw, types.OCIImageIndex
	}
	tests := []struct {
		name string
		base func() ([]byte, types.MediaType)
		want string
	}{
		{"a config of 1 GiB", func() ([]byte, types.MediaType) { return image(1 << 30) }, "declares 1073741824 bytes; Slipway reads at most 8 MiB of an image config"},
		{"a platform's manifest of 1 GiB", func() ([]byte, types.MediaType) { return index(1, 1<<30) }, "declares 1073741824 bytes; Slipway reads at most 4 MiB of a manifest"},
		{"an index of 5000 manifests", func() ([]byte, types.MediaType) { return index(5000, 100) }, "lists 5000 manifests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testutil.Registry(t)
			hp := testutil.Host(s)
			ref, err := name.NewTag(hp+"/team/base:1", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Put(ref.Context().Digest(childDigest.String()), rawManifest{child, types.OCIManifestSchema1}); err != nil {
				t.Fatal(err)
			}
			raw, mt := tt.base()
			if err := remote.Put(ref, rawManifest{raw, mt}); err != nil {
				t.Fatal(err)
			}
			set, err := registry.NewSet(config.Registries{{Name: "dev", URL: hp + "/team", Insecure: true}}, faultOptions())
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			writeProject(t, dir, map[string]file{"bin/hello": {content: "hi", mode: 0o755}})
			o := testOptions(dir)
			o.Image.Base, o.Remote = ref.String(), set
			faultnet.Within(t, 0, func() { _, err = Build(context.Background(), o) })
			if !errors.Is(err, registry.ErrTooLarge) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "base registry dev") {
				t.Fatalf("Build = %v, want ErrTooLarge from the base registry saying %q", err, tt.want)
			}
		})
	}
}
