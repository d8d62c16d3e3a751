package promote

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/registry"
)

// Registry is a registry to promote from or to, with its own credentials.
// Slipway's registry clients implement it; so can any other.
type Registry interface {
	// Host is the registry's host, with its port if any.
	Host() string
	// Name names the registry in messages and records, e.g. dev; may be
	// empty.
	Name() string
	// Repo is the repository of app in the registry.
	Repo(app string) (name.Repository, error)
	// RemoteOptions are the options of the requests to the registry
	// under ctx: credentials, transport, retries.
	RemoteOptions(ctx context.Context) []remote.Option
}

// What Slipway's registry clients (internal/registry) add to Registry,
// used when a Registry has it.
type (
	// credentialed says where credentials were looked for, for errors
	// that say so.
	credentialed interface {
		Tried() string
		Anonymous() bool
	}
	// counting counts the blobs a promotion uploads, skips and mounts
	// (Result's Blobs* and Bytes), as seen on the wire.
	counting interface {
		WithStats(*registry.Stats) *registry.Client
	}
	// blobReading streams blobs without hashing them on the way: the
	// target hashes them as it receives them.
	blobReading interface {
		BlobReader(ctx context.Context, repo name.Repository) (*registry.BlobReader, error)
	}
	// blobWriting uploads a blob in three requests rather than
	// go-containerregistry's four.
	blobWriting interface {
		BlobWriter(ctx context.Context, repo name.Repository) (*registry.BlobWriter, error)
	}
	// warming asks the registry's version check ahead, remembered for
	// the requests that follow.
	warming interface {
		Warm(ctx context.Context)
	}
)

// warm has r answer its version check in the background, when it can.
func warm(ctx context.Context, r Registry) {
	if w, ok := r.(warming); ok {
		go w.Warm(ctx)
	}
}

// target describes r in side for messages and error classification.
func target(r Registry, side registry.Side) registry.Target {
	t := registry.Target{Side: side, Host: r.Host(), Name: r.Name()}
	if c, ok := r.(credentialed); ok {
		t.Tried, t.Anonymous = c.Tried(), c.Anonymous()
	}
	return t
}

// withStats returns r counting its requests in s, when it can.
func withStats(r Registry, s *registry.Stats) Registry {
	if c, ok := r.(counting); ok {
		return c.WithStats(s)
	}
	return r
}

// openWriter returns a writer of repo's blobs in r, or nil when r is not
// one of Slipway's clients (go-containerregistry's upload is used then).
func openWriter(ctx context.Context, r Registry, repo name.Repository) (*registry.BlobWriter, error) {
	if w, ok := r.(blobWriting); ok {
		return w.BlobWriter(ctx, repo)
	}
	return nil, nil
}

// blobOpener opens blobs of one repository.
type blobOpener interface {
	Open(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error)
}

// openBlobs returns an opener of repo's blobs in r: r's own blob reader
// when it has one, else go-containerregistry's layers, which check the
// digest as they read.
func openBlobs(ctx context.Context, r Registry, repo name.Repository) (blobOpener, error) {
	if b, ok := r.(blobReading); ok {
		return b.BlobReader(ctx, repo)
	}
	p, err := remote.NewPuller(r.RemoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("setting up the source registry: %w", err)
	}
	return layers{repo: repo, puller: p}, nil
}

// layers opens blobs as go-containerregistry layers.
type layers struct {
	repo   name.Repository
	puller *remote.Puller
}

func (l layers) Open(ctx context.Context, d v1.Descriptor) (io.ReadCloser, error) {
	layer, err := l.puller.Layer(ctx, l.repo.Digest(d.Digest.String()))
	if err != nil {
		return nil, err
	}
	return layer.Compressed()
}

// named classifies an error from registry r in side (see
// registry.Classify) and, when that did not name the registry, names it
// and the side.
func named(r Registry, side registry.Side, err error) error {
	t := target(r, side)
	err = registry.Classify(err, t)
	var ae *registry.AuthError
	var re *registry.Error
	if err == nil || errors.As(err, &ae) || errors.As(err, &re) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%s: %w", t, err)
}
