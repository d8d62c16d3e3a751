package flow

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

	"github.com/slipwayhq/slipway/internal/registry"
)

// ociManifest is a raw OCI image manifest, put as it is.
type ociManifest []byte

func (m ociManifest) RawManifest() ([]byte, error)        { return m, nil }
func (m ociManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// TestDryRunReadsTheImageConfig checks that a deploy stops when the
// image's config cannot be read, instead of going on as if its user were
// known: one declared at 1 GiB is refused before it is fetched, a missing
// one is a registry error.
func TestDryRunReadsTheImageConfig(t *testing.T) {
	tests := []struct {
		name    string
		size    int64
		wantErr error
	}{
		{"a config declared at 1 GiB", 1 << 30, registry.ErrTooLarge},
		{"a config the registry does not have", 2, registry.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r, _ := f.p.Registries.Get("dev")
			ref, err := name.NewTag(r.URL+"/hello:1.2.5", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			missing := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
			raw, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
				Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: tt.size, Digest: missing}, Layers: []v1.Descriptor{}})
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Put(ref, ociManifest(raw)); err != nil {
				t.Fatal(err)
			}
			_, err = f.runner().DryRun(context.Background(), "dev", DeployOptions{Options: f.options(), Version: "1.2.5"})
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), "reading the config of") {
				t.Fatalf("DryRun = %v, want %v reading the config", err, tt.wantErr)
			}
		})
	}
}
