package image

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrSourceChanged is returned when a file changes size while it is copied.
var ErrSourceChanged = errors.New("file changed during the build")

// fileLayer is a gzipped tar layer stored in a file of the layout.
type fileLayer struct {
	path   string
	digest v1.Hash
	diffID v1.Hash
	size   int64
}

var _ v1.Layer = (*fileLayer)(nil)

func (l *fileLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)             { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                 { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error)  { return types.OCILayer, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) { return gunzipFile(l.path) }

func gunzipFile(p string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &readCloser{Reader: z, close: func() error { z.Close(); return f.Close() }}, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }

// writeLayer writes entries as a reproducible gzipped tar into blobs (the
// layout's blobs/sha256 directory) under its digest: entries in the given
// order, every time set to mtime, owner 0:0 without names, PAX format,
// gzip header without name or time. It returns the layer and what its
// regular files are (for the SBOM), read as they were written.
func writeLayer(ctx context.Context, blobs string, entries []entry, mtime time.Time) (*fileLayer, []ContentFile, error) {
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return nil, nil, fmt.Errorf("creating blob directory: %w", err)
	}
	f, err := os.CreateTemp(blobs, ".layer-*")
	if err != nil {
		return nil, nil, fmt.Errorf("creating layer file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed

	digest, counter := sha256.New(), &countWriter{}
	buf := bufio.NewWriterSize(io.MultiWriter(f, digest, counter), 1<<20)
	zw, err := gzip.NewWriterLevel(buf, gzip.BestSpeed)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	diffID := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, diffID))
	files, werr := writeTar(ctx, tw, entries, mtime)
	if werr == nil {
		werr = tw.Close()
	}
	if werr == nil {
		werr = zw.Close()
	}
	if werr == nil {
		werr = buf.Flush()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, nil, fmt.Errorf("writing layer: %w", werr)
	}
	l := &fileLayer{
		digest: sha256Hash(digest),
		diffID: sha256Hash(diffID),
		size:   counter.n,
	}
	l.path = filepath.Join(blobs, l.digest.Hex)
	if err := os.Rename(tmp, l.path); err != nil {
		return nil, nil, fmt.Errorf("writing layer: %w", err)
	}
	return l, files, nil
}

func sha256Hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// writeTar writes entries to tw and returns its regular files' contents.
func writeTar(ctx context.Context, tw *tar.Writer, entries []entry, mtime time.Time) ([]ContentFile, error) {
	mtime = mtime.UTC().Truncate(time.Second)
	var in inspector
	files := []ContentFile{}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h := &tar.Header{
			Name:    e.name,
			Mode:    tarMode(e.mode),
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		switch {
		case e.mode.IsDir():
			h.Typeflag, h.Name = tar.TypeDir, e.name+"/"
		case e.mode&fs.ModeSymlink != 0:
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("adding %s: %w", e.name, err)
		}
		if h.Typeflag == tar.TypeReg {
			cf, err := copyFile(tw, e, &in)
			if err != nil {
				return nil, err
			}
			files = append(files, cf)
		}
	}
	return files, nil
}

// copyFile copies the regular file of e to w and returns what it holds,
// as written. A file that shrank since it was listed is ErrSourceChanged.
func copyFile(w io.Writer, e entry, in *inspector) (ContentFile, error) {
	f, err := os.Open(e.src)
	if err != nil {
		return ContentFile{}, fmt.Errorf("adding %s: %w", e.name, err)
	}
	defer f.Close()
	cw := &countWriter{}
	cf, err := in.read("/"+e.name, e.size, io.LimitReader(f, e.size), io.MultiWriter(w, cw))
	if err != nil {
		return cf, fmt.Errorf("adding %s: %w", e.name, err)
	}
	if cw.n != e.size {
		return cf, fmt.Errorf("adding %s: %w: %s shrank from %d to %d bytes", e.name, ErrSourceChanged, e.src, e.size, cw.n)
	}
	return cf, nil
}

func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}
