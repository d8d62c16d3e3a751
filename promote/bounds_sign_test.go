package promote

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/sign"
)

// TestMergeRefusesHugeConfig promotes a signature tag that the target holds
// with a promotion attestation of its own, so that the source's signature
// image is read to merge them, while the source declares that image's
// config at 1 GiB: it is refused before it is fetched.
func TestMergeRefusesHugeConfig(t *testing.T) {
	isolate(t)
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 512, 1))
	sigTag := "sha256-" + digest.Hex + ".sig"

	// The target's signature tag: a promotion attestation the source lacks.
	att := mutate.Addendum{Layer: static.NewLayer([]byte(`{}`), "application/vnd.dsse.envelope.v1+json"),
		Annotations: map[string]string{sign.PredicateTypeAnnotation: PredicateType}}
	theirs, err := mutate.Append(empty.Image, att)
	if err != nil {
		t.Fatal(err)
	}
	push(t, to, "hello", sigTag, theirs)

	// The source's: a signature the target lacks, in an image whose config
	// is declared at 1 GiB.
	raw, err := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: 1 << 30, Digest: hash("config")},
		Layers: []v1.Descriptor{{MediaType: sign.SimpleSigningMediaType, Size: 9, Digest: hash("signature")}}})
	if err != nil {
		t.Fatal(err)
	}
	push(t, from, "hello", sigTag, rawManifest{raw: raw, mt: types.OCIManifestSchema1})

	faultnet.Within(t, 0, func() {
		_, err = Promote(context.Background(), Options{From: from, To: to, App: "hello", Version: "1.0.0"})
	})
	if !errors.Is(err, registry.ErrTooLarge) || !strings.Contains(err.Error(), "declares 1073741824 bytes") || !strings.Contains(err.Error(), "source registry dev") {
		t.Fatalf("Promote = %v, want the source's signature config refused as too large", err)
	}
}
