package promote

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/slipwayhq/slipway/internal/registry"
)

// ArtifactType is the artifact type of promotion records, and the media
// type of their config blob, which holds the Record as JSON.
const ArtifactType = "application/vnd.slipway.promotion.v1+json"

// Annotations of a promotion record's manifest, so that a list of
// referrers tells records apart without reading them. The manifest also
// carries the OCI annotation created.
const (
	AnnotationFrom    = "vnd.slipway.promotion.from"
	AnnotationTo      = "vnd.slipway.promotion.to"
	AnnotationVersion = "vnd.slipway.promotion.version"
)

// maxRecordSize bounds how much of a record blob is read.
const maxRecordSize = 64 << 10

// Record is a promotion record: a small OCI artifact in the target
// repository whose subject is the promoted manifest.
type Record struct {
	// From and To name the registries, e.g. dev and rc.
	From string `json:"from"`
	To   string `json:"to"`
	// FromEnvironment and ToEnvironment name the environments the
	// promotion was asked for by, when it named environments rather than
	// registries.
	FromEnvironment string `json:"fromEnvironment,omitempty"`
	ToEnvironment   string `json:"toEnvironment,omitempty"`
	// Source and Target are REPO@sha256:... in each registry.
	Source string `json:"source"`
	Target string `json:"target"`
	// Digest is the promoted manifest's digest.
	Digest string `json:"digest"`
	// Version is the promoted version; empty when promoted by digest.
	Version string `json:"version,omitempty"`
	// Commit is the revision the image was built from, when known.
	Commit string `json:"commit,omitempty"`
	// Who promoted, e.g. a user or CI job.
	Who string `json:"who,omitempty"`
	// When the promotion happened.
	When time.Time `json:"when"`
}

// same reports whether r records the same promotion as o: same registries,
// digest and version, whoever made it and whenever.
func (r Record) same(o Record) bool {
	return r.From == o.From && r.To == o.To && r.Digest == o.Digest && r.Version == o.Version
}

// sameContent reports whether r says all that o says of a promotion but
// who made it and when.
func (r Record) sameContent(o Record) bool {
	r.Who, r.When = o.Who, o.When
	return r == o
}

// annotations are the manifest annotations of a record.
func (r Record) annotations() map[string]string {
	a := map[string]string{
		AnnotationFrom:            r.From,
		AnnotationTo:              r.To,
		ocispec.AnnotationCreated: r.When.UTC().Format(time.RFC3339),
	}
	if r.Version != "" {
		a[AnnotationVersion] = r.Version
	}
	return a
}

// recordManifest returns the manifest of a record artifact for subject,
// with the record as its config blob and the empty JSON blob as its one
// layer, and both blobs.
func recordManifest(r Record, subject v1.Descriptor) (raw []byte, config, layer v1.Layer, err error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encoding promotion record: %w", err)
	}
	config = static.NewLayer(body, ArtifactType)
	layer = static.NewLayer([]byte("{}"), types.OCIEmptyJSON)
	desc := func(mt types.MediaType, b []byte) v1.Descriptor {
		return v1.Descriptor{MediaType: mt, Size: int64(len(b)), Digest: digestOf(b)}
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        desc(ArtifactType, body),
		Layers:        []v1.Descriptor{desc(types.OCIEmptyJSON, []byte("{}"))},
		Subject:       &subject,
		Annotations:   r.annotations(),
	}
	raw, err = json.Marshal(m)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encoding promotion record: %w", err)
	}
	return raw, config, layer, nil
}

// recordArtifact is a record's manifest and blobs, ready to write.
type recordArtifact struct {
	raw           []byte
	digest        v1.Hash
	config, layer v1.Layer
}

// newRecordArtifact makes the record artifact of r for subject.
func newRecordArtifact(r Record, subject v1.Descriptor) (*recordArtifact, error) {
	raw, config, layer, err := recordManifest(r, subject)
	if err != nil {
		return nil, err
	}
	return &recordArtifact{raw: raw, digest: digestOf(raw), config: config, layer: layer}, nil
}

// uploadRecord uploads the blobs of the record artifact a into the target.
// Blobs alone make nothing visible, so this may run while the image is
// still being copied; putRecord writes the manifest that counts.
//
// Slipway's blob writer sends each in three requests (HEAD, POST, PUT with
// the bytes), a round trip fewer than go-containerregistry's upload, which
// is used when the target is not one of Slipway's clients or refuses a
// blob sent whole.
func (c *copier) uploadRecord(ctx context.Context, a *recordArtifact) error {
	w, err := c.recordWriter()
	if err != nil {
		return fmt.Errorf("writing promotion record: %w", named(c.records, registry.SideTarget, err))
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, l := range []v1.Layer{a.config, a.layer} {
		g.Go(func() error {
			if err := c.uploadRecordBlob(gctx, w, l); err != nil {
				return fmt.Errorf("writing promotion record: %w", named(c.records, registry.SideTarget, err))
			}
			return nil
		})
	}
	return g.Wait()
}

// uploadRecordBlob uploads l with w, or go-containerregistry's upload when
// w is nil or the target refused l sent whole.
func (c *copier) uploadRecordBlob(ctx context.Context, w *registry.BlobWriter, l v1.Layer) error {
	if w != nil {
		d, err := partial.Descriptor(l)
		if err != nil {
			return err
		}
		_, err = w.Write(ctx, *d, l.Compressed)
		if !errors.Is(err, registry.ErrWholeBlobRefused) {
			return err
		}
	}
	return c.putter.Upload(ctx, c.dst, l)
}

// putRecord puts the manifest of the record artifact a, whose blobs
// uploadRecord wrote. Putting a manifest with a subject also maintains the
// sha256-HEX referrers tag on registries without the referrers API.
func (c *copier) putRecord(ctx context.Context, a *recordArtifact) error {
	ref := c.dst.Digest(a.digest.String())
	// Records of concurrent promotions share blobs (the empty config); a
	// registry committing the same blob twice at once can lose it for a
	// moment (docker-registry answers the manifest with BLOB_UNKNOWN), so
	// that case uploads again, a few times.
	for try := 1; ; try++ {
		err := c.putter.Put(ctx, ref, rawManifest{raw: a.raw, mt: types.OCIManifestSchema1})
		if err == nil {
			return nil
		}
		if try == 3 || !strings.Contains(err.Error(), "BLOB_UNKNOWN") {
			return fmt.Errorf("writing promotion record %s: %w", ref, named(c.records, registry.SideTarget, err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(try) * 100 * time.Millisecond):
		}
		if err := c.uploadRecord(ctx, a); err != nil {
			return err
		}
	}
}

// Records lists the promotion records of digest in the repository of app
// in registry c, oldest first. It reads them through the OCI
// referrers API, or the sha256-HEX referrers tag where the registry lacks
// it.
func Records(ctx context.Context, c Registry, app string, digest v1.Hash) ([]Record, error) {
	repo, err := c.Repo(app)
	if err != nil {
		return nil, err
	}
	opts := c.RemoteOptions(ctx)
	descs, err := recordDescriptors(repo, digest, opts)
	if err == nil {
		descs, err = recordsToRead(descs)
	}
	if err != nil {
		return nil, named(c, registry.SideNone, err)
	}
	recs := make([]Record, 0, len(descs))
	for _, d := range descs {
		r, err := readRecord(repo, d.Digest, opts)
		if err != nil {
			return nil, named(c, registry.SideNone, err)
		}
		recs = append(recs, r)
	}
	slices.SortStableFunc(recs, func(a, b Record) int {
		return cmp.Or(a.When.Compare(b.When), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return recs, nil
}

// recordDescriptors lists the promotion records that refer to h.
func recordDescriptors(repo name.Repository, h v1.Hash, opts []remote.Option) ([]v1.Descriptor, error) {
	ref := repo.Digest(h.String())
	idx, err := remote.Referrers(ref, append(opts, remote.WithFilter("artifactType", ArtifactType))...)
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", ref, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", ref, err)
	}
	var out []v1.Descriptor
	for _, d := range im.Manifests {
		if d.ArtifactType == ArtifactType {
			out = append(out, d)
		}
	}
	return out, nil
}

// readRecord reads the record artifact h of repo.
func readRecord(repo name.Repository, h v1.Hash, opts []remote.Option) (Record, error) {
	ref := repo.Digest(h.String())
	d, err := remote.Get(ref, opts...)
	if err != nil {
		return Record{}, fmt.Errorf("reading promotion record %s: %w", ref, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(d.Manifest))
	if err != nil {
		return Record{}, fmt.Errorf("reading promotion record %s: %w", ref, err)
	}
	if m.Config.MediaType != ArtifactType || m.Config.Size > maxRecordSize {
		return Record{}, fmt.Errorf("reading promotion record %s: unexpected config %s of %d bytes", ref, m.Config.MediaType, m.Config.Size)
	}
	l, err := remote.Layer(repo.Digest(m.Config.Digest.String()), opts...)
	if err != nil {
		return Record{}, fmt.Errorf("reading promotion record %s: %w", ref, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return Record{}, fmt.Errorf("reading promotion record %s: %w", ref, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxRecordSize))
	if err != nil {
		return Record{}, fmt.Errorf("reading promotion record %s: %w", ref, err)
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return Record{}, fmt.Errorf("reading promotion record %s: %w", ref, err)
	}
	return r, nil
}

// maxRecordReads bounds the records one listing reads: each is a
// manifest and a blob, and a referrers list of registry.MaxDocumentSize
// could name tens of thousands.
const maxRecordReads = 100

// recordsToRead are the record artifacts among descs, each once, at most
// maxRecordReads of them.
func recordsToRead(descs []v1.Descriptor) ([]v1.Descriptor, error) {
	var out []v1.Descriptor
	seen := map[v1.Hash]bool{}
	for _, d := range descs {
		if d.ArtifactType != ArtifactType || seen[d.Digest] {
			continue
		}
		seen[d.Digest] = true
		if len(out) == maxRecordReads {
			return nil, &registry.BoundError{What: fmt.Sprintf("the image has more than %d promotion records", maxRecordReads),
				Bound: fmt.Sprintf("%d promotion records read", maxRecordReads)}
		}
		out = append(out, d)
	}
	return out, nil
}

// findRecord returns the digest of a record of the same promotion as want
// among descs, the target's referrers of the digest, or "" when there is
// none. Annotations decide without reading records; records without them
// are read.
func (c *copier) findRecord(ctx context.Context, descs []v1.Descriptor, want Record) (string, error) {
	opts := c.records.RemoteOptions(ctx)
	descs, err := recordsToRead(descs)
	if err != nil {
		return "", fmt.Errorf("looking for a promotion record: %w", named(c.records, registry.SideTarget, err))
	}
	for _, d := range descs {
		if from, ok := d.Annotations[AnnotationFrom]; ok {
			got := Record{From: from, To: d.Annotations[AnnotationTo], Version: d.Annotations[AnnotationVersion], Digest: want.Digest}
			if got.same(want) {
				return d.Digest.String(), nil
			}
			continue
		}
		r, err := readRecord(c.dst, d.Digest, opts)
		if err != nil {
			return "", fmt.Errorf("looking for a promotion record: %w", named(c.records, registry.SideTarget, err))
		}
		if r.same(want) {
			return d.Digest.String(), nil
		}
	}
	return "", nil
}
