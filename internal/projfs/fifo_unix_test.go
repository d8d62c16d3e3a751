//go:build unix

package projfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFIFOsAreRefusedAtOnce: a FIFO in place of a project file neither
// blocks the reader (no writer ever comes) nor is read.
func TestFIFOsAreRefusedAtOnce(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	must(t, os.MkdirAll(filepath.Join(root, "out"), 0o755))
	if err := syscall.Mkfifo(filepath.Join(root, "out", "pipe"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"ReadFile", func() error { _, err := ReadFile(root, "pipe", 100); return err }},
		{"ReadRegular", func() error { _, err := ReadRegular(filepath.Join(root, "pipe"), 100); return err }},
		{"WriteFile", func() error { return WriteFile(root, "pipe", nil, 0o644) }},
		{"CheckTree", func() error { return CheckTree(root, "out") }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- c.call() }()
			select {
			case err := <-done:
				if !errors.Is(err, ErrNotRegular) {
					t.Errorf("error = %v, want ErrNotRegular", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("blocked on the FIFO")
			}
		})
	}
}
