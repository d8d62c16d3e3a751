package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/testutil"
)

func TestBlobReader(t *testing.T) {
	noDockerConfig(t)
	s := testutil.Registry(t, testutil.BasicAuth("ci", "s3cret"))
	c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s) + "/team", Insecure: true}, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLIPWAY_REGISTRY_DEV_USERNAME", "ci")
	t.Setenv("SLIPWAY_REGISTRY_DEV_PASSWORD", "s3cret")
	ctx := context.Background()
	repo, _ := c.Repo("hello")
	img, _ := random.Image(4096, 1)
	if err := remote.Write(repo.Tag("1"), img, c.RemoteOptions(ctx)...); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	l := layers[0]
	d, _ := l.Digest()
	size, _ := l.Size()
	rc, _ := l.Compressed()
	want, _ := io.ReadAll(rc)

	br, err := c.BlobReader(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	body, err := br.Open(ctx, v1.Descriptor{Digest: d, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(body)
	body.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, %v; want the blob's %d", len(got), err, len(want))
	}

	if _, err := br.Open(ctx, v1.Descriptor{Digest: d, Size: size + 1}); !errors.Is(err, ErrBlobSize) {
		t.Errorf("wrong size: err = %v, want ErrBlobSize", err)
	}
	missing := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	_, err = br.Open(ctx, v1.Descriptor{Digest: missing, Size: 1})
	if !errors.Is(c.Classify(err, SideSource), ErrNotFound) {
		t.Errorf("missing blob: err = %v, want one classified as ErrNotFound", err)
	}
}

func TestBlobReaderNeedsCredentials(t *testing.T) {
	noDockerConfig(t)
	s := testutil.Registry(t, testutil.BasicAuth("ci", "s3cret"))
	c, err := New(Options{Name: "dev", Registry: config.Registry{URL: testutil.Host(s), Insecure: true}, Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := c.Repo("hello")
	br, err := c.BlobReader(context.Background(), repo)
	if err == nil {
		_, err = br.Open(context.Background(), v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}, Size: 1})
	}
	if !errors.Is(c.Classify(err, SideSource), ErrAuth) {
		t.Errorf("err = %v, want one classified as ErrAuth", err)
	}
}

func TestSizedReader(t *testing.T) {
	for _, tt := range []struct {
		name    string
		body    string
		size    int64
		wantErr bool
	}{
		{"exact", "hello", 5, false},
		{"short", "hell", 5, true},
		{"long", "hello!", 5, true},
		{"empty", "", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &sizedReader{rc: io.NopCloser(strings.NewReader(tt.body)), left: tt.size}
			_, err := io.Copy(io.Discard, r)
			if got := errors.Is(err, ErrBlobSize); got != tt.wantErr {
				t.Errorf("err = %v, want ErrBlobSize: %v", err, tt.wantErr)
			}
		})
	}
}
