package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Tool returns the path of an outside program a test drives, such as
// cosign or oras: the project's bin/NAME (where make deps installs it), or
// NAME on PATH. Without it the test is skipped, or fails when
// SLIPWAY_E2E=1.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if bin, err := findScript(filepath.Join("bin", name)); err == nil {
		if fi, err := os.Stat(bin); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return bin
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := name + " is not installed; run make deps"
	if os.Getenv(E2EEnv) == "1" {
		t.Fatalf("%s (%s=1 requires it)", msg, E2EEnv)
	}
	t.Skip(msg)
	return ""
}
