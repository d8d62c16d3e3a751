package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/slipwayhq/slipway/internal/projfs"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// ErrNoBuild is returned when the output directory holds no build. Its
// remedy is to build first.
var ErrNoBuild error = noBuild{}

type noBuild struct{}

func (noBuild) Error() string         { return "no build found" }
func (noBuild) Remedy() remedy.Remedy { return remedy.Remedy{Kind: remedy.BuildFirst} }

// Record is build.json: what the last build produced and from what.
type Record struct {
	// Digest is what Push pushes: the image manifest when one platform was
	// built, else the image index.
	Digest string `json:"digest"`
	// MediaType is Digest's media type.
	MediaType string `json:"mediaType"`
	// Platforms lists each platform's image manifest digest.
	Platforms []PlatformRecord `json:"platforms"`
	App       string           `json:"app,omitempty"`
	Version   string           `json:"version,omitempty"`
	Revision  string           `json:"revision,omitempty"`
	Source    string           `json:"source,omitempty"`
	// Created is the time stamped on the image.
	Created time.Time `json:"created"`
	// Base is the pinned base image; nil for scratch.
	Base *BaseRecord `json:"base,omitempty"`
	// Builder is "slipway", or the tool a Dockerfile was built with.
	Builder string `json:"builder"`
	// InputsHash covers everything but the files: config, meta, base,
	// ignore patterns, platforms. Empty for Dockerfile builds, which are
	// never up to date.
	InputsHash string `json:"inputsHash,omitempty"`
	// Layers lets a rebuild reuse layers whose files did not change.
	Layers []LayerRecord `json:"layers,omitempty"`
	// Files fingerprints every input file, sorted by path.
	Files []Fingerprint `json:"files,omitempty"`
	// Warnings are what the build said about its inputs, such as files
	// left out because they look like secrets.
	Warnings []string `json:"warnings,omitempty"`
}

// PlatformRecord is one platform's image.
type PlatformRecord struct {
	Platform string `json:"platform"`
	Digest   string `json:"digest"`
	// BaseDigest is the base image manifest used for this platform.
	BaseDigest string `json:"baseDigest,omitempty"`
	// BaseLayers is how many of the image's first layers come from the base.
	BaseLayers int `json:"baseLayers,omitempty"`
	// User is the user the image's process runs as, from its config.
	User string `json:"user,omitempty"`
	// NoCommand is true when the image has neither entrypoint nor cmd.
	NoCommand bool `json:"noCommand,omitempty"`
}

// BaseRecord is the base image, pinned by digest.
type BaseRecord struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

// LayerRecord remembers how a layer was made.
type LayerRecord struct {
	Key    string `json:"key"`   // hash of source, destination, mode, excludes, time
	Files  string `json:"files"` // hash of the layer's entries and fingerprints
	Digest string `json:"digest"`
	DiffID string `json:"diffID"`
	Size   int64  `json:"size"`
	// Contents are the layer's regular files as the build wrote them, for
	// the SBOM; nil in a record of an older build (an empty layer's is
	// empty, not nil).
	Contents []ContentFile `json:"contents"`
}

// ReadRecord reads output/build.json. It returns an error matching
// ErrNoBuild when there is none.
func ReadRecord(output string) (Record, error) {
	var r Record
	// Never through a symlinked output directory or record, never more
	// than a record can hold.
	b, err := projfs.ReadFile(filepath.Dir(output), filepath.Join(filepath.Base(output), RecordFile), maxRecord)
	if errors.Is(err, os.ErrNotExist) {
		return r, fmt.Errorf("reading build record in %s: %w", output, ErrNoBuild)
	}
	if err != nil {
		return r, fmt.Errorf("reading build record: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("reading build record %s: %w", filepath.Join(output, RecordFile), err)
	}
	return r, nil
}

// writeRecord writes output/build.json atomically.
func writeRecord(output string, r Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding build record: %w", err)
	}
	return writeFileAtomic(filepath.Join(output, RecordFile), append(b, '\n'))
}

func writeFileAtomic(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return nil
}
