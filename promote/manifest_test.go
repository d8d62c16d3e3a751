package promote

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/slipwayhq/slipway/internal/registry"
)

func hash(s string) v1.Hash { return digestOf([]byte(s)) }

func TestReferences(t *testing.T) {
	cfg, l1, l2 := hash("config"), hash("l1"), hash("l2")
	tests := []struct {
		name          string
		raw           string
		mt            types.MediaType
		wantManifests []v1.Hash
		wantBlobs     []v1.Hash
		wantErr       error
	}{
		{"image", `{"schemaVersion":2,"config":{"digest":"` + cfg.String() + `"},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + l1.String() + `"},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + l2.String() + `"}]}`,
			types.OCIManifestSchema1, nil, []v1.Hash{cfg, l1, l2}, nil},
		{"foreign layer left out", `{"schemaVersion":2,"config":{"digest":"` + cfg.String() + `"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"` + l1.String() + `"}]}`,
			types.DockerManifestSchema2, nil, []v1.Hash{cfg}, nil},
		{"index", `{"schemaVersion":2,"manifests":[{"digest":"` + l1.String() + `"},{"digest":"` + l2.String() + `"}]}`,
			types.OCIImageIndex, []v1.Hash{l1, l2}, nil, nil},
		{"docker list", `{"schemaVersion":2,"manifests":[{"digest":"` + l1.String() + `"}]}`,
			types.DockerManifestList, []v1.Hash{l1}, nil, nil},
		{"artifact", `{"schemaVersion":2,"artifactType":"x","config":{"digest":"` + cfg.String() + `"},"layers":[{"mediaType":"application/json","digest":"` + l1.String() + `"}]}`,
			"application/vnd.example+json", nil, []v1.Hash{cfg, l1}, nil},
		{"unknown type listing manifests", `{"schemaVersion":2,"manifests":[{"digest":"` + l1.String() + `"}]}`,
			"application/vnd.example.list+json", []v1.Hash{l1}, nil, nil},
		{"schema 1 by media type", `{}`, types.DockerManifestSchema1Signed, nil, nil, ErrUnsupported},
		{"schema 1 by content", `{"schemaVersion":1,"fsLayers":[]}`, "application/json", nil, nil, ErrUnsupported},
		{"not JSON", `nope`, types.OCIManifestSchema1, nil, nil, errors.New("any")},
		{"an index of too many manifests", `{"schemaVersion":2,"manifests":[` + strings.Repeat(`{"digest":"`+l1.String()+`"},`, registry.MaxIndexChildren) + `{"digest":"` + l2.String() + `"}]}`,
			types.OCIImageIndex, nil, nil, registry.ErrTooLarge},
	}
	digests := func(ds []v1.Descriptor) []v1.Hash {
		var hs []v1.Hash
		for _, d := range ds {
			hs = append(hs, d.Digest)
		}
		return hs
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := references([]byte(tt.raw), tt.mt)
			if tt.wantErr != nil {
				if err == nil || (errors.Is(tt.wantErr, ErrUnsupported) || errors.Is(tt.wantErr, registry.ErrTooLarge)) && !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(digests(r.manifests), tt.wantManifests) || !slices.Equal(digests(r.blobs), tt.wantBlobs) {
				t.Errorf("references = %v, %v; want %v, %v", digests(r.manifests), digests(r.blobs), tt.wantManifests, tt.wantBlobs)
			}
		})
	}
}

func TestLargestFirst(t *testing.T) {
	a, b, c := hash("a"), hash("b"), hash("c")
	const mb = smallBlob
	blobs := []v1.Descriptor{{Digest: a, Size: mb + 1}, {Digest: b, Size: 30 * mb}, {Digest: c, Size: 30 * mb}, {Digest: hash("d"), Size: 5 * mb},
		{Digest: hash("config"), Size: 1500}}
	largestFirst(blobs)
	var sizes []int64
	for _, d := range blobs {
		sizes = append(sizes, d.Size)
	}
	// A small blob (a config) goes first: at the end it would cost a round
	// of its own.
	if !slices.Equal(sizes, []int64{1500, 30 * mb, 30 * mb, 5 * mb, mb + 1}) {
		t.Errorf("sizes %v", sizes)
	}
	if blobs[1].Digest.String() > blobs[2].Digest.String() {
		t.Errorf("equal sizes not ordered by digest")
	}
}

func TestCosignTags(t *testing.T) {
	h := hash("x")
	got := cosignTags(h)
	want := []string{"sha256-" + h.Hex + ".sig", "sha256-" + h.Hex + ".att", "sha256-" + h.Hex + ".sbom"}
	if !slices.Equal(got, want) {
		t.Errorf("cosignTags = %v, want %v", got, want)
	}
}

func TestRecordManifest(t *testing.T) {
	subject := v1.Descriptor{MediaType: types.OCIImageIndex, Size: 123, Digest: hash("subject")}
	r := Record{From: "dev", To: "rc", Digest: subject.Digest.String(), Version: "1.2.3", When: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	raw, config, layer, err := recordManifest(r, subject)
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	cd, _ := config.Digest()
	ld, _ := layer.Digest()
	if m.ArtifactType != ArtifactType || m.Config.MediaType != ArtifactType || m.Config.Digest != cd ||
		len(m.Layers) != 1 || m.Layers[0].Digest != ld || m.Layers[0].MediaType != types.OCIEmptyJSON ||
		m.Subject == nil || m.Subject.Digest != subject.Digest || m.Subject.Size != 123 {
		t.Errorf("manifest %s", raw)
	}
	want := map[string]string{AnnotationFrom: "dev", AnnotationTo: "rc", AnnotationVersion: "1.2.3", ocispec.AnnotationCreated: "2025-01-02T03:04:05Z"}
	for k, v := range want {
		if m.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, m.Annotations[k], v)
		}
	}
}

func TestRecordSame(t *testing.T) {
	base := Record{From: "dev", To: "rc", Digest: "sha256:1", Version: "1.0.0", Who: "a", When: time.Unix(1, 0)}
	tests := []struct {
		name   string
		change func(*Record)
		want   bool
	}{
		{"other who and when", func(r *Record) { r.Who, r.When = "b", time.Unix(2, 0) }, true},
		{"other from", func(r *Record) { r.From = "qa" }, false},
		{"other to", func(r *Record) { r.To = "prod" }, false},
		{"other digest", func(r *Record) { r.Digest = "sha256:2" }, false},
		{"other version", func(r *Record) { r.Version = "1.0.1" }, false},
	}
	for _, tt := range tests {
		r := base
		tt.change(&r)
		if got := r.same(base); got != tt.want {
			t.Errorf("%s: same = %v, want %v", tt.name, got, tt.want)
		}
	}
}
