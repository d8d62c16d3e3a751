package image

import (
	"fmt"
	"path/filepath"

	"github.com/slipwayhq/slipway/internal/projfs"
)

// maxRecord bounds build.json: a record lists every file of the image
// twice (fingerprint and content), some hundred bytes each, so a build of
// a hundred thousand files stays well within it.
const maxRecord = 64 << 20

// checkOutput refuses an output directory that is a symlink or holds one,
// or a FIFO or device, at any depth, before a build or push reads or
// writes it with functions that follow links (go-containerregistry's
// layout among them): a committed .slipway could otherwise lead the
// build's writes, and the push's reads, anywhere.
func checkOutput(output string) error {
	if err := projfs.CheckTree(filepath.Dir(output), filepath.Base(output)); err != nil {
		return fmt.Errorf("using the build output: %w", err)
	}
	return nil
}
