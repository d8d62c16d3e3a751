package image

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"runtime"
	"runtime/debug"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	kgzip "github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"
)

// LayerContents is what one layer the build added holds.
type LayerContents struct {
	Digest    string   // the layer blob's digest
	DiffID    string   // its uncompressed digest
	Platforms []string // the platforms whose image has it
	Files     []ContentFile
}

// ContentFile is a regular file of a layer.
type ContentFile struct {
	Path   string           `json:"path"` // in the image: /app/hello
	SHA256 string           `json:"sha256"`
	Go     *debug.BuildInfo `json:"go,omitempty"`   // a Go binary's build info
	Java   *JavaManifest    `json:"java,omitempty"` // a Java archive's manifest
}

// JavaManifest is what a Java archive's META-INF/MANIFEST.MF says of it.
type JavaManifest struct {
	Title   string `json:"title,omitempty"`
	Version string `json:"version,omitempty"`
	Vendor  string `json:"vendor,omitempty"`
}

// maxInspect bounds the size of a file read whole to look inside it (a Go
// binary's build info, a Java archive's manifest); a larger one is hashed
// only, streaming.
const maxInspect = 256 << 20

// Contents lists the regular files of the layers the build rec added to
// each platform's image (those after its BaseLayers), from the OCI layout
// in dir: each with its SHA-256, the build info of ELF files that are Go
// binaries and the manifest of .jar, .war and .ear files. A layer shared
// by platforms is listed once. The build records what it writes into each
// layer (LayerRecord.Contents), so this reads only manifests; a layer
// without that record (a Dockerfile build's, or one of an older build) is
// decompressed and scanned.
func Contents(dir string, rec Record) ([]LayerContents, error) {
	recorded := map[string][]ContentFile{}
	for _, l := range rec.Layers {
		if l.Contents != nil {
			recorded[l.Digest] = l.Contents
		}
	}
	return contents(dir, rec, recorded)
}

// ScanLayers is Contents read from the layers themselves, whatever the
// build recorded.
func ScanLayers(dir string, rec Record) ([]LayerContents, error) {
	return contents(dir, rec, nil)
}

func contents(dir string, rec Record, recorded map[string][]ContentFile) ([]LayerContents, error) {
	in, err := layoutIndex(dir, rec)
	if err != nil {
		return nil, err
	}
	platforms := rec.Platforms
	if len(platforms) == 0 {
		platforms = []PlatformRecord{{Digest: rec.Digest}}
	}
	out := []LayerContents{}
	todo := map[int]v1.Layer{}
	seen := map[string]int{}
	for _, p := range platforms {
		layers, diffIDs, err := addedLayers(in, p)
		if err != nil {
			return nil, err
		}
		for j, l := range layers {
			d, err := l.Digest()
			if err != nil {
				return nil, fmt.Errorf("scanning a layer of %s: %w", p.Platform, err)
			}
			if i, ok := seen[d.String()]; ok {
				out[i].Platforms = append(out[i].Platforms, p.Platform)
				continue
			}
			seen[d.String()] = len(out)
			files, ok := recorded[d.String()]
			if !ok {
				todo[len(out)] = l
			}
			out = append(out, LayerContents{Digest: d.String(), DiffID: diffIDs[j].String(), Platforms: []string{p.Platform}, Files: files})
		}
	}
	if err := scanAll(out, todo); err != nil {
		return nil, err
	}
	return out, nil
}

// layoutIndex is the index in the OCI layout in dir that holds the images
// of the build rec: a multi-platform build's images are in its index, not
// in the layout's own.
func layoutIndex(dir string, rec Record) (v1.ImageIndex, error) {
	root, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("scanning the build in %s: %w", dir, err)
	}
	if !types.MediaType(rec.MediaType).IsIndex() {
		return root, nil
	}
	h, err := v1.NewHash(rec.Digest)
	if err != nil {
		return nil, fmt.Errorf("scanning the build: %w", err)
	}
	in, err := root.ImageIndex(h)
	if err != nil {
		return nil, fmt.Errorf("scanning the build: %w", err)
	}
	return in, nil
}

// addedLayers are the layers the build added to the image of platform p
// in, with their diffIDs.
func addedLayers(in v1.ImageIndex, p PlatformRecord) ([]v1.Layer, []v1.Hash, error) {
	wrap := func(err error) error { return fmt.Errorf("scanning the image of %s: %w", p.Platform, err) }
	h, err := v1.NewHash(p.Digest)
	if err != nil {
		return nil, nil, wrap(err)
	}
	img, err := in.Image(h)
	if err != nil {
		return nil, nil, wrap(err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, wrap(err)
	}
	// The diffIDs from the config: a layout layer's DiffID method
	// inflates the layer to hash it.
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, nil, wrap(err)
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return nil, nil, wrap(fmt.Errorf("%d diffIDs for %d layers", len(cfg.RootFS.DiffIDs), len(layers)))
	}
	from := min(p.BaseLayers, len(layers))
	return layers[from:], cfg.RootFS.DiffIDs[from:], nil
}

// scanAll fills out[i].Files from todo[i]. Layers are decompressed and
// hashed in parallel: that is most of the time a scan takes.
func scanAll(out []LayerContents, todo map[int]v1.Layer) error {
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, l := range todo {
		g.Go(func() error {
			files, err := scanLayer(l)
			if err != nil {
				return fmt.Errorf("scanning layer %s: %w", out[i].Digest, err)
			}
			out[i].Files = files
			return nil
		})
	}
	return g.Wait()
}

// scanLayer reads one layer's regular files.
func scanLayer(l v1.Layer) ([]ContentFile, error) {
	rc, err := uncompressed(l)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var in inspector
	files := []ContentFile{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg || strings.HasPrefix(path.Base(hdr.Name), ".wh.") {
			continue
		}
		f, err := in.read(path.Join("/", hdr.Name), hdr.Size, tr, io.Discard)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
}

// inspector reads files into ContentFiles, reusing its buffers.
type inspector struct {
	br  *bufio.Reader
	buf bytes.Buffer
}

// read copies the size bytes of the file at name (its path in the image)
// from r to w, and returns its SHA-256 and, for a Go binary or a Java
// archive of at most maxInspect bytes, what it says it is.
func (in *inspector) read(name string, size int64, r io.Reader, w io.Writer) (ContentFile, error) {
	if in.br == nil {
		in.br = bufio.NewReaderSize(nil, 64<<10)
	}
	f := ContentFile{Path: name}
	in.br.Reset(r)
	head, _ := in.br.Peek(4)
	ext := strings.ToLower(path.Ext(name))
	isELF := bytes.Equal(head, []byte("\x7fELF"))
	isJar := ext == ".jar" || ext == ".war" || ext == ".ear"
	h := sha256.New()
	if size <= maxInspect && (isELF || isJar) {
		in.buf.Reset()
		if _, err := io.Copy(io.MultiWriter(w, h, &in.buf), in.br); err != nil {
			return f, err
		}
		r := bytes.NewReader(in.buf.Bytes())
		if isELF {
			if bi, err := buildinfo.Read(r); err == nil {
				f.Go = bi
			}
		} else {
			f.Java = javaManifest(r)
		}
	} else if _, err := io.Copy(io.MultiWriter(w, h), in.br); err != nil {
		return f, err
	}
	f.SHA256 = hex.EncodeToString(h.Sum(nil))
	return f, nil
}

// uncompressed opens l's tar stream. Gzip layers are inflated with
// klauspost/compress, about twice as fast as the standard library's:
// inflating is most of a scan's time.
func uncompressed(l v1.Layer) (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(rc, 64<<10)
	if magic, _ := br.Peek(2); !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		rc.Close()
		return l.Uncompressed()
	}
	zr, err := kgzip.NewReader(br)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, rc}, nil
}

// maxManifest bounds the META-INF/MANIFEST.MF read from an archive.
const maxManifest = 1 << 20

// javaManifest reads the main section of a Java archive's manifest, or
// returns nil when r is not a zip with one.
func javaManifest(r *bytes.Reader) *JavaManifest {
	z, err := zip.NewReader(r, r.Size())
	if err != nil {
		return nil
	}
	f, err := z.Open("META-INF/MANIFEST.MF")
	if err != nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifest))
	if err != nil {
		return nil
	}
	attrs := parseManifest(b)
	return &JavaManifest{
		Title:   cmp.Or(attrs["Implementation-Title"], attrs["Bundle-Name"], attrs["Specification-Title"]),
		Version: cmp.Or(attrs["Implementation-Version"], attrs["Bundle-Version"], attrs["Specification-Version"]),
		Vendor:  cmp.Or(attrs["Implementation-Vendor"], attrs["Bundle-Vendor"], attrs["Specification-Vendor"]),
	}
}

// parseManifest reads the main section of a JAR manifest: "Name: value"
// lines, a line starting with a space continuing the one before, up to the
// first empty line.
func parseManifest(b []byte) map[string]string {
	attrs := map[string]string{}
	last := ""
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		switch {
		case line == "":
			return attrs
		case strings.HasPrefix(line, " ") && last != "":
			attrs[last] += line[1:]
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.TrimSpace(k)
			attrs[last] = strings.TrimPrefix(v, " ")
		}
	}
	return attrs
}
