package image

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/registry"
)

// OutputDir is the default output directory, relative to the project root.
const OutputDir = ".slipway"

// Names inside the output directory.
const (
	LayoutDir  = "oci"        // the OCI image layout
	RecordFile = "build.json" // the build record
)

// Scratch is the base name of an empty base image.
const Scratch = "scratch"

// DefaultPlatform is built when config.Image.Platforms is empty.
const DefaultPlatform = "linux/amd64"

// DefaultUser is the user of images on scratch when config.Image.User is
// empty: the conventional non-root "nonroot" uid.
const DefaultUser = "65532"

// DefaultPath is the PATH of images whose base sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// OCI annotation and label keys Slipway fills.
const (
	AnnotationVersion    = "org.opencontainers.image.version"
	AnnotationRevision   = "org.opencontainers.image.revision"
	AnnotationSource     = "org.opencontainers.image.source"
	AnnotationCreated    = "org.opencontainers.image.created"
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
	AnnotationRefName    = "org.opencontainers.image.ref.name"
)

// Remote reaches the registries base images come from. *registry.Set and
// *registry.Client implement it.
type Remote interface {
	// ParseReference parses an image reference with the right name options.
	ParseReference(ref string) (name.Reference, error)
	// OptionsFor returns the remote options for the registry of ref.
	OptionsFor(ctx context.Context, ref name.Reference) ([]remote.Option, error)
	// ClassifyFor turns an error from the registry of ref into a typed one.
	ClassifyFor(err error, side registry.Side, ref name.Reference) error
}

var (
	_ Remote = (*registry.Set)(nil)
	_ Remote = (*registry.Client)(nil)
)

// Meta is what git says about the build.
type Meta struct {
	// Version is the release version, e.g. 1.4.0 or 1.5.0-SNAPSHOT; it
	// becomes the version tag when pushed.
	Version string
	// Revision is the full commit SHA.
	Revision string
	// Source is the repository URL; may be empty.
	Source string
	// Created is the commit time. It is the time of every file, the image
	// config and the created label, unless SOURCE_DATE_EPOCH is set. Zero
	// means the Unix epoch.
	Created time.Time
}

// BuildOptions configure Build.
type BuildOptions struct {
	// Dir is the project root; layer sources are relative to it.
	Dir string
	// App is the application name.
	App string
	// Image is image: from slipway.yaml.
	Image config.Image
	// Meta is the version and git information.
	Meta Meta
	// Output is where the OCI layout and build record go (default Dir/.slipway).
	Output string
	// Remote reaches the base image's registry (default: a registry.Set
	// without project registries: verified TLS, Docker credentials).
	Remote Remote
	// RefreshBase resolves a base tag again instead of reusing the digest
	// pinned by the previous build.
	RefreshBase bool
	// Progress receives progress events (default progress.Discard).
	Progress progress.Reporter
}

func (o BuildOptions) withDefaults() (BuildOptions, error) {
	o.Dir = cmp.Or(o.Dir, ".")
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("resolving project directory: %w", err)
	}
	o.Dir = dir
	o.Output = cmp.Or(o.Output, filepath.Join(o.Dir, OutputDir))
	if o.Output, err = filepath.Abs(o.Output); err != nil {
		return o, fmt.Errorf("resolving output directory: %w", err)
	}
	if o.Remote == nil {
		set, err := registry.NewSet(nil, registry.Options{})
		if err != nil {
			return o, err
		}
		o.Remote = set
	}
	o.Progress = progress.Or(o.Progress)
	return o, nil
}

// buildTime is the time stamped on everything: SOURCE_DATE_EPOCH when set,
// else created, else the Unix epoch.
func buildTime(created time.Time) (time.Time, error) {
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok && v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("reading SOURCE_DATE_EPOCH %q: want seconds since the Unix epoch: %w", v, err)
		}
		return time.Unix(s, 0).UTC(), nil
	}
	if created.IsZero() {
		return time.Unix(0, 0).UTC(), nil
	}
	return created.UTC().Truncate(time.Second), nil
}
