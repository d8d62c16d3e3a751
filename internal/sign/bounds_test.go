package sign

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// rawManifest is a manifest put as it is.
type rawManifest []byte

func (m rawManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// TestSignRefusesHugeConfig signs a digest whose signature tag holds an
// image whose config the registry declares at 1 GiB: signing reads that
// config to add to it, so it is refused before it is fetched.
func TestSignRefusesHugeConfig(t *testing.T) {
	ctx := context.Background()
	host := testutil.Host(testutil.Registry(t))
	ref := pushRandom(t, host, "team/app")
	raw, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: 1 << 30, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}},
		Layers: []v1.Descriptor{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(mustTag(t, ref), rawManifest(raw)); err != nil {
		t.Fatal(err)
	}
	s, _ := newSigner(t)
	if _, err := Image(ctx, ref, s, nil); !errors.Is(err, registry.ErrTooLarge) || !strings.Contains(err.Error(), "declares 1073741824 bytes") {
		t.Fatalf("Image = %v, want the config refused as too large", err)
	}
}
