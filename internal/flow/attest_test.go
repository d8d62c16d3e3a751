package flow

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/image"
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
			`{"uri":"git+https://git.example.com/team/hello.git","digest":{"gitCommit":"` + strings.Repeat("c", 40) + `"}}`,
			`{"uri":"gcr.io/distroless/static:nonroot","digest":{"sha256":"` + strings.Repeat("b", 64) + `"}}`,
			`"runDetails":{"builder":{"id":"` + BuilderID + `"}}`,
		}},
		{"scratch, no remote", scratch, []string{
			`"resolvedDependencies":[{"digest":{"gitCommit":"` + strings.Repeat("c", 40) + `"}}]`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(Provenance(tt.rec))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("provenance lacks %s:\n%s", w, b)
				}
			}
			again, _ := json.Marshal(Provenance(tt.rec))
			if string(again) != string(b) {
				t.Error("provenance differs between two calls")
			}
		})
	}
}

func TestSBOM(t *testing.T) {
	doc := SBOM(testRecord(), "registry.example.com/team/hello")
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		`"spdxVersion":"SPDX-2.3"`, `"dataLicense":"CC0-1.0"`, `"created":"2026-01-02T03:04:05Z"`,
		`"documentNamespace":"https://spdx.org/spdxdocs/slipway/registry.example.com/team/hello/sha256:` + strings.Repeat("a", 64) + `"`,
		`"referenceLocator":"pkg:oci/hello@sha256%3A` + strings.Repeat("a", 64) + `?repository_url=registry.example.com/team/hello"`,
		`{"SPDXID":"SPDXRef-Base","name":"gcr.io/distroless/static:nonroot","versionInfo":"sha256:` + strings.Repeat("b", 64) + `"`,
		`{"spdxElementId":"SPDXRef-Image","relationshipType":"DESCENDANT_OF","relatedSpdxElement":"SPDXRef-Base"}`,
		`"fileName":"./dist/hello","checksums":[{"algorithm":"SHA256","checksumValue":"` + strings.Repeat("d", 64) + `"}]`,
	} {
		if !strings.Contains(string(b), w) {
			t.Errorf("SBOM lacks %s:\n%s", w, b)
		}
	}
	if len(doc.Files) != 1 {
		t.Errorf("files = %+v, want only the regular file", doc.Files)
	}
}
