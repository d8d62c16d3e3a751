package image

import (
	"context"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testenv"
)

// pullFiles pulls ref (the platform's image from an index when platform
// is set) and returns the pulled digest and the files of the image's last
// layer.
func pullFiles(t *testing.T, c *registry.Client, ref string, platform string) (string, map[string]string) {
	t.Helper()
	r, err := c.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(r, c.RemoteOptions(context.Background())...)
	if err != nil {
		t.Fatal(c.Classify(err, registry.SideSource))
	}
	var img v1.Image
	if platform == "" {
		img, err = desc.Image()
	} else {
		var idx v1.ImageIndex
		if idx, err = desc.ImageIndex(); err == nil {
			var d v1.Descriptor
			p, _ := v1.ParsePlatform(platform)
			im, _ := idx.IndexManifest()
			if d, err = pickPlatform(im, *p); err == nil {
				img, err = idx.Image(d.Digest)
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range lastLayer(t, img) {
		files[e.hdr.Name] = e.body
	}
	return desc.Digest.String(), files
}

func TestEndToEndPlainHTTP(t *testing.T) {
	// A base image in the same registry, whose layers get mounted.
	reg, set, client := registryWithBase(t, registry.Options{UserAgent: "slipway/test"}, "e2e")

	dir := t.TempDir()
	writeProject(t, dir, map[string]file{
		"dist/amd64/hello": {content: "amd64 build", mode: 0o755},
		"dist/arm64/hello": {content: "arm64 build", mode: 0o755},
	})
	o := testOptions(dir)
	o.Image.Base = reg.Host + "/team/base:1"
	o.Image.Platforms = []string{"linux/amd64", "linux/arm64"}
	o.Image.Layers = []config.Layer{{From: "dist/{{.Arch}}/hello", To: "/app/hello"}}
	o.Remote = set
	built := build(t, o)

	res, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != built.Digest || res.BlobsMounted != 4 || res.BlobsUploaded != 4 {
		t.Errorf("push %+v; want %s with 4 base layers mounted, 2 configs and 2 layers uploaded", res, built.Digest)
	}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		digest, files := pullFiles(t, client, reg.Host+"/team/hello:1.2.3", p)
		if digest != built.Digest {
			t.Errorf("pulled %s, built %s", digest, built.Digest)
		}
		if want := p[len("linux/"):] + " build"; files["app/hello"] != want {
			t.Errorf("%s: /app/hello = %q, want %q", p, files["app/hello"], want)
		}
	}
	again, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client})
	if err != nil || !again.UpToDate {
		t.Errorf("second push: %+v, %v; want up to date", again, err)
	}
}

func TestEndToEndTLSAndAuth(t *testing.T) {
	noSourceDateEpoch(t)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{TLS: true, Users: map[string]string{"ci": "correct horse"}})
	cfg := reg.Config("secure", "team")
	if cfg.Insecure || cfg.CA == "" {
		t.Fatalf("config %+v: want TLS with a CA file", cfg)
	}
	dir := t.TempDir()
	writeProject(t, dir, map[string]file{"bin/hello": {content: "over TLS", mode: 0o755}})
	built := build(t, testOptions(dir))

	tests := []struct {
		name    string
		user    string
		pass    string
		ca      string
		wantErr error
	}{
		{"no credentials", "", "", cfg.CA, registry.ErrAuth},
		{"wrong password", "ci", "wrong", cfg.CA, registry.ErrAuth},
		{"no CA", "ci", "correct horse", "", registry.ErrTLS},
		{"pushed", "ci", "correct horse", cfg.CA, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SLIPWAY_REGISTRY_SECURE_USERNAME", tt.user)
			t.Setenv("SLIPWAY_REGISTRY_SECURE_PASSWORD", tt.pass)
			c := cfg
			c.CA = tt.ca
			client, err := registry.New(registry.Options{Registry: c})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Push(context.Background(), PushOptions{Dir: dir, Registry: client})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Digest != built.Digest || res.BlobsUploaded != 2 {
				t.Errorf("push %+v", res)
			}
			digest, files := pullFiles(t, client, reg.Host+"/team/hello:git-0123456", "")
			if digest != built.Digest || files["app/hello"] != "over TLS" {
				t.Errorf("pulled %s %v; want %s", digest, files, built.Digest)
			}
		})
	}
}
