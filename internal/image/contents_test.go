package image

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// TestContentsRecordedAtBuild builds two platforms' images holding a Go
// binary (this test's own), a Java archive, text files and a symlink: what
// the build records of each layer is exactly what scanning the layers
// finds, a rebuild that reuses the layers keeps it, and Contents then
// reads no layer.
func TestContentsRecordedAtBuild(t *testing.T) {
	noSourceDateEpoch(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{
		"dist/linux_amd64/hello": {content: string(bin), mode: 0o755},
		"dist/linux_arm64/hello": {content: "arm64 binary", mode: 0o755},
		"lib/greeter.jar":        {content: string(testutil.JavaArchive(t, "Manifest-Version: 1.0\r\nImplementation-Title: greeter\r\nImplementation-Version: 2.1.0\r\n\r\n"))},
		"lib/README":             {content: "hello\n"},
		"lib/latest.jar":         {link: "greeter.jar"},
		"lib/empty/":             {},
	})
	o := testOptions(dir)
	o.Image.Platforms = []string{"linux/amd64", "linux/arm64"}
	o.Image.Layers = []config.Layer{
		{From: "lib", To: "/app/lib"},
		{From: "dist/{{.OS}}_{{.Arch}}/hello", To: "/app/hello"},
	}
	res := build(t, o)
	out := filepath.Dir(res.Layout)

	recorded, err := Contents(res.Layout, res.Record)
	if err != nil {
		t.Fatal(err)
	}
	scanned, err := ScanLayers(res.Layout, res.Record)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(recorded, scanned) {
		t.Fatalf("recorded contents differ from the layers':\nrecorded %+v\nscanned  %+v", recorded, scanned)
	}
	if len(recorded) != 3 || len(recorded[0].Platforms) != 2 {
		t.Fatalf("contents %+v; want the shared lib layer and one binary layer per platform", recorded)
	}
	sum := sha256.Sum256(bin)
	byPath := map[string]ContentFile{}
	for _, l := range recorded {
		for _, f := range l.Files {
			byPath[f.Path+" "+l.Platforms[0]] = f
		}
	}
	if f := byPath["/app/hello linux/amd64"]; f.SHA256 != hex.EncodeToString(sum[:]) || f.Go == nil || f.Go.GoVersion == "" {
		t.Errorf("the Go binary: %+v; want its digest and build info", f)
	}
	if f := byPath["/app/lib/greeter.jar linux/amd64"]; f.Java == nil || f.Java.Title != "greeter" || f.Java.Version != "2.1.0" {
		t.Errorf("the Java archive: %+v; want its manifest", f)
	}
	if _, ok := byPath["/app/lib/latest.jar linux/amd64"]; ok {
		t.Error("a symlink is listed as a file")
	}

	// Contents reads the record, not the layers: with the layers' blobs
	// gone it still answers.
	rec, err := ReadRecord(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rec.Layers {
		if l.Contents == nil {
			t.Fatalf("layer %s has no recorded contents", l.Digest)
		}
	}
	// A rebuild that reuses every layer keeps what they hold.
	if err := os.WriteFile(filepath.Join(dir, "unrelated"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	o.Meta.Version = "1.2.4"
	again := build(t, o)
	if !reflect.DeepEqual(again.Layers, res.Layers) {
		t.Errorf("a rebuild changed the layer records:\n%+v\n%+v", again.Layers, res.Layers)
	}
	for _, l := range rec.Layers {
		h := l.Digest[len("sha256:"):]
		if err := os.Remove(filepath.Join(res.Layout, "blobs", "sha256", h)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := Contents(res.Layout, again.Record); err != nil || !reflect.DeepEqual(got, recorded) {
		t.Errorf("contents without the layers' blobs: %v; want the recorded ones", err)
	}
	// A record without contents (an older build's) is scanned instead.
	old := again.Record
	old.Layers = nil
	if _, err := Contents(res.Layout, old); err == nil {
		t.Error("a record without contents did not read the (removed) layers")
	}
}
