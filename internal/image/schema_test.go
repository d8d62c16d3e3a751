package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testenv"
)

// ociSchemaDir holds the OCI image-spec schemas (see its README).
const ociSchemaDir = "testdata/oci-schemas"

// ociSchemas are the compiled OCI image-spec schemas, with the walks over
// what a build wrote.
type ociSchemas struct{ testenv.OCISchemas }

// validate checks raw against s; what names it in failures.
func validate(t testing.TB, s *jsonschema.Schema, what string, raw []byte) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Errorf("%s is not JSON: %v", what, err)
		return
	}
	if err := s.Validate(doc); err != nil {
		t.Errorf("%s does not validate against the OCI schema: %v\n%s", what, err, raw)
	}
}

// walk validates the manifest or index d, read through get, against the
// schemas, and in turn every manifest it lists and every config it refers
// to. A manifest must declare the media type its descriptor gives, and
// every blob read must match its descriptor's digest and size. It returns
// how many manifests, indexes and configs it checked.
func (s ociSchemas) walk(t testing.TB, get func(v1.Descriptor) ([]byte, error), d v1.Descriptor) int {
	t.Helper()
	raw, err := get(d)
	if err != nil {
		t.Fatalf("reading %s: %v", d.Digest, err)
	}
	if h, _, _ := v1.SHA256(bytes.NewReader(raw)); h != d.Digest || int64(len(raw)) != d.Size {
		t.Errorf("%s: read %d bytes hashing to %s, want %d bytes", d.Digest, len(raw), h, d.Size)
	}
	var head struct {
		MediaType types.MediaType `json:"mediaType"`
		Config    v1.Descriptor   `json:"config"`
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		t.Fatalf("%s: %v", d.Digest, err)
	}
	if head.MediaType != d.MediaType {
		t.Errorf("%s declares media type %q, its descriptor %q", d.Digest, head.MediaType, d.MediaType)
	}
	what := fmt.Sprintf("%s %s", d.MediaType, d.Digest)
	switch d.MediaType {
	case types.OCIImageIndex:
		validate(t, s.Index, what, raw)
		n := 1
		for _, m := range head.Manifests {
			n += s.walk(t, get, m)
		}
		return n
	case types.OCIManifestSchema1:
		validate(t, s.Manifest, what, raw)
		if head.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: config media type %q, want %q", what, head.Config.MediaType, types.OCIConfigJSON)
			return 1
		}
		cfg, err := get(head.Config)
		if err != nil {
			t.Fatalf("reading config %s: %v", head.Config.Digest, err)
		}
		validate(t, s.Config, "config "+head.Config.Digest.String(), cfg)
		return 2
	default:
		t.Errorf("%s: not an OCI image index or manifest", what)
		return 0
	}
}

// validateLayout checks the OCI layout at dir: oci-layout, index.json and
// everything index.json leads to.
func (s ociSchemas) validateLayout(t testing.TB, dir string) int {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	validate(t, s.Layout, "oci-layout", read("oci-layout"))
	idx := read("index.json")
	validate(t, s.Index, "index.json", idx)
	im, err := v1.ParseIndexManifest(bytes.NewReader(idx))
	if err != nil {
		t.Fatal(err)
	}
	get := func(d v1.Descriptor) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, "blobs", d.Digest.Algorithm, d.Digest.Hex))
	}
	n := 0
	for _, d := range im.Manifests {
		n += s.walk(t, get, d)
	}
	return n
}

// TestSchemaSelfCheck makes sure the schemas refuse what they should, so
// that the tests below cannot pass by validating nothing.
func TestSchemaSelfCheck(t *testing.T) {
	s := ociSchemas{testenv.LoadOCISchemas(t, ociSchemaDir)}
	tests := []struct {
		name   string
		schema *jsonschema.Schema
		doc    string
	}{
		{"layout version", s.Layout, `{"imageLayoutVersion":"2.0.0"}`},
		{"manifest without config", s.Manifest, `{"schemaVersion":2,"layers":[]}`},
		{"bad digest", s.Manifest, `{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:xyz"},"layers":[]}`},
		{"index schema version", s.Index, `{"schemaVersion":1,"manifests":[]}`},
		{"config created", s.Config, `{"architecture":"amd64","os":"linux","created":"yesterday","rootfs":{"type":"layers","diff_ids":[]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(tt.doc)))
			if err != nil {
				t.Fatal(err)
			}
			if tt.schema.Validate(doc) == nil {
				t.Errorf("%s validates", tt.doc)
			}
		})
	}
}

// TestBuildLayoutMatchesOCISchemas builds images of several shapes and
// validates the OCI layout each leaves: oci-layout, index.json and every
// index, manifest and config blob.
func TestBuildLayoutMatchesOCISchemas(t *testing.T) {
	noSourceDateEpoch(t)
	s := ociSchemas{testenv.LoadOCISchemas(t, ociSchemaDir)}
	tests := []struct {
		name  string
		files map[string]file
		edit  func(*BuildOptions)
		want  int // manifests, indexes and configs checked
	}{
		{"single platform", map[string]file{"bin/hello": {content: "hi", mode: 0o755}}, func(*BuildOptions) {}, 2},
		{"three platforms", map[string]file{
			"dist/linux_amd64/hello":  {content: "amd64", mode: 0o755},
			"dist/linux_arm64/hello":  {content: "arm64", mode: 0o755},
			"dist/linux_arm_v7/hello": {content: "armv7", mode: 0o755},
		}, func(o *BuildOptions) {
			o.Image.Platforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}
			o.Image.Layers = []config.Layer{{From: "dist/{{.OS}}_{{.Arch}}{{if .Variant}}_{{.Variant}}{{end}}/hello", To: "/app/hello"}}
		}, 1 + 3*2},
		{"no version, environment, user and workdir", map[string]file{"bin/hello": {content: "hi", mode: 0o755}, "etc/app.conf": {content: "x"}},
			func(o *BuildOptions) {
				o.Meta.Version = ""
				o.Image.Layers = append(o.Image.Layers, config.Layer{From: "etc", To: "/etc/app"})
				o.Image.Env = map[string]string{"MODE": "prod"}
				o.Image.User = "65532"
				o.Image.Workdir = "/app"
				o.Image.Labels = map[string]string{"team": "payments"}
			}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeProject(t, dir, tt.files)
			o := testOptions(dir)
			tt.edit(&o)
			res := build(t, o)
			if n := s.validateLayout(t, res.Layout); n != tt.want {
				t.Errorf("checked %d documents, want %d", n, tt.want)
			}
		})
	}
}

// TestPushedManifestsMatchOCISchemas pushes builds to a docker-registry,
// one on a base image from it, and validates what the registry serves.
func TestPushedManifestsMatchOCISchemas(t *testing.T) {
	reg, set, client := registryWithBase(t, registry.Options{}, "schema")
	s := ociSchemas{testenv.LoadOCISchemas(t, ociSchemaDir)}

	tests := []struct {
		name string
		edit func(*BuildOptions)
		want int
	}{
		{"scratch, one platform", func(*BuildOptions) {}, 2},
		{"base image, two platforms", func(o *BuildOptions) {
			o.Image.Base = reg.Host + "/team/base:1"
			o.Image.Platforms = []string{"linux/amd64", "linux/arm64"}
			o.Image.Layers = []config.Layer{{From: "dist/{{.Arch}}/hello", To: "/app/hello"}}
			o.Remote = set
		}, 1 + 2*2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeProject(t, dir, map[string]file{
				"bin/hello":        {content: "hi", mode: 0o755},
				"dist/amd64/hello": {content: "amd64", mode: 0o755},
				"dist/arm64/hello": {content: "arm64", mode: 0o755},
			})
			o := testOptions(dir)
			o.App = "schema-" + fmt.Sprint(len(tt.name))
			tt.edit(&o)
			built := build(t, o)
			if _, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client}); err != nil {
				t.Fatal(err)
			}
			repo, _ := client.Repo(o.App)
			opts := client.RemoteOptions(context.Background())
			top, err := remote.Get(repo.Tag("1.2.3"), opts...)
			if err != nil {
				t.Fatal(err)
			}
			if top.Digest.String() != built.Digest {
				t.Fatalf("registry has %s, built %s", top.Digest, built.Digest)
			}
			get := func(d v1.Descriptor) ([]byte, error) {
				if d.MediaType.IsIndex() || d.MediaType.IsImage() {
					m, err := remote.Get(repo.Digest(d.Digest.String()), opts...)
					if err != nil {
						return nil, err
					}
					return m.Manifest, nil
				}
				l, err := remote.Layer(repo.Digest(d.Digest.String()), opts...)
				if err != nil {
					return nil, err
				}
				rc, err := l.Compressed()
				if err != nil {
					return nil, err
				}
				defer rc.Close()
				var b bytes.Buffer
				_, err = b.ReadFrom(rc)
				return b.Bytes(), err
			}
			if n := s.walk(t, get, top.Descriptor); n != tt.want {
				t.Errorf("checked %d documents, want %d", n, tt.want)
			}
		})
	}
}
