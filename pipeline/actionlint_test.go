package pipeline

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestActionlint runs actionlint (go install
// github.com/rhysd/actionlint/cmd/actionlint; make test does) over every
// generated GitHub workflow.
func TestActionlint(t *testing.T) {
	lint, err := exec.LookPath("actionlint")
	if err != nil {
		if os.Getenv("SLIPWAY_E2E") == "1" {
			t.Fatal("SLIPWAY_E2E=1 needs actionlint: go install github.com/rhysd/actionlint/cmd/actionlint")
		}
		t.Skip("actionlint is not installed")
	}
	for _, tc := range cases(t) {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Generate(GitHub, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			var paths []string
			for _, f := range files {
				p := filepath.Join(dir, filepath.FromSlash(f.Path))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, f.Content, 0o644); err != nil {
					t.Fatal(err)
				}
				paths = append(paths, p)
			}
			cmd := exec.Command(lint, append([]string{"-no-color", "-shellcheck="}, paths...)...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("actionlint: %v\n%s", err, strings.TrimSpace(string(out)))
			}
		})
	}
}
