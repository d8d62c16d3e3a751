package promote

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/slipwayhq/slipway/internal/registry"
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
	// Digest is the sha256:... to promote. With Version too, the version
	// tag must point at it; without, nothing is tagged in the target.
	Digest string
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
// completes it. With a Signer, the digest is signed in the target and the
// promotion attested (see Options.Signer) after the record and before the
// tags. A target's cosign tag holding promotion attestations that the
// source's lacks is merged rather than replaced, so that they outlive the
// next promotion. A target version tag that points at another digest is
// refused with an error matching ErrTagConflict unless Force. When
// the target's tags already point at the digest, every referrer is there
// (and the record exists), Promote writes nothing and reports UpToDate,
// after a few HEAD and list requests.
func Promote(ctx context.Context, o Options) (Result, error) {
	start := time.Now()
	if err := o.check(); err != nil {
		return Result{}, err
	}
	rep := o.Progress
	if rep == nil {
		rep = func(Event) {}
	}
	o.FromName = cmp.Or(o.FromName, o.From.Name(), o.From.Host())
	o.ToName = cmp.Or(o.ToName, o.To.Name(), o.To.Host())
	src, err := o.From.Repo(o.App)
	if err != nil {
		return Result{}, err
	}
	dst, err := o.To.Repo(o.App)
	if err != nil {
		return Result{}, err
	}
	stats := &registry.Stats{}
	c, err := newCopier(ctx, o.From, o.To, stats, src, dst, cmp.Or(o.Jobs, DefaultJobs), rep)
	if err != nil {
		return Result{}, err
	}
	what := o.App + " " + cmp.Or(o.Version, o.Digest)
	rep(Event{Kind: EventStart, Msg: fmt.Sprintf("promoting %s from %s to %s", what, o.FromName, o.ToName)})

	top, err := c.resolve(ctx, o)
	if err != nil {
		return Result{}, err
	}
	digest := top.desc.Digest.String()
	res := Result{Source: src.Digest(digest).String(), Target: dst.Digest(digest).String(), Digest: digest}
	finish := func(err error) (Result, error) {
		res.BlobsCopied, res.BlobsSkipped, res.BlobsMounted, res.Bytes = stats.Uploaded(), stats.Skipped(), stats.Mounted(), stats.Bytes()
		res.Seconds = time.Since(start).Seconds()
		return res, err
	}
	tags, err := c.tags(ctx, o, top.desc.Digest)
	if err != nil {
		return res, err
	}
	for _, t := range tags {
		res.Tags = append(res.Tags, t.String())
	}

	// What does the target hold already? The first tag (or, without tags,
	// the manifest by digest) says whether the image is complete there.
	var complete bool
	var pending []name.Tag
	if len(tags) == 0 {
		has, err := c.headTarget(ctx, dst.Digest(digest))
		if err != nil {
			return res, err
		}
		complete = has == top.desc.Digest
	} else {
		complete, pending, err = c.pendingTags(ctx, tags, top.desc.Digest, o.Force)
		if err != nil {
			return res, err
		}
	}
	if !complete {
		if _, err = c.add(ctx, top, false); err != nil {
			return finish(err)
		}
		if err := c.flush(ctx); err != nil {
			return finish(err)
		}
		if err := c.verify(ctx, dst.Digest(digest), top.desc.Digest); err != nil {
			return finish(err)
		}
	}
	// Every time, whatever the target holds: artifacts attached at the
	// source since an earlier promotion follow on the next.
	if res.Referrers, err = c.copyReferrers(ctx, top); err != nil {
		return finish(err)
	}
	// The record says the promotion is complete, so it comes only now that
	// the image and every referrer are in the target.
	recorded := o.Record == nil
	var rec *Record
	if o.Record != nil {
		r := o.record(src, dst, digest)
		rec = &r
		descs, err := c.targetReferrers(ctx, top.desc.Digest)
		if err != nil {
			return finish(err)
		}
		d, err := c.findRecord(ctx, descs, r)
		if err != nil {
			return finish(err)
		}
		recorded, res.RecordDigest = d != "", d
		if !recorded {
			h, err := c.writeRecord(ctx, r, top.desc)
			if err != nil {
				return finish(err)
			}
			res.RecordDigest = h.String()
			rep(Event{Kind: EventInfo, Msg: fmt.Sprintf("recorded the promotion in %s@%s", dst, h)})
		} else if o.Signer != nil {
			// Attest the promotion as recorded then, not as now, so that
			// running it again finds the same statement.
			h, _ := v1.NewHash(d)
			found, err := readRecord(dst, h, c.records.RemoteOptions(ctx))
			if err != nil {
				return finish(named(c.records, registry.SideTarget, err))
			}
			rec = &found
		}
	}
	signed := o.Signer == nil
	if o.Signer != nil {
		if signed, err = c.signTarget(ctx, o, digest, rec, &res); err != nil {
			return finish(err)
		}
	}
	if complete && len(pending) == 0 && recorded && signed && res.Referrers == 0 {
		res.UpToDate = true
		rep(Event{Kind: EventInfo, Msg: "up to date: " + res.Target})
		return finish(nil)
	}
	for _, t := range pending {
		// Registries have no conditional tag write: another promotion or
		// push of the same version may have tagged it since pendingTags
		// looked. Look again just before writing the version tag and once
		// more after it settled, so that of two runs racing the loser says
		// so (see registry.CheckTagWon for the window this leaves).
		guard := !o.Force && t.String() == tags[0].String()
		if guard {
			if err := c.guardTag(ctx, t, top.desc.Digest); err != nil {
				return finish(err)
			}
		}
		began := time.Now()
		if err := c.pusher.Put(ctx, t, rawManifest{raw: top.raw, mt: top.desc.MediaType}); err != nil {
			return finish(fmt.Errorf("tagging %s: %w", t, c.dstErr(err)))
		}
		if guard {
			if err := registry.SettleTag(ctx, time.Since(began)); err != nil {
				return finish(fmt.Errorf("tagging %s: %w", t, err))
			}
			if err := c.guardTag(ctx, t, top.desc.Digest); err != nil {
				return finish(err)
			}
		}
	}
	if len(pending) > 0 {
		if err := c.verify(ctx, tags[0], top.desc.Digest); err != nil {
			return finish(err)
		}
	}
	rep(Event{Kind: EventInfo, Msg: fmt.Sprintf("promoted %s to %s", what, res.Target)})
	return finish(nil)
}

// check reports missing options and normalises Digest.
func (o *Options) check() error {
	switch {
	case o.From == nil || o.To == nil:
		return errors.New("promoting: source and target registries are required")
	case o.App == "":
		return errors.New("promoting: no app name given")
	case o.Version == "" && o.Digest == "":
		return errors.New("promoting: give a version or a digest to promote")
	}
	if o.Digest != "" {
		if _, err := v1.NewHash(o.Digest); err != nil {
			return fmt.Errorf("promoting: parsing digest %q: %w", o.Digest, err)
		}
	}
	return nil
}

// record is the promotion record to write, from o.Record.
func (o *Options) record(src, dst name.Repository, digest string) Record {
	r := *o.Record
	r.From, r.To = o.FromName, o.ToName
	r.Source, r.Target = src.Digest(digest).String(), dst.Digest(digest).String()
	r.Digest, r.Version = digest, o.Version
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
	var ref name.Reference = c.src.Digest(o.Digest)
	what := "digest " + o.Digest
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
			Hint: fmt.Sprintf("push it there first with `slipway push %s`", o.FromName),
		})
	}
	if o.Version != "" && o.Digest != "" && n.desc.Digest.String() != o.Digest {
		return node{}, fmt.Errorf("resolving %s: %s points at %s, not at %s: %w", what, ref, n.desc.Digest, o.Digest, ErrVersionMismatch)
	}
	return *n, nil
}

// tags are the target tags to set: the version tag, and the git tag when
// Commit is given and its tag in the source points at the digest.
func (c *copier) tags(ctx context.Context, o Options, digest v1.Hash) ([]name.Tag, error) {
	if o.Version == "" {
		return nil, nil
	}
	tags := []name.Tag{c.dst.Tag(registry.VersionTag(o.Version))}
	if g := registry.GitTag(o.Commit); g != "" {
		d, err := c.headSource(ctx, c.src.Tag(g))
		if err != nil {
			return nil, err
		}
		if d != nil && d.Digest == digest {
			tags = append(tags, c.dst.Tag(g))
		}
	}
	return tags, nil
}

// pendingTags checks the target's tags: complete is true when the first
// (version) tag points at digest already, pending lists the tags to set.
// A version tag pointing elsewhere is a *registry.TagConflictError unless
// force (see registry.CheckVersionTag).
func (c *copier) pendingTags(ctx context.Context, tags []name.Tag, digest v1.Hash, force bool) (complete bool, pending []name.Tag, err error) {
	for i, t := range tags {
		existing, err := c.headTarget(ctx, t)
		if err != nil {
			return false, nil, err
		}
		if existing == digest {
			complete = complete || i == 0
			continue
		}
		if i == 0 { // the version tag; the git tag follows it
			moved, err := registry.CheckVersionTag(t, existing, digest, force)
			if err != nil {
				return false, nil, err
			}
			if moved {
				c.rep(Event{Kind: EventWarn,
					Msg: fmt.Sprintf("moving %s from %s to %s (forced)", t, existing, digest)})
			}
		}
		pending = append(pending, t)
	}
	return complete, pending, nil
}

// guardTag returns a *registry.TagConflictError with Concurrent when the
// target's tag t points at another digest than want: another run tagged
// the same version at the same time, and this one lost (see
// registry.CheckTagWon).
func (c *copier) guardTag(ctx context.Context, t name.Tag, want v1.Hash) error {
	got, err := c.headTarget(ctx, t)
	if err != nil {
		return err
	}
	return registry.CheckTagWon(t, got, want)
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
