package flow

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/projfs"
)

// TestReadPodStaysInside: deploy.pod is read as project content, like a
// layer source: from inside the project only, a regular file, bounded,
// and a file that is no pod manifest is never quoted.
func TestReadPodStaysInside(t *testing.T) {
	base := t.TempDir()
	dir, outside := filepath.Join(base, "app"), filepath.Join(base, "outside")
	for _, d := range []string{outside, filepath.Join(dir, "podyml-dir")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(outside, "token"), "ghp_hunter2hunter2\n")
	write(t, filepath.Join(dir, "pod.yml"), "containers: [{name: web}]\n")
	write(t, filepath.Join(dir, "token.txt"), "ghp_hunter2hunter2\n")
	write(t, filepath.Join(dir, "big.yml"), "containers: []\n"+strings.Repeat("#", config.DefaultLimits.MaxBytes))
	for link, target := range map[string]string{"out.yml": filepath.Join(outside, "token"), "zero.yml": "/dev/zero", "in.yml": "pod.yml"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Skipf("cannot make symlinks here: %v", err)
		}
	}
	tests := []struct {
		pod        string
		containers int
		wantErr    error
	}{
		{"pod.yml", 1, nil},
		{"in.yml", 1, nil}, // a link that stays inside, as for layers
		{"missing.yml", 0, nil},
		{"out.yml", 0, config.ErrOutsideProject},
		{"zero.yml", 0, config.ErrOutsideProject},
		{"/dev/zero", 0, config.ErrOutsideProject},
		{"../outside/token", 0, config.ErrOutsideProject},
		{"podyml-dir", 0, projfs.ErrNotRegular},
		{"big.yml", 0, projfs.ErrTooLarge},
		{"token.txt", 0, config.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.pod, func(t *testing.T) {
			pod, err := readPod(&config.Project{Dir: dir, Deploy: config.Deploy{Pod: tt.pod}})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("readPod(%s) error = %v, want %v", tt.pod, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error quotes the file: %v", err)
			}
			if len(pod.Spec.Containers) != tt.containers {
				t.Errorf("%d containers, want %d", len(pod.Spec.Containers), tt.containers)
			}
		})
	}
}
