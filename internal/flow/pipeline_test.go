package flow

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/projfs"
	"github.com/slipwayhq/slipway/pipeline"
)

// TestPipelineFilesStayInside: a committed symlink in place of a generated
// file, or of a directory on its path, is neither read into check's diff
// nor written through by generate.
func TestPipelineFilesStayInside(t *testing.T) {
	const secret = "CI_TOKEN=hunter2\n"
	tests := []struct {
		name   string
		link   string // made a symlink to the outside directory's entry
		target string
	}{
		{"a generated file", ".drone.yml", "secret"},
		{"a directory on the path", ".github", "dir"},
		{"a directory below it", ".github/workflows", "dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir, outside := filepath.Join(base, "app"), filepath.Join(base, "outside")
			for _, d := range []string{filepath.Join(outside, "dir"), filepath.Join(dir, ".github")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			write(t, filepath.Join(outside, "secret"), secret)
			write(t, filepath.Join(dir, config.ProjectFile), "apiVersion: slipway/v1\napp: hello\n")
			write(t, filepath.Join(dir, config.CIFile), "apiVersion: slipway/v1\ntasks: {ciBuild: make}\npipeline: [ciBuild]\n")
			link := filepath.Join(dir, filepath.FromSlash(tt.link))
			_ = os.RemoveAll(link)
			if err := os.Symlink(filepath.Join(outside, tt.target), link); err != nil {
				t.Skipf("cannot make symlinks here: %v", err)
			}
			p, err := config.LoadProject(dir)
			if err != nil {
				t.Fatal(err)
			}

			target := pipeline.Drone
			if strings.HasPrefix(tt.link, ".github") {
				target = pipeline.GitHub
			}
			_, err = CheckPipeline(p, PipelineOptions{})
			var drift *DriftError
			if errors.As(err, &drift) && strings.Contains(drift.Diff, "hunter2") {
				t.Fatalf("check diffed the file outside the project:\n%s", drift.Diff)
			}
			if !errors.Is(err, projfs.ErrSymlink) {
				t.Errorf("check: error = %v, want ErrSymlink", err)
			}
			_, err = GeneratePipeline(p, target, "", PipelineOptions{})
			if !errors.Is(err, projfs.ErrSymlink) {
				t.Errorf("generate: error = %v, want ErrSymlink", err)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != secret {
				t.Errorf("generate wrote through the link: the file outside holds %q", b)
			}
			if des, _ := os.ReadDir(filepath.Join(outside, "dir")); len(des) > 0 {
				t.Errorf("generate wrote %s outside the project", des[0].Name())
			}
		})
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBootstrapProjectsFileIsBounded: projects.yaml is read as a regular
// file only, so /dev/zero or a FIFO cannot run bootstrap out of memory
// or hold it forever.
func TestBootstrapProjectsFileIsBounded(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "projects.yaml"), "projects:\n  - {name: billing, repo: 'https://git.example.com/billing.git'}\n")
	if got, err := BootstrapProjects(filepath.Join(dir, "projects.yaml"), ""); err != nil || len(got) != 1 {
		t.Fatalf("BootstrapProjects = %v, %v", got, err)
	}
	for _, file := range []string{dir, "/dev/zero"} {
		if _, err := BootstrapProjects(file, ""); !errors.Is(err, projfs.ErrNotRegular) {
			t.Errorf("BootstrapProjects(%s): err = %v, want ErrNotRegular", file, err)
		}
	}
}

// TestReadChecksumsIsBounded: --slipway-checksums is read as a regular
// file only, and bounded.
func TestReadChecksumsIsBounded(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "checksums.txt"), strings.Repeat("a", 64)+"  slipway_1.4.0_linux_amd64.tar.gz\n")
	if _, err := ReadChecksums(filepath.Join(dir, "checksums.txt")); err != nil {
		t.Fatalf("ReadChecksums = %v", err)
	}
	for _, file := range []string{dir, "/dev/zero"} {
		if _, err := ReadChecksums(file); !errors.Is(err, projfs.ErrNotRegular) {
			t.Errorf("ReadChecksums(%s): err = %v, want ErrNotRegular", file, err)
		}
	}
	write(t, filepath.Join(dir, "big"), strings.Repeat("a", maxChecksums+1))
	if _, err := ReadChecksums(filepath.Join(dir, "big")); !errors.Is(err, projfs.ErrTooLarge) {
		t.Errorf("ReadChecksums(big): err = %v, want ErrTooLarge", err)
	}
}
