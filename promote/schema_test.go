package promote

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testenv"
)

// ociSchemaDir holds the OCI image-spec schemas, vendored once for the
// image and promote tests (see its README).
const ociSchemaDir = "../internal/image/testdata/oci-schemas"

// ociSchemas compiles the index, manifest and config schemas.
func ociSchemas(t *testing.T) (index, manifest, config *jsonschema.Schema) {
	t.Helper()
	s := testenv.LoadOCISchemas(t, ociSchemaDir)
	return s.Index, s.Manifest, s.Config
}

// ociIndex is an OCI index of two OCI images (OCI media types throughout,
// with configs that name their platform).
func ociIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		l, err := random.Layer(1024, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
		cfg, _ := img.ConfigFile()
		cfg = cfg.DeepCopy()
		cfg.OS, cfg.Architecture = "linux", arch
		cfg.Created = v1.Time{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return idx
}

// TestPromotedManifestsMatchOCISchemas promotes an OCI index with an
// attached artifact and a record, and validates what the target serves
// against the OCI schemas: the index, each platform's manifest and config,
// every referrer of the index (the artifact and the promotion record) and,
// on registries without the referrers API, the referrers tag's index.
func TestPromotedManifestsMatchOCISchemas(t *testing.T) {
	isolate(t)
	index, manifest, config := ociSchemas(t)
	type pair struct{ from, to *registry.Client }
	tests := []struct {
		name     string
		fallback bool // the target lacks the referrers API
		start    func(t *testing.T) pair
	}{
		{"in-process, referrers API", false, func(t *testing.T) pair {
			return pair{client(t, newServer(t, true, nil), "dev", "team"), client(t, newServer(t, true, nil), "rc", "team")}
		}},
		{"in-process, referrers tag", true, func(t *testing.T) pair {
			return pair{client(t, newServer(t, false, nil), "dev", "team"), client(t, newServer(t, false, nil), "rc", "team")}
		}},
		{"docker-registry", true, func(t *testing.T) pair {
			return pair{dockerRegistry(t, "dev"), dockerRegistry(t, "rc")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.start(t)
			idx := ociIndex(t)
			digest := push(t, p.from, "hello", "1.0.0", idx)
			sig := attach(t, p.from, "hello", descriptor(t, p.from, "hello", digest.String()).Descriptor)
			res, err := Promote(context.Background(), Options{From: p.from, To: p.to, App: "hello", Version: "1.0.0",
				Record: &Record{Who: "ci", When: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)}})
			if err != nil {
				t.Fatal(err)
			}
			check := func(s *jsonschema.Schema, what string, raw []byte) {
				t.Helper()
				doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if err := s.Validate(doc); err != nil {
					t.Errorf("%s does not validate against the OCI schema: %v\n%s", what, err, raw)
				}
			}
			repo, _ := p.to.Repo("hello")
			opts := p.to.RemoteOptions(context.Background())
			get := func(id string) *remote.Descriptor {
				t.Helper()
				return descriptor(t, p.to, "hello", id)
			}

			top := get("1.0.0")
			check(index, "the index", top.Manifest)
			im, _ := idx.IndexManifest()
			for _, m := range im.Manifests {
				d := get(m.Digest.String())
				check(manifest, m.Platform.String()+" manifest", d.Manifest)
				img, err := d.Image()
				if err != nil {
					t.Fatal(err)
				}
				raw, err := img.RawConfigFile()
				if err != nil {
					t.Fatal(err)
				}
				check(config, m.Platform.String()+" config", raw)
			}

			refs, err := remote.Referrers(repo.Digest(digest.String()), opts...)
			if err != nil {
				t.Fatal(err)
			}
			rm, _ := refs.IndexManifest()
			seen := map[v1.Hash]bool{}
			for _, d := range rm.Manifests {
				seen[d.Digest] = true
				m := get(d.Digest.String())
				check(manifest, "referrer "+d.Digest.String(), m.Manifest)
				var head struct {
					ArtifactType string         `json:"artifactType"`
					Subject      *v1.Descriptor `json:"subject"`
				}
				if err := json.Unmarshal(m.Manifest, &head); err != nil {
					t.Fatal(err)
				}
				if head.Subject == nil || head.Subject.Digest != digest || head.Subject.MediaType != types.OCIImageIndex {
					t.Errorf("referrer %s has subject %+v, want the index %s", d.Digest, head.Subject, digest)
				}
			}
			if rec, err := v1.NewHash(res.RecordDigest); err != nil || !seen[sig] || !seen[rec] {
				t.Errorf("target referrers %v, want the artifact %s and the record %s", rm.Manifests, sig, res.RecordDigest)
			}
			if tt.fallback {
				check(index, "the referrers tag's index", get("sha256-"+digest.Hex).Manifest)
			}
		})
	}
}
