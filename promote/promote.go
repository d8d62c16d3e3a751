package promote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"golang.org/x/sync/errgroup"

	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/remedy"
)

var (
	// ErrVersionMismatch is returned when both a version and a digest are
	// given and the version's tag in the source points at another digest.
	ErrVersionMismatch = errors.New("the version tag does not point at the given digest")
	// ErrDigestMismatch is returned when the target ends up with another
	// digest than the source's, e.g. because it rewrote the manifest.
	ErrDigestMismatch = errors.New("the target registry holds another digest than the source")
	// ErrTagConflict is matched (errors.Is) when a target version tag
	// points at another digest, or another run tagged the version at the
	// same time and won.
	ErrTagConflict = registry.ErrTagConflict
)

// DefaultJobs is how many blobs Promote copies at once when Options.Jobs
// is 0.
const DefaultJobs = registry.DefaultJobs

// Options configure Promote.
type Options struct {
	// From and To are the source and target registries, each with its own
	// credentials.
	From, To Registry
	// FromName and ToName name the registries in messages and records,
	// e.g. dev and rc (default the clients' names, else their hosts).
	FromName, ToName string
	// App is the repository name under each registry's URL.
	App string
	// Version is the version to promote; its tag is resolved to a digest
	// in the source once, and the same tag is set in the target.
	Version string
	// Digest is the digest to promote, or the zero Hash. With Version
	// too, the version tag must point at it; without, nothing is tagged
	// in the target.
	Digest v1.Hash
	// Commit is the full revision the version was built from, optional.
	// When the source's git-SHORTSHA tag points at the digest, that tag is
	// promoted too. It also fills Record.Commit when that is empty.
	Commit string
	// Force moves a target version tag that points at another digest.
	Force bool
	// Jobs is how many blobs are copied at once (default DefaultJobs).
	Jobs int
	// Record, when not nil, is written to the target as a promotion record
	// referring to the digest. Promote fills in From, To, Source, Target,
	// Digest and Version; the caller supplies Who, When (default now) and
	// Commit.
	Record *Record
	// Signer, when not nil, signs the digest in the target (unless a
	// signature by its key is there already, carried from the source) and,
	// with a Record, attests the promotion: the record as a signed in-toto
	// statement of PredicateType in the target's sha256-HEX.att, beside
	// the attestations carried from the source.
	Signer signature.Signer
	// Progress, when not nil, receives what Promote does as it does it;
	// it may be called from another goroutine than Promote's, never from
	// two at once.
	Progress func(Event)
}

// Result is what Promote did.
type Result struct {
	// Source and Target are REPO@sha256:... in each registry.
	Source string `json:"source"`
	Target string `json:"target"`
	// Digest is the promoted manifest's digest, the same on both sides.
	Digest string `json:"digest"`
	// Tags are the full tag references set in the target.
	Tags []string `json:"tags"`
	// BlobsCopied, BlobsSkipped and BlobsMounted count blobs by what
	// happened to them: streamed from the source, already in the target,
	// or mounted from the source repository on the same host. Bytes counts
	// blob bytes sent. They are counted on the wire by target registries
	// that count requests (Slipway's own clients), else left 0.
	BlobsCopied  int   `json:"blobsCopied"`
	BlobsSkipped int   `json:"blobsSkipped"`
	BlobsMounted int   `json:"blobsMounted"`
	Bytes        int64 `json:"bytes"`
	// Referrers counts the artifacts attached to the image (signatures,
	// SBOMs, attestations) that were copied or brought up to date.
	Referrers int `json:"referrers"`
	// Seconds is how long the promotion took.
	Seconds float64 `json:"seconds"`
	// UpToDate is true when the target already held the promotion and
	// nothing was written.
	UpToDate bool `json:"upToDate"`
	// RecordDigest is the digest of the promotion record, written or found.
	RecordDigest string `json:"recordDigest,omitempty"`
	// Signature and Attestation are the target's cosign tags that hold
	// the digest's signature and the promotion attestation, with Signer.
	Signature   string `json:"signature,omitempty"`
	Attestation string `json:"attestation,omitempty"`
}

// Promote copies the image Version (or Digest) of App from one registry to
// another, byte for byte: the version tag is resolved in the source once,
// then the manifest (or the index with every platform's manifest), its
// blobs and the artifacts that refer to it are copied by digest; blobs the
// target has are skipped, blobs on the same host are mounted. Every
// referrer, every time: the artifacts attached to the image (signatures,
// SBOMs, attestations, through the OCI referrers API or cosign's tags) are
// brought up to date on every run, also when the target holds the image
// already, so that those attached at the source since an earlier promotion
// follow. The promotion record, when asked for, is written only once the
// image and every referrer are in the target, and the tags come last, so
// an interrupted promotion leaves no tag behind and running it again
// completes it. What is written by digest goes on at once: while the
// target's tags are looked at and the image's blobs copy, the source's
// referrers are found and their blobs copied, and the record is looked for
// in the target and its blobs uploaded. The manifests, which are what
// make each part visible, are put only once those blobs are in, in the
// order above. With a Signer, the digest is signed in the target and the
// promotion attested (see Options.Signer) after the record and before the
// tags. A target's cosign tag holding promotion attestations that the
// source's lacks is merged rather than replaced, so that they outlive the
// next promotion. A target version tag that points at another digest is
// refused with an error matching ErrTagConflict unless Force. When
// the target's tags already point at the digest, every referrer is there
// (and the record exists), Promote writes nothing and reports UpToDate,
// after a few HEAD and list requests.
func Promote(ctx context.Context, o Options) (Result, error) {
	p, err := begin(ctx, o)
	if err != nil {
		return Result{}, err
	}
	// The target is first needed once the source's manifest is read: its
	// version check goes meanwhile.
	warm(ctx, p.c.to)
	if p.top, err = p.c.resolve(ctx, p.o); err != nil {
		return Result{}, err
	}
	digest := p.top.desc.Digest
	p.res = Result{Source: p.src.Digest(digest.String()).String(), Target: p.dst.Digest(digest.String()).String(), Digest: digest.String()}
	complete, pending, err := p.transfer(ctx)
	if err != nil {
		return p.finish(err)
	}
	if err := p.putManifests(ctx, complete); err != nil {
		return p.finish(err)
	}
	// The record says the promotion is complete, so it comes only now that
	// the image and every referrer are in the target.
	recorded, rec, err := p.recordPromotion(ctx)
	if err != nil {
		return p.finish(err)
	}
	signed := o.Signer == nil
	if o.Signer != nil {
		if signed, err = p.c.signTarget(ctx, p.o, digest, rec, &p.res); err != nil {
			return p.finish(err)
		}
	}
	if complete && len(pending) == 0 && recorded && signed && p.res.Referrers == 0 {
		p.res.UpToDate = true
		p.rep(Event{Kind: EventInfo, Msg: "up to date: " + p.res.Target})
		return p.finish(nil)
	}
	if err := p.writeTags(ctx, pending); err != nil {
		return p.finish(err)
	}
	p.rep(Event{Kind: EventInfo, Msg: fmt.Sprintf("promoted %s to %s", p.what, p.res.Target)})
	return p.finish(nil)
}

// promotion is one run of Promote: its options, repositories, copier and
// what it has found and done so far.
type promotion struct {
	o        Options
	rep      func(Event)
	src, dst name.Repository
	stats    *registry.Stats
	c        *copier
	what     string
	started  time.Time

	top  node
	tags []name.Tag
	res  Result

	// What transfer planned and prepared: the image's manifests to put,
	// the referrers to bring up to date, and the record found in the
	// target (its digest, and with a Signer its content), or the new
	// record's artifact whose blobs are in.
	image    plan
	refs     *referrerPlan
	found    string
	rec      *Record
	artifact *recordArtifact
}

// begin checks the options and sets up a promotion's repositories and
// copier.
func begin(ctx context.Context, o Options) (*promotion, error) {
	p := &promotion{o: o, rep: func(Event) {}, stats: &registry.Stats{}, started: time.Now()}
	if err := p.o.check(); err != nil {
		return nil, err
	}
	if o.Progress != nil {
		// Parts of a promotion run at once; Progress hears them one at a
		// time.
		var mu sync.Mutex
		p.rep = func(e Event) {
			mu.Lock()
			defer mu.Unlock()
			o.Progress(e)
		}
	}
	p.o.FromName = cmp.Or(p.o.FromName, p.o.From.Name(), p.o.From.Host())
	p.o.ToName = cmp.Or(p.o.ToName, p.o.To.Name(), p.o.To.Host())
	var err error
	if p.src, err = p.o.From.Repo(p.o.App); err != nil {
		return nil, err
	}
	if p.dst, err = p.o.To.Repo(p.o.App); err != nil {
		return nil, err
	}
	if p.c, err = newCopier(ctx, p.o.From, p.o.To, p.stats, p.src, p.dst, cmp.Or(p.o.Jobs, DefaultJobs), p.rep); err != nil {
		return nil, err
	}
	p.what = p.o.App + " " + cmp.Or(p.o.Version, p.o.Digest.String())
	p.rep(Event{Kind: EventStart, Msg: fmt.Sprintf("promoting %s from %s to %s", p.what, p.o.FromName, p.o.ToName)})
	return p, nil
}

// finish fills in the counts and the time, and returns the result with err.
func (p *promotion) finish(err error) (Result, error) {
	p.c.endMeter()
	p.res.BlobsCopied, p.res.BlobsSkipped, p.res.BlobsMounted, p.res.Bytes = p.stats.Uploaded(), p.stats.Skipped(), p.stats.Mounted(), p.stats.Bytes()
	p.res.Seconds = time.Since(p.started).Seconds()
	return p.res, err
}

// targetHolds says what the target holds already: whether the image is
// complete there (by the first tag, whose digest there is existing[0], or
// without tags by top, the look at the manifest's digest), and which tags
// are still to write.
func (p *promotion) targetHolds(existing []v1.Hash, top look) (complete bool, pending []name.Tag, err error) {
	if len(p.tags) == 0 {
		return top.exists, nil, nil
	}
	return p.c.pendingTags(p.tags, existing, p.top.desc.Digest, p.o.Force)
}

// transfer finds what the target holds and copies by digest what the
// promotion needs, all at once. The tags are looked at, and the image
// planned, while the source's referrers are found and the record is
// looked for in the target; once nothing stands in the way (a version tag
// of another image does), the image's blobs are copied (unless complete),
// the referrers' blobs beside them, and the new record's uploaded. Nothing
// is put by manifest, so nothing of it is visible yet: the manifests
// follow once every blob is in, the image's first, then the referrers'
// (putManifests), then the record's (recordPromotion).
func (p *promotion) transfer(ctx context.Context) (complete bool, pending []name.Tag, err error) {
	ready := make(chan struct{}) // closed once the target is known free and the image planned
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		if complete, pending, err = p.targetTags(gctx); err != nil {
			return err
		}
		if !complete {
			if _, err := p.c.add(gctx, &p.image, p.top, false); err != nil {
				return err
			}
		}
		close(ready)
		return p.c.copyBlobs(gctx, p.image.blobList())
	})
	g.Go(func() error {
		refs, err := p.c.planReferrers(gctx, p.top, ready)
		if err != nil {
			return err
		}
		p.refs = refs
		return p.c.copyBlobs(gctx, refs.blobList())
	})
	g.Go(func() error { return p.prepareRecord(gctx, ready) })
	err = g.Wait()
	p.c.endMeter()
	return complete, pending, err
}

// targetTags finds the target tags to set and what the target holds (see
// targetHolds). The target's look at the image's manifest, which add takes
// unless a tag shows the image complete, goes at the same time as the
// tags': one round trip before the first blob instead of two.
func (p *promotion) targetTags(ctx context.Context) (complete bool, pending []name.Tag, err error) {
	var existing []v1.Hash
	var top look
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		p.tags, existing, err = p.c.tags(gctx, p.o, p.top.desc.Digest)
		return err
	})
	g.Go(func() (err error) {
		top.exists, top.n, err = p.c.lookUpNow(gctx, p.top, false)
		return err
	})
	if err := g.Wait(); err != nil {
		return false, nil, err
	}
	if p.c.looks == nil {
		p.c.looks = map[v1.Hash]look{}
	}
	p.c.looks[p.top.desc.Digest] = top
	for _, t := range p.tags {
		p.res.Tags = append(p.res.Tags, t.String())
	}
	return p.targetHolds(existing, top)
}

// waitFor waits until ready is closed or ctx ends.
func waitFor(ctx context.Context, ready <-chan struct{}) error {
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// putManifests puts the image's manifests (unless complete), whose blobs
// transfer copied, then its referrers', while it checks the image arrived
// whole. Every time, whatever the target holds: artifacts attached at the
// source since an earlier promotion follow on the next.
func (p *promotion) putManifests(ctx context.Context, complete bool) error {
	g, gctx := errgroup.WithContext(ctx)
	if !complete {
		if err := p.c.putManifests(ctx, &p.image); err != nil {
			return err
		}
		g.Go(func() error { return p.c.verify(gctx, p.dst.Digest(p.res.Digest), p.top.desc.Digest) })
	}
	g.Go(func() (err error) {
		p.res.Referrers, err = p.c.putReferrers(gctx, p.refs)
		return err
	})
	return g.Wait()
}

// prepareRecord looks for a record of this promotion among the target's
// referrers of the image, when Options.Record asks for one, and with a
// Signer reads it to attest, when it says what this run knows; when there
// is none (or only one that says otherwise), it makes the new record and,
// once ready is closed, uploads its blobs, for recordPromotion to put once
// the image and every referrer are in.
func (p *promotion) prepareRecord(ctx context.Context, ready <-chan struct{}) error {
	if p.o.Record == nil {
		return nil
	}
	r := p.o.record(p.src, p.dst, p.top.desc.Digest)
	descs, err := p.c.targetReferrers(ctx, p.top.desc.Digest)
	if err != nil {
		return err
	}
	if p.found, err = p.c.findRecord(ctx, descs, r); err != nil {
		return err
	}
	p.rec = &r
	if p.found != "" && p.o.Signer != nil {
		// Attest the promotion as recorded then (who and when), so that
		// running it again finds the same statement. The record found is
		// the target's word, which anyone who may push there can plant:
		// the team's key signs it only when it says what this run knows
		// (registries, environments, images, digest, version, commit);
		// else this run records and attests its own.
		h, _ := v1.NewHash(p.found)
		found, err := readRecord(p.dst, h, p.c.records.RemoteOptions(ctx))
		if err != nil {
			return named(p.c.records, registry.SideTarget, err)
		}
		if found.sameContent(r) {
			p.rec = &found
			return nil
		}
		p.found = ""
	}
	if p.found != "" {
		return nil
	}
	if p.artifact, err = newRecordArtifact(r, p.top.desc); err != nil {
		return err
	}
	if err := waitFor(ctx, ready); err != nil {
		return err
	}
	return p.c.uploadRecord(ctx, p.artifact)
}

// recordPromotion writes the promotion record that prepareRecord made,
// when Options.Record asks for one and the target has none for it yet; it
// returns whether one was there already, and the record to attest (as
// first recorded).
func (p *promotion) recordPromotion(ctx context.Context) (recorded bool, rec *Record, err error) {
	if p.o.Record == nil {
		return true, nil, nil
	}
	if p.artifact == nil {
		p.res.RecordDigest = p.found
		return true, p.rec, nil
	}
	if err := p.c.putRecord(ctx, p.artifact); err != nil {
		return false, nil, err
	}
	p.res.RecordDigest = p.artifact.digest.String()
	p.rep(Event{Kind: EventInfo, Msg: fmt.Sprintf("recorded the promotion in %s@%s", p.dst, p.artifact.digest)})
	return false, p.rec, nil
}

// writeTags writes the pending tags and checks that the first tag (the
// version's) names the promoted image. The version tag is written last,
// so that a promotion that fails on another tag leaves it unwritten; it
// is guarded unless forced: looked at (while the other tags are written)
// just before it is written and once more after it settled, so that of
// two runs racing the loser says so (see registry.CheckTagWon for the
// window this leaves).
func (p *promotion) writeTags(ctx context.Context, pending []name.Tag) error {
	digest := p.top.desc.Digest
	var version *name.Tag
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range pending {
		if t.String() == p.tags[0].String() {
			version = &t
			continue
		}
		g.Go(func() error { return p.putTag(gctx, t) })
	}
	guard := version != nil && !p.o.Force
	began := time.Now()
	if guard {
		// Registries have no conditional tag write: another promotion or
		// push of the same version may have tagged it since pendingTags
		// looked.
		g.Go(func() error { _, err := p.c.guardTag(gctx, *version, digest); return err })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if version != nil {
		if err := p.putTag(ctx, *version); err != nil {
			return err
		}
	}
	if !guard {
		if len(pending) == 0 {
			return nil
		}
		return p.c.verify(ctx, p.tags[0], digest)
	}
	// Another run's look-to-write gap is about this run's own.
	if err := registry.SettleTag(ctx, time.Since(began)); err != nil {
		return fmt.Errorf("tagging %s: %w", version, err)
	}
	got, err := p.c.guardTag(ctx, *version, digest)
	if err != nil || got == digest {
		return err // looked at after it settled: no need to look again
	}
	return p.c.verify(ctx, p.tags[0], digest)
}

// putTag points t at the promoted image.
func (p *promotion) putTag(ctx context.Context, t name.Tag) error {
	if err := p.c.putter.Put(ctx, t, rawManifest{raw: p.top.raw, mt: p.top.desc.MediaType}); err != nil {
		return fmt.Errorf("tagging %s: %w", t, p.c.dstErr(err))
	}
	return nil
}

// check reports missing options and normalises Digest.
func (o *Options) check() error {
	switch {
	case o.From == nil || o.To == nil:
		return errors.New("promoting: source and target registries are required")
	case o.App == "":
		return errors.New("promoting: no app name given")
	case o.Version == "" && o.Digest == (v1.Hash{}):
		return errors.New("promoting: give a version or a digest to promote")
	}
	if o.Digest != (v1.Hash{}) {
		// A Hash built by hand may hold anything; one that parses is
		// one the registries take.
		if _, err := v1.NewHash(o.Digest.String()); err != nil {
			return fmt.Errorf("promoting: parsing digest %q: %w", o.Digest, err)
		}
	}
	return nil
}

// record is the promotion record to write, from o.Record.
func (o *Options) record(src, dst name.Repository, digest v1.Hash) Record {
	r := *o.Record
	r.From, r.To = o.FromName, o.ToName
	r.Source, r.Target = src.Digest(digest.String()).String(), dst.Digest(digest.String()).String()
	r.Digest, r.Version = digest.String(), o.Version
	r.Commit = cmp.Or(r.Commit, o.Commit)
	if r.When.IsZero() {
		r.When = time.Now().UTC().Truncate(time.Second)
	}
	return r
}

// resolve reads the manifest to promote: the version's tag resolved once
// in the source (and checked against Digest when given), or Digest. The
// bytes read are the ones copied, so the tag cannot move in between.
func (c *copier) resolve(ctx context.Context, o Options) (node, error) {
	var ref name.Reference = c.src.Digest(o.Digest.String())
	what := "digest " + o.Digest.String()
	if o.Version != "" {
		ref = c.src.Tag(registry.VersionTag(o.Version))
		what = "version " + o.Version
	}
	n, err := c.getSource(ctx, ref)
	if err != nil {
		return node{}, err
	}
	if n == nil {
		return node{}, fmt.Errorf("resolving %s of %s: %w", what, o.App, &registry.Error{
			Target: target(c.from, registry.SideSource), Kind: registry.ErrNotFound,
			Err:  fmt.Errorf("%s does not exist", ref),
			Next: remedy.Remedy{Kind: remedy.PushThere, Registry: o.FromName},
		})
	}
	if o.Version != "" && o.Digest != (v1.Hash{}) && n.desc.Digest != o.Digest {
		return node{}, fmt.Errorf("resolving %s: %s points at %s, not at %s: %w", what, ref, n.desc.Digest, o.Digest, ErrVersionMismatch)
	}
	return *n, nil
}

// tags are the target tags to set: the version tag, and the git tag when
// Commit is given and its tag in the source points at the digest; with
// what each points at in the target (the zero hash when free). The source's
// git tag and the target's tags are looked at all at once: one after the
// other they cost a round trip each before the copy can start.
func (c *copier) tags(ctx context.Context, o Options, digest v1.Hash) ([]name.Tag, []v1.Hash, error) {
	if o.Version == "" {
		return nil, nil, nil
	}
	tags := []name.Tag{c.dst.Tag(registry.VersionTag(o.Version))}
	g := registry.GitTag(o.Commit)
	if g != "" {
		tags = append(tags, c.dst.Tag(g))
	}
	existing := make([]v1.Hash, len(tags))
	var src *v1.Descriptor
	eg, ectx := errgroup.WithContext(ctx)
	if g != "" {
		eg.Go(func() (err error) {
			src, err = c.headSource(ectx, c.src.Tag(g))
			return err
		})
	}
	for i, t := range tags {
		eg.Go(func() (err error) {
			existing[i], err = c.headTarget(ectx, t)
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, nil, err
	}
	if g != "" && (src == nil || src.Digest != digest) {
		tags, existing = tags[:1], existing[:1]
	}
	return tags, existing, nil
}

// pendingTags checks the target's tags, found pointing at existing:
// complete is true when the first (version) tag points at digest already,
// pending lists the tags to set. A version tag pointing elsewhere is a
// *registry.TagConflictError unless force (see registry.CheckVersionTag).
func (c *copier) pendingTags(tags []name.Tag, existing []v1.Hash, digest v1.Hash, force bool) (complete bool, pending []name.Tag, err error) {
	for i, t := range tags {
		if existing[i] == digest {
			complete = complete || i == 0
			continue
		}
		if i == 0 { // the version tag; the git tag follows it
			moved, err := registry.CheckVersionTag(t, existing[i], digest, force)
			if err != nil {
				return false, nil, err
			}
			if moved {
				c.rep(Event{Kind: EventWarn,
					Msg: fmt.Sprintf("moving %s from %s to %s (forced)", t, existing[i], digest)})
			}
		}
		pending = append(pending, t)
	}
	return complete, pending, nil
}

// guardTag returns what the target's tag t points at, and a
// *registry.TagConflictError with Concurrent when that is another digest
// than want: another run tagged the same version at the same time, and
// this one lost (see registry.CheckTagWon).
func (c *copier) guardTag(ctx context.Context, t name.Tag, want v1.Hash) (v1.Hash, error) {
	got, err := c.headTarget(ctx, t)
	if err != nil {
		return got, err
	}
	return got, registry.CheckTagWon(t, got, want)
}

// verify checks that ref in the target points at want.
func (c *copier) verify(ctx context.Context, ref name.Reference, want v1.Hash) error {
	got, err := c.headTarget(ctx, ref)
	if err != nil {
		return err
	}
	if got != want {
		found := "nothing"
		if got != (v1.Hash{}) {
			found = got.String()
		}
		return fmt.Errorf("verifying %s: %w: %s, not %s", ref, ErrDigestMismatch, found, want)
	}
	return nil
}
