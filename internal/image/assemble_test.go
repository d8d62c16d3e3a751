package image

import (
	"reflect"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipwayhq/slipway/internal/config"
)

func TestImageConfig(t *testing.T) {
	epoch := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	ann := map[string]string{AnnotationVersion: "1.0.0", AnnotationCreated: "2024-01-02T03:04:05Z"}
	base := &v1.ConfigFile{
		Architecture: "arm64", OS: "linux", Variant: "v8",
		History: []v1.History{{CreatedBy: "base"}},
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{{Algorithm: "sha256", Hex: "aa"}}},
		Config: v1.Config{
			Env:          []string{"PATH=/base/bin", "LANG=C"},
			Entrypoint:   []string{"/base-entry"},
			Cmd:          []string{"--base"},
			User:         "1000",
			WorkingDir:   "/base",
			ExposedPorts: map[string]struct{}{"9000/tcp": {}},
			Labels:       map[string]string{"base": "yes", AnnotationVersion: "0.0.1"},
		},
	}
	ours := []v1.Hash{{Algorithm: "sha256", Hex: "bb"}}
	hist := []v1.History{{Created: v1.Time{Time: epoch}, CreatedBy: "slipway: copy a to /a"}}
	tests := []struct {
		name  string
		base  *v1.ConfigFile
		image config.Image
		plat  v1.Platform
		check func(t *testing.T, c *v1.ConfigFile)
	}{
		{
			name:  "scratch defaults",
			image: config.Image{Entrypoint: []string{"/app"}, Ports: []int{8080}, Env: map[string]string{"B": "2", "A": "1"}},
			plat:  v1.Platform{OS: "linux", Architecture: "amd64"},
			check: func(t *testing.T, c *v1.ConfigFile) {
				want := v1.Config{
					Entrypoint:   []string{"/app"},
					Env:          []string{"A=1", "B=2", "PATH=" + DefaultPath},
					User:         DefaultUser,
					ExposedPorts: map[string]struct{}{"8080/tcp": {}},
					Labels:       ann,
				}
				if !reflect.DeepEqual(c.Config, want) {
					t.Errorf("config\n got %+v\nwant %+v", c.Config, want)
				}
				if c.OS != "linux" || c.Architecture != "amd64" || !c.Created.Time.Equal(epoch) {
					t.Errorf("platform/time %s/%s %s", c.OS, c.Architecture, c.Created)
				}
				if !reflect.DeepEqual(c.RootFS.DiffIDs, ours) || !reflect.DeepEqual(c.History, hist) {
					t.Errorf("rootfs %v history %v", c.RootFS, c.History)
				}
			},
		},
		{
			name:  "base kept where not overridden",
			base:  base,
			image: config.Image{Labels: map[string]string{"team": "payments"}},
			plat:  v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"},
			check: func(t *testing.T, c *v1.ConfigFile) {
				if !reflect.DeepEqual(c.Config.Entrypoint, []string{"/base-entry"}) || !reflect.DeepEqual(c.Config.Cmd, []string{"--base"}) {
					t.Errorf("entrypoint %v cmd %v", c.Config.Entrypoint, c.Config.Cmd)
				}
				if c.Config.User != "1000" || c.Config.WorkingDir != "/base" {
					t.Errorf("user %q workdir %q", c.Config.User, c.Config.WorkingDir)
				}
				if !reflect.DeepEqual(c.Config.Env, []string{"LANG=C", "PATH=/base/bin"}) {
					t.Errorf("env %v", c.Config.Env)
				}
				wantLabels := map[string]string{"base": "yes", "team": "payments", AnnotationVersion: "1.0.0", AnnotationCreated: "2024-01-02T03:04:05Z"}
				if !reflect.DeepEqual(c.Config.Labels, wantLabels) {
					t.Errorf("labels %v", c.Config.Labels)
				}
				if len(c.RootFS.DiffIDs) != 2 || len(c.History) != 2 {
					t.Errorf("rootfs %v history %v", c.RootFS.DiffIDs, c.History)
				}
			},
		},
		{
			name:  "entrypoint drops the base's cmd; settings override",
			base:  base,
			image: config.Image{Entrypoint: []string{"/app"}, User: "app", Workdir: "/srv", Env: map[string]string{"PATH": "/app/bin"}, Ports: []int{8080}},
			plat:  v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"},
			check: func(t *testing.T, c *v1.ConfigFile) {
				if c.Config.Cmd != nil || c.Config.User != "app" || c.Config.WorkingDir != "/srv" {
					t.Errorf("cmd %v user %q workdir %q", c.Config.Cmd, c.Config.User, c.Config.WorkingDir)
				}
				if !reflect.DeepEqual(c.Config.Env, []string{"LANG=C", "PATH=/app/bin"}) {
					t.Errorf("env %v", c.Config.Env)
				}
				if len(c.Config.ExposedPorts) != 2 {
					t.Errorf("ports %v", c.Config.ExposedPorts)
				}
				if len(base.Config.ExposedPorts) != 1 || base.Config.Labels["team"] != "" {
					t.Error("the base config was modified")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := imageConfig(tt.base, imageSpec{image: tt.image, platform: tt.plat, epoch: epoch, annotations: ann}, hist, ours)
			tt.check(t, c)
		})
	}
}

func TestPickPlatform(t *testing.T) {
	d := func(hex string, p *v1.Platform) v1.Descriptor {
		return v1.Descriptor{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: v1.Hash{Algorithm: "sha256", Hex: hex}, Platform: p}
	}
	idx := &v1.IndexManifest{Manifests: []v1.Descriptor{
		d("amd", &v1.Platform{OS: "linux", Architecture: "amd64"}),
		d("arm64v8", &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}),
		d("armv6", &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}),
		d("armv7", &v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}),
		d("att", &v1.Platform{OS: "unknown", Architecture: "unknown"}),
	}}
	tests := []struct {
		want string
		p    v1.Platform
	}{
		{"amd", v1.Platform{OS: "linux", Architecture: "amd64"}},
		{"arm64v8", v1.Platform{OS: "linux", Architecture: "arm64"}},
		{"armv7", v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{"", v1.Platform{OS: "linux", Architecture: "s390x"}},
	}
	for _, tt := range tests {
		got, err := pickPlatform(idx, tt.p)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%s: picked %s", tt.p, got.Digest)
			}
			continue
		}
		if err != nil || got.Digest.Hex != tt.want {
			t.Errorf("%s: got %s, %v; want %s", tt.p, got.Digest.Hex, err, tt.want)
		}
	}
}
