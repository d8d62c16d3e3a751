package flow

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/internal/sign"
	"github.com/slipwayhq/slipway/internal/testutil"
)

func testRecord() image.Record {
	return image.Record{
		Digest: "sha256:" + strings.Repeat("a", 64), App: "hello", Version: "1.2.0",
		Revision: strings.Repeat("c", 40), Source: "https://git.example.com/team/hello.git",
		Created:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Platforms: []image.PlatformRecord{{Platform: "linux/amd64"}, {Platform: "linux/arm64"}},
		Base:      &image.BaseRecord{Name: "gcr.io/distroless/static:nonroot", Digest: "sha256:" + strings.Repeat("b", 64)},
		Builder:   "slipway", InputsHash: "sha256:inputs",
		Files: []image.Fingerprint{
			{Path: "dist", Mode: 0o755 | 1<<31},
			{Path: "dist/hello", SHA256: strings.Repeat("d", 64)},
		},
	}
}

func TestProvenance(t *testing.T) {
	scratch := testRecord()
	scratch.Base, scratch.Source = nil, ""
	tests := []struct {
		name string
		rec  image.Record
		want []string // substrings of the JSON
	}{
		{"full record", testRecord(), []string{
			`"buildType":"` + BuildType + `"`,
			`"externalParameters":{"app":"hello","platforms":["linux/amd64","linux/arm64"],"source":{"revision":"` + strings.Repeat("c", 40) + `","uri":"https://git.example.com/team/hello.git"},"version":"1.2.0"}`,
			`{"digest":{"gitCommit":"` + strings.Repeat("c", 40) + `"},"uri":"git+https://git.example.com/team/hello.git"}`,
			`{"digest":{"sha256":"` + strings.Repeat("b", 64) + `"},"uri":"gcr.io/distroless/static:nonroot"}`,
			`"runDetails":{"builder":{"id":"` + BuilderID + `"`,
			`"internalParameters":{"builder":"slipway","inputsHash":"sha256:inputs"}`,
		}},
		{"scratch, no remote", scratch, []string{
			`"resolvedDependencies":[{"digest":{"gitCommit":"` + strings.Repeat("c", 40) + `"}}]`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := provenanceJSON(t, tt.rec)
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("provenance lacks %s:\n%s", w, b)
				}
			}
			if again := provenanceJSON(t, tt.rec); string(again) != string(b) {
				t.Error("provenance differs between two calls")
			}
		})
	}
}

// provenanceJSON is the provenance of rec, checked by in-toto's
// validation, as the statement holds it.
func provenanceJSON(t *testing.T, rec image.Record) []byte {
	t.Helper()
	p, err := Provenance(rec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sign.CanonicalJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	back := &slsa.Provenance{}
	if err := protojson.Unmarshal(b, back); err != nil || back.Validate() != nil {
		t.Fatalf("provenance does not read back as SLSA v1: %v\n%s", err, b)
	}
	return b
}

// sbomJSON is doc in JSON, keys sorted, after checking that SPDX's own
// reader takes it.
func sbomJSON(t *testing.T, doc *spdx.Document) []byte {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spdxjson.Read(bytes.NewReader(b)); err != nil {
		t.Fatalf("SPDX's reader refuses the SBOM: %v\n%s", err, b)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	b, err = json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSBOMFromRecord is the SBOM without scanned layers: the build
// record's input files.
func TestSBOMFromRecord(t *testing.T) {
	doc := SBOM(testRecord(), "registry.example.com/team/hello", nil)
	b := sbomJSON(t, doc)
	for _, w := range []string{
		`"spdxVersion":"SPDX-2.3"`, `"dataLicense":"CC0-1.0"`, `"created":"2026-01-02T03:04:05Z"`, `"creators":["Tool: slipway"]`,
		`"documentNamespace":"https://spdx.org/spdxdocs/slipway/registry.example.com/team/hello/sha256:` + strings.Repeat("a", 64) + `"`,
		`"referenceLocator":"pkg:oci/hello@sha256%3A` + strings.Repeat("a", 64) + `?repository_url=registry.example.com/team/hello"`,
		`"SPDXID":"SPDXRef-Base"`, `"name":"gcr.io/distroless/static:nonroot"`, `"versionInfo":"sha256:` + strings.Repeat("b", 64) + `"`,
		`{"relatedSpdxElement":"SPDXRef-Base","relationshipType":"DESCENDANT_OF","spdxElementId":"SPDXRef-Image"}`,
		`"checksums":[{"algorithm":"SHA256","checksumValue":"` + strings.Repeat("d", 64) + `"}],"copyrightText":"NOASSERTION","fileName":"./dist/hello"`,
	} {
		if !strings.Contains(string(b), w) {
			t.Errorf("SBOM lacks %s:\n%s", w, b)
		}
	}
	if len(doc.Files) != 1 {
		t.Errorf("files = %+v, want only the regular file", doc.Files)
	}
}

// layoutWith writes an OCI layout in a temporary directory holding one
// image per platform: a base layer, then a layer of files (path in the
// image -> content), and returns the directory and the build record.
func layoutWith(t *testing.T, files map[string][]byte, platforms ...string) (string, image.Record) {
	t.Helper()
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range append([]string{"app/"}, names...) {
		if strings.HasSuffix(n, "/") {
			if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(files[n]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "app/link", Typeflag: tar.TypeSymlink, Linkname: "hello"}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	// Uncompressed, so that large test binaries need no compressing.
	ours := static.NewLayer(buf.Bytes(), types.OCIUncompressedLayer)
	base, err := random.Layer(512, types.OCIUncompressedLayer)
	if err != nil {
		t.Fatal(err)
	}
	// As the build lays it out: one platform's image in the layout's
	// index, or an index of the platforms' images.
	rec := image.Record{App: "hello", Version: "1.0.0"}
	idx := v1.ImageIndex(empty.Index)
	for _, p := range platforms {
		img, err := mutate.AppendLayers(empty.Image, base, ours)
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), types.OCIConfigJSON)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img})
		d, _ := img.Digest()
		rec.Platforms = append(rec.Platforms, image.PlatformRecord{Platform: p, Digest: d.String(), BaseLayers: 1})
		if len(platforms) == 1 {
			if err := lp.AppendImage(img); err != nil {
				t.Fatal(err)
			}
			rec.Digest, rec.MediaType = d.String(), string(types.OCIManifestSchema1)
			return dir, rec
		}
	}
	if err := lp.AppendIndex(idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	rec.Digest, rec.MediaType = d.String(), string(types.OCIImageIndex)
	return dir, rec
}

// goBuild builds the main package pkg of the module in dir for linux, as
// hello-go's Makefile does.
func goBuild(t *testing.T, dir, pkg string) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to build Go binaries")
	}
	out := filepath.Join(t.TempDir(), "bin")
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOWORK=off", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSBOMContents scans the layers of an image holding hello-go, a Go
// binary with module dependencies, a Java archive and a text file:
// the SBOM lists each file by its path in the image with its SHA-256 (not
// the base layer's), the layer, the Go main modules with the modules
// compiled in and their Go version, and the archive by its manifest.
func TestSBOMContents(t *testing.T) {
	files := map[string][]byte{
		"app/hello":       goBuild(t, filepath.Join("..", "..", "examples", "hello-go"), "."),
		"app/gomodules":   goBuild(t, ".", "./testdata/gomodules"),
		"app/greeter.jar": testutil.JavaArchive(t, "Manifest-Version: 1.0\r\nImplementation-Title: greeter\r\nImplementation-Version: 2.1.\r\n 0\r\nImplementation-Vendor: Example\r\n\r\nName: other\r\nImplementation-Title: not-main\r\n"),
		"app/README":      []byte("hello\n"),
	}
	dir, rec := layoutWith(t, files, "linux/amd64", "linux/arm64")
	layers, err := image.ScanLayers(dir, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 || len(layers[0].Platforms) != 2 {
		t.Fatalf("layers %+v; want the one layer the build added, shared by both platforms", layers)
	}
	doc := SBOM(rec, "registry.example.com/team/hello", layers)
	b := sbomJSON(t, doc)
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	pkg := func(name string) *spdx.Package {
		for _, p := range doc.Packages {
			if p.PackageName == name {
				return p
			}
		}
		return nil
	}
	related := func(from, typ, to string) bool {
		return slices.ContainsFunc(doc.Relationships, func(r *spdx.Relationship) bool {
			return common.RenderDocElementID(r.RefA) == from && r.Relationship == typ && common.RenderDocElementID(r.RefB) == to
		})
	}

	// Files, by their path in the image, in their layer.
	if len(doc.Files) != len(files) {
		t.Errorf("files %+v; want the %d regular files of the build's layer", doc.Files, len(files))
	}
	for _, f := range doc.Files {
		content, ok := files[strings.TrimPrefix(f.FileName, "./")]
		if !ok || f.Checksums[0].Value != sum(content) {
			t.Errorf("file %+v does not match the layer", f)
		}
		if !related("SPDXRef-Layer-0", "CONTAINS", common.RenderElementID(f.FileSPDXIdentifier)) {
			t.Errorf("file %s is not contained by its layer", f.FileName)
		}
	}
	if !related("SPDXRef-Image", "CONTAINS", "SPDXRef-Layer-0") {
		t.Error("the image does not contain its layer")
	}

	// Go modules: hello-go's main module and Go version, and the other
	// binary's dependencies.
	tests := []struct {
		name, version, purpose string
	}{
		{"example.com/hello", "", "APPLICATION"},
		{"stdlib", runtime.Version(), "LIBRARY"},
		{"github.com/slipwayhq/slipway", "", "APPLICATION"},
		{"github.com/google/go-containerregistry", "v0.22.1", "LIBRARY"},
		{"github.com/opencontainers/go-digest", "v1.0.0", "LIBRARY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pkg(tt.name)
			if p == nil {
				t.Fatalf("no package %s in:\n%s", tt.name, b)
			}
			if (tt.version != "" && p.PackageVersion != tt.version) || p.PrimaryPackagePurpose != tt.purpose {
				t.Errorf("package %+v; want version %q, purpose %s", *p, tt.version, tt.purpose)
			}
			if len(p.PackageExternalReferences) != 1 || !strings.HasPrefix(p.PackageExternalReferences[0].Locator, "pkg:golang/"+tt.name) {
				t.Errorf("package %+v; want a pkg:golang URL", *p)
			}
		})
	}
	helloMain, selfMain := pkg("example.com/hello"), pkg("github.com/slipwayhq/slipway")
	id := func(p *spdx.Package) string { return common.RenderElementID(p.PackageSPDXIdentifier) }
	if helloMain == nil || selfMain == nil {
		t.FailNow()
	}
	if !related(id(selfMain), "DEPENDS_ON", id(pkg("github.com/google/go-containerregistry"))) ||
		!related(id(helloMain), "DEPENDS_ON", id(pkg("stdlib"))) {
		t.Error("a main module does not depend on its modules")
	}
	if related(id(helloMain), "DEPENDS_ON", id(pkg("github.com/google/go-containerregistry"))) {
		t.Error("hello-go depends on another binary's modules")
	}

	// The Java archive, by its manifest's main section.
	j := pkg("greeter")
	if j == nil || j.PackageVersion != "2.1.0" || j.PackageSupplier == nil || *j.PackageSupplier != (common.Supplier{SupplierType: "Organization", Supplier: "Example"}) || j.PackageFileName != "./app/greeter.jar" {
		t.Errorf("java archive package %+v; want greeter 2.1.0 by Example", j)
	}
	if pkg("not-main") != nil {
		t.Error("an entry section of the manifest was read as the archive's")
	}

	// One platform: its image is the layout's.
	one, oneRec := layoutWith(t, map[string][]byte{"app/README": []byte("hello\n")}, "linux/amd64")
	if got, err := image.ScanLayers(one, oneRec); err != nil || len(got) != 1 || len(got[0].Files) != 1 || got[0].Files[0].Path != "/app/README" {
		t.Errorf("one platform: layers %+v, %v; want the README", got, err)
	}

	again := SBOM(rec, "registry.example.com/team/hello", layers)
	if b2 := sbomJSON(t, again); string(b2) != string(b) {
		t.Error("the SBOM differs between two calls")
	}
}
