package image

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/registry"
)

// ErrNoVersion is returned when pushing a build without a version.
var ErrNoVersion = errors.New("the build has no version to tag")

// PushOptions configure Push.
type PushOptions struct {
	// Dir is the project root (default the working directory).
	Dir string
	// Output is the build output directory (default Dir/.slipway).
	Output string
	// App names the repository (default the app recorded by the build).
	App string
	// Registry is the registry pushed to.
	Registry *registry.Client
	// Force moves an existing version tag that points at another digest.
	Force bool
	// Progress receives Start, Update (bytes), Skip and Finish events.
	Progress progress.Reporter
	// Record is the build record, when the caller has read it already;
	// nil reads it from Output.
	Record *Record
	// BeforeTag, when set, runs once the image is in the registry by
	// digest and before any tag is written; its error stops the push
	// untagged (a signing key that would not decrypt, say).
	BeforeTag func() error
	// Settling, when set, is called once the version tag is written, while
	// the push waits to see that it stands (registry.SettleTag): other
	// uploads can use the registry then without slowing the push.
	Settling func()
	// Settled, when set, is called once the version tag is seen to stand,
	// before the remaining tags are written.
	Settled func()
}

// PushResult is what Push did.
type PushResult struct {
	// Reference is REPO@sha256:...
	Reference string `json:"reference"`
	// Digest is the pushed manifest's digest.
	Digest string `json:"digest"`
	// Tags are the full tag references, REPO:VERSION and REPO:git-SHORTSHA.
	Tags []string `json:"tags"`
	// BlobsUploaded, BlobsSkipped and BlobsMounted count blobs by what
	// happened to them; Bytes counts blob bytes sent.
	BlobsUploaded int   `json:"blobsUploaded"`
	BlobsSkipped  int   `json:"blobsSkipped"`
	BlobsMounted  int   `json:"blobsMounted"`
	Bytes         int64 `json:"bytes"`
	// UpToDate is true when every tag already pointed at the digest (and,
	// when signing, the signature was there too).
	UpToDate bool `json:"upToDate"`
	// Signature is the cosign signature's tag, REPO:sha256-HEX.sig, when
	// the push signed the image.
	Signature string `json:"signature,omitempty"`
	// Attestations is the tag of the attestations pushed with the image,
	// REPO:sha256-HEX.att, when signing.attest asks for some.
	Attestations string `json:"attestations,omitempty"`
}

// Push pushes the last build to Registry as REPO:VERSION and
// REPO:git-SHORTSHA, where REPO is the registry URL followed by the app:
// blobs the registry lacks (in parallel, mounting base layers from the same
// registry), then the manifest by digest, then the tags. An existing
// version tag pointing at another digest is refused unless Force; one
// pointing at this digest makes the push a no-op apart from the git tag.
func Push(ctx context.Context, o PushOptions) (PushResult, error) {
	if o.Registry == nil {
		return PushResult{}, errors.New("pushing: no registry given")
	}
	rep := progress.Or(o.Progress)
	j, err := preparePush(o)
	if err != nil {
		return PushResult{}, err
	}
	byDigest := j.repo.Digest(j.digest.String())
	res := PushResult{Reference: byDigest.String(), Digest: j.digest.String()}
	for _, t := range j.tags {
		res.Tags = append(res.Tags, t.String())
	}

	stats := &registry.Stats{}
	opts := o.Registry.WithStats(stats).RemoteOptions(ctx)
	rep.Report(progress.Event{Kind: progress.Start, Step: "push", Msg: fmt.Sprintf("pushing %s to %s", j.rec.Version, j.repo)})
	puller, err := remote.NewPuller(opts...)
	if err != nil {
		return PushResult{}, err
	}
	head := tagHead(opts, puller, o.Registry)
	pending, pushImage, err := j.pendingTags(head, o.Force, rep)
	if err != nil {
		return PushResult{}, err
	}
	if len(pending) == 0 {
		res.UpToDate = true
		rep.Report(progress.Event{Kind: progress.Info, Step: "push", Msg: "up to date: " + res.Reference})
		return res, nil
	}

	// Registries have no conditional tag write: another push of the same
	// version may have tagged it since the look above. Look again just
	// before writing the version tag, and once more after, so that of two
	// pushes racing the loser says so (see registry.CheckTagWon).
	var guard func() error
	if !o.Force {
		guard = func() error {
			got, err := head(j.tags[0])
			if err != nil {
				return err
			}
			return registry.CheckTagWon(j.tags[0], got, j.digest)
		}
	}
	err = reportingUpdates(rep, func(updates chan<- v1.Update) error {
		return pushAll(ctx, opts, updates, pushImage, byDigest, pending, j.tags[0], guard, o, j.artifact)
	})
	res.BlobsUploaded, res.BlobsSkipped, res.BlobsMounted, res.Bytes = stats.Uploaded(), stats.Skipped(), stats.Mounted(), stats.Bytes()
	if err != nil {
		return res, o.Registry.Classify(err, registry.SideTarget)
	}
	rep.Report(progress.Event{Kind: progress.Info, Step: "push", Msg: "pushed " + res.Reference})
	return res, nil
}

// pushJob is what Push reads from the last build before it goes to the
// registry.
type pushJob struct {
	rec      Record
	repo     name.Repository
	digest   v1.Hash
	tags     []name.Tag // the version tag first
	artifact remote.Taggable
}

func preparePush(o PushOptions) (pushJob, error) {
	if o.Output == "" {
		dir, err := filepath.Abs(cmp.Or(o.Dir, "."))
		if err != nil {
			return pushJob{}, fmt.Errorf("resolving project directory: %w", err)
		}
		o.Output = filepath.Join(dir, OutputDir)
	}
	if err := checkOutput(o.Output); err != nil {
		return pushJob{}, fmt.Errorf("pushing: %w", err)
	}
	var rec Record
	var err error
	if o.Record != nil {
		rec = *o.Record
	} else if rec, err = ReadRecord(o.Output); err != nil {
		return pushJob{}, err
	}
	if rec.Version == "" {
		return pushJob{}, fmt.Errorf("pushing %s: %w; build with a version", o.Output, ErrNoVersion)
	}
	app := cmp.Or(o.App, rec.App)
	if app == "" {
		return pushJob{}, errors.New("pushing: no app name given or recorded")
	}
	j := pushJob{rec: rec}
	if j.repo, err = o.Registry.Repo(app); err != nil {
		return pushJob{}, err
	}
	if j.digest, err = v1.NewHash(rec.Digest); err != nil {
		return pushJob{}, fmt.Errorf("reading build record: digest: %w", err)
	}
	if j.tags, err = pushTags(j.repo, rec, o.Registry.NameOptions()); err != nil {
		return pushJob{}, err
	}
	if j.artifact, err = openArtifact(filepath.Join(o.Output, LayoutDir), rec, o.Registry); err != nil {
		return pushJob{}, fmt.Errorf("reading build from %s: %w", o.Output, err)
	}
	return j, nil
}

// tagHead returns the digest a tag points at, the zero hash when the
// registry has no such tag.
func tagHead(opts []remote.Option, puller *remote.Puller, reg *registry.Client) func(name.Tag) (v1.Hash, error) {
	return func(t name.Tag) (v1.Hash, error) {
		d, err := remote.Head(t, append(opts, remote.Reuse(puller))...)
		if registry.IsNotFound(err) {
			return v1.Hash{}, nil
		}
		if err != nil {
			return v1.Hash{}, fmt.Errorf("checking %s: %w", t, reg.Classify(err, registry.SideTarget))
		}
		return d.Digest, nil
	}
}

// pendingTags are the tags that need setting (none when every tag points
// at the digest already), and whether the image itself needs pushing. A
// version tag at another digest is a conflict unless force.
func (j pushJob) pendingTags(head func(name.Tag) (v1.Hash, error), force bool, rep progress.Reporter) ([]name.Tag, bool, error) {
	existing, err := head(j.tags[0])
	if err != nil {
		return nil, false, err
	}
	if existing == j.digest {
		var pending []name.Tag
		for _, t := range j.tags[1:] {
			d, err := head(t)
			if err != nil {
				return nil, false, err
			}
			if d != j.digest {
				pending = append(pending, t)
			}
		}
		return pending, false, nil
	}
	moved, err := registry.CheckVersionTag(j.tags[0], existing, j.digest, force)
	if err != nil {
		return nil, false, err
	}
	if moved {
		rep.Report(progress.Event{Kind: progress.Warn, Step: "push",
			Msg: fmt.Sprintf("moving %s from %s to %s (forced)", j.tags[0], existing, j.digest)})
	}
	return j.tags, true, nil
}

// reportingUpdates runs push with a channel of ggcr's progress updates and
// reports them as byte counts until push returns.
func reportingUpdates(rep progress.Reporter, push func(chan<- v1.Update) error) error {
	updates := make(chan v1.Update, 64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for u := range updates {
			if u.Error == nil {
				rep.Report(progress.Event{Kind: progress.Update, Step: "push", Done: u.Complete, Total: u.Total, Unit: "B"})
			}
		}
	}()
	err := push(updates)
	close(updates)
	wg.Wait()
	return err
}

// pushAll pushes the artifact by digest, then sets the tags. guard, when
// not nil, runs just before and just after the version tag is written;
// hooks' BeforeTag, Settling and Settled run as PushOptions says.
func pushAll(ctx context.Context, opts []remote.Option, updates chan<- v1.Update, pushImage bool, byDigest name.Digest, tags []name.Tag,
	version name.Tag, guard func() error, hooks PushOptions, artifact remote.Taggable) error {
	pusher, err := remote.NewPusher(append(opts, remote.WithProgress(updates))...)
	if err != nil {
		return err
	}
	if pushImage {
		if err := pusher.Push(ctx, byDigest, artifact); err != nil {
			return fmt.Errorf("pushing %s: %w", byDigest, err)
		}
	}
	if hooks.BeforeTag != nil {
		if err := hooks.BeforeTag(); err != nil {
			return err
		}
	}
	for _, t := range tags {
		isVersion := guard != nil && t.String() == version.String()
		if isVersion {
			if err := guard(); err != nil {
				return err
			}
		}
		began := time.Now()
		if err := pusher.Put(ctx, t, artifact); err != nil {
			return fmt.Errorf("tagging %s: %w", t, err)
		}
		if isVersion {
			if hooks.Settling != nil {
				hooks.Settling()
			}
			if err := registry.SettleTag(ctx, time.Since(began)); err != nil {
				return fmt.Errorf("tagging %s: %w", t, err)
			}
			if err := guard(); err != nil {
				return err
			}
			if hooks.Settled != nil {
				hooks.Settled()
			}
		}
	}
	return nil
}

func pushTags(repo name.Repository, rec Record, opts []name.Option) ([]name.Tag, error) {
	names := []string{registry.VersionTag(rec.Version)}
	if g := registry.GitTag(rec.Revision); g != "" {
		names = append(names, g)
	}
	tags := make([]name.Tag, 0, len(names))
	for _, n := range names {
		t, err := name.NewTag(repo.String()+":"+n, opts...)
		if err != nil {
			return nil, fmt.Errorf("naming tag %q: %w", n, err)
		}
		tags = append(tags, t)
	}
	return tags, nil
}

// openArtifact opens the recorded image or index from the layout, with
// base layers mountable when the base lives in the target registry.
func openArtifact(lp string, rec Record, target *registry.Client) (remote.Taggable, error) {
	ii, err := layout.ImageIndexFromPath(lp)
	if err != nil {
		return nil, err
	}
	h, err := v1.NewHash(rec.Digest)
	if err != nil {
		return nil, err
	}
	mounts := map[v1.Hash]mount{}
	if rec.Base != nil {
		if ref, err := target.ParseReference(rec.Base.Name); err == nil && ref.Context().RegistryStr() == target.Host() {
			for _, p := range rec.Platforms {
				d, err1 := v1.NewHash(p.Digest)
				bd, err2 := v1.NewHash(p.BaseDigest)
				if err1 == nil && err2 == nil && p.BaseLayers > 0 {
					mounts[d] = mount{from: ref.Context().Digest(bd.String()), n: p.BaseLayers}
				}
			}
		}
	}
	if types.MediaType(rec.MediaType).IsIndex() {
		idx, err := ii.ImageIndex(h)
		if err != nil {
			return nil, err
		}
		return &mountIndex{index: idx, mounts: mounts}, nil
	}
	img, err := ii.Image(h)
	if err != nil {
		return nil, err
	}
	return wrapMount(img, h, mounts), nil
}

// mount says which of an image's first layers can be mounted from where.
type mount struct {
	from name.Reference
	n    int
}

func wrapMount(img v1.Image, h v1.Hash, mounts map[v1.Hash]mount) v1.Image {
	if m, ok := mounts[h]; ok {
		return &mountImage{Image: img, mount: m}
	}
	return img
}

// mountImage offers its first n layers for mounting from a base repository.
type mountImage struct {
	v1.Image
	mount
}

var _ v1.Image = (*mountImage)(nil)

func (m *mountImage) Layers() ([]v1.Layer, error) {
	ls, err := m.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		if i < m.n {
			l = &remote.MountableLayer{Layer: l, Reference: m.from}
		}
		out[i] = l
	}
	return out, nil
}

// index names the embedded index of mountIndex so that its ImageIndex
// method is promoted rather than shadowed by the field name.
type index = v1.ImageIndex

// mountIndex is an index whose images are mountImages where possible.
type mountIndex struct {
	index
	mounts map[v1.Hash]mount
}

var _ v1.ImageIndex = (*mountIndex)(nil)

func (m *mountIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := m.index.Image(h)
	if err != nil {
		return nil, err
	}
	return wrapMount(img, h, m.mounts), nil
}
