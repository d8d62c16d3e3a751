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
// generated GitHub workflow, and over those whose jobs install Slipway (a
// pinned release archive, or go install).
func TestActionlint(t *testing.T) {
	lint, err := exec.LookPath("actionlint")
	if err != nil {
		if os.Getenv("SLIPWAY_E2E") == "1" {
			t.Fatal("SLIPWAY_E2E=1 needs actionlint: go install github.com/rhysd/actionlint/cmd/actionlint")
		}
		t.Skip("actionlint is not installed")
	}
	install := load(t, "../examples/hello-go")
	install.Slipway = testInstall()
	all := append(cases(t), testCase{name: "install", in: install}, testCase{name: "goinstall", in: goInstallInput(t)})
	for _, tc := range all {
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
