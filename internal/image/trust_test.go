package image

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/slipwayhq/slipway/internal/config"
)

// TestDigestIgnoresUmaskOwnerAndPath holds that the digest depends only on
// what git would commit: the same files checked out with another umask, in
// another directory, give the same image.
func TestDigestIgnoresUmaskOwnerAndPath(t *testing.T) {
	noSourceDateEpoch(t)
	digest := func(fileMode, exeMode, dirMode os.FileMode) string {
		dir := t.TempDir()
		writeProject(t, dir, map[string]file{
			"bin/hello":      {content: "hi", mode: exeMode},
			"conf/app.yaml":  {content: "a: 1", mode: fileMode},
			"conf/sub/x.txt": {content: "x", mode: fileMode},
		})
		for _, d := range []string{"bin", "conf", "conf/sub"} {
			if err := os.Chmod(filepath.Join(dir, d), dirMode); err != nil {
				t.Fatal(err)
			}
		}
		o := testOptions(dir)
		o.Image.Layers = []config.Layer{{From: "bin", To: "/app"}, {From: "conf", To: "/etc/app"}}
		return build(t, o).Digest
	}
	want := digest(0o644, 0o755, 0o755)
	for _, m := range []struct{ file, exe, dir os.FileMode }{
		{0o600, 0o700, 0o700}, // umask 077
		{0o664, 0o775, 0o775}, // umask 002
		{0o640, 0o750, 0o750}, // umask 027
		{0o444, 0o555, 0o555}, // read-only checkout
	} {
		if got := digest(m.file, m.exe, m.dir); got != want {
			t.Errorf("modes %o/%o/%o give %s, want %s", m.file, m.exe, m.dir, got, want)
		}
	}
}

// TestImageUser holds that images run as non-root on any base: a base's
// non-root user is kept, a root or unset one becomes 65532, and image.user
// wins over both.
func TestImageUser(t *testing.T) {
	tests := []struct {
		base, set, want string
		scratch         bool
	}{
		{scratch: true, want: DefaultUser},
		{base: "", want: DefaultUser},
		{base: "0", want: DefaultUser},
		{base: "root", want: DefaultUser},
		{base: "root:root", want: DefaultUser},
		{base: "0:1000", want: DefaultUser},
		{base: "1000", want: "1000"},
		{base: "nobody:nogroup", want: "nobody:nogroup"},
		{base: "1000", set: "0", want: "0"}, // said on purpose
		{base: "", set: "app", want: "app"},
	}
	for _, tt := range tests {
		var base *v1.ConfigFile
		if !tt.scratch {
			base = &v1.ConfigFile{Config: v1.Config{User: tt.base}}
		}
		cfg := imageConfig(base, imageSpec{image: config.Image{User: tt.set}}, nil, nil)
		if cfg.Config.User != tt.want {
			t.Errorf("base user %q, image.user %q: got %q, want %q", tt.base, tt.set, cfg.Config.User, tt.want)
		}
	}
}

// TestNoNullArrays holds what the OCI image-spec schemas want: layers and
// rootfs.diff_ids are arrays even when empty.
func TestNoNullArrays(t *testing.T) {
	base, err := random.Image(64, 0)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := assemble(base, nil, nil, imageSpec{epoch: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"diff_ids":[]`) {
		t.Errorf("config: %s", raw)
	}
	m, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(m, &doc); err != nil {
		t.Fatal(err)
	}
	if string(doc["layers"]) != "[]" {
		t.Errorf("manifest layers = %s", doc["layers"])
	}
}

func TestNothingToBuild(t *testing.T) {
	o := testOptions(t.TempDir())
	o.Image = config.Image{}
	if _, err := Build(context.Background(), o); !errors.Is(err, ErrNothingToBuild) || !strings.Contains(err.Error(), "image.layers") {
		t.Errorf("err = %v, want ErrNothingToBuild naming image.layers", err)
	}
}

func TestNoCommandWarns(t *testing.T) {
	noSourceDateEpoch(t)
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "hi", mode: 0o755}})
	o := testOptions(dir)
	o.Image.Entrypoint = nil
	res := build(t, o)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "neither an entrypoint nor a cmd") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if res.Platforms[0].User != DefaultUser || !res.Platforms[0].NoCommand {
		t.Errorf("record %+v", res.Platforms[0])
	}
	res = build(t, o) // up to date, the same warning
	if !res.UpToDate || len(res.Warnings) != 1 {
		t.Errorf("up to date %v, warnings %q", res.UpToDate, res.Warnings)
	}
}
