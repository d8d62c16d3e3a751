package promote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"

	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/sign"
)

// PredicateType is the in-toto predicate type of a promotion attestation:
// a promotion record, signed, in cosign's sha256-HEX.att tag of the
// promoted digest in the target (`cosign verify-attestation --type
// https://github.com/slipwayhq/slipway/promotion/v1`).
const PredicateType = "https://github.com/slipwayhq/slipway/promotion/v1"

// Predicate is the predicate of a promotion attestation.
type Predicate struct {
	From Endpoint `json:"from"`
	To   Endpoint `json:"to"`
	// Digest is the promoted manifest's digest, the statement's subject.
	Digest string `json:"digest"`
	// Version is the promoted version; empty when promoted by digest.
	Version string `json:"version,omitempty"`
	// Commit is the revision the image was built from, when known.
	Commit string `json:"commit,omitempty"`
	// Who promoted, e.g. a user or CI job.
	Who string `json:"who,omitempty"`
	// PromotedAt is when the promotion was recorded.
	PromotedAt time.Time `json:"promotedAt"`
}

// Endpoint is one side of a promotion.
type Endpoint struct {
	// Registry is the registry's name in slipway.yaml, e.g. dev.
	Registry string `json:"registry"`
	// Environment is the environment named to promote from or to, when
	// the promotion named one rather than a registry.
	Environment string `json:"environment,omitempty"`
	// Image is REPO@sha256:... in that registry.
	Image string `json:"image"`
}

// Predicate is the attestation predicate of the promotion r records.
func (r Record) Predicate() Predicate {
	return Predicate{
		From:   Endpoint{Registry: r.From, Environment: r.FromEnvironment, Image: r.Source},
		To:     Endpoint{Registry: r.To, Environment: r.ToEnvironment, Image: r.Target},
		Digest: r.Digest, Version: r.Version, Commit: r.Commit, Who: r.Who,
		PromotedAt: r.When.UTC(),
	}
}

// ParsePredicate reads the predicate of a promotion attestation's in-toto
// statement: its predicateType and its predicate, as decoded from JSON or
// as in-toto's Go type holds it (a protobuf Struct).
func ParsePredicate(predicateType string, predicate any) (Predicate, error) {
	var p Predicate
	if predicateType != PredicateType {
		return p, fmt.Errorf("reading promotion attestation: predicate type %q, want %s", predicateType, PredicateType)
	}
	if s, ok := predicate.(interface{ AsMap() map[string]any }); ok {
		predicate = s.AsMap()
	}
	b, err := json.Marshal(predicate)
	if err != nil {
		return p, fmt.Errorf("reading promotion attestation: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("reading promotion attestation: %w", err)
	}
	return p, nil
}

// signTarget signs the promoted digest in the target with s unless a
// signature by the same key is there already (carried from the source,
// or made by an earlier promotion), and, with a record, attests it: the
// record as a signed in-toto statement in the target's sha256-HEX.att.
// The statement is made from the record found in the target when there is
// one, so running the promotion again finds the same statement and adds
// nothing.
func (c *copier) signTarget(ctx context.Context, o Options, digest v1.Hash, rec *Record, res *Result) (upToDate bool, err error) {
	ref := c.dst.Digest(digest.String())
	opts := c.records.RemoteOptions(ctx)
	sr, err := sign.Image(ctx, ref, o.Signer, opts)
	if err != nil {
		return false, named(c.records, registry.SideTarget, err)
	}
	res.Signature = sr.Tag
	upToDate = sr.UpToDate
	if !sr.UpToDate {
		c.rep(Event{Kind: EventInfo, Msg: "signed " + ref.String() + " as " + sr.Tag})
	}
	if rec == nil {
		return upToDate, nil
	}
	ar, err := sign.Attest(ctx, ref, o.Signer, PredicateType, rec.Predicate(), opts)
	if err != nil {
		return false, named(c.records, registry.SideTarget, err)
	}
	res.Attestation = ar.Tag
	if !ar.UpToDate {
		c.rep(Event{Kind: EventInfo, Msg: "attested the promotion as " + ar.Tag})
	}
	return upToDate && ar.UpToDate, nil
}

// maxKeptLayer bounds a promotion attestation layer read to keep it, and
// maxKeptLayers how many a merge keeps: a target's cosign manifest could
// list tens of thousands.
const (
	maxKeptLayer  = 1 << 20
	maxKeptLayers = 256
)

// mergeCosign handles a target's cosign tag t that points at another
// manifest than the source's src. covered is true when every layer of the
// source's is in the target's already: the target is ahead, and nothing is
// to be done. Otherwise, when the target's holds promotion attestations
// the source's lacks (made by an earlier promotion into this target),
// mergeCosign writes the source's with them appended to t and reports
// merged; without any, the caller replaces t with the source's.
func (c *copier) mergeCosign(ctx context.Context, t string, src v1.Hash) (covered, merged bool, err error) {
	tag := c.dst.Tag(t)
	got, err := c.dstPuller.Get(ctx, tag)
	if err != nil {
		return false, false, fmt.Errorf("reading %s: %w", tag, c.dstErr(err))
	}
	if !got.MediaType.IsImage() {
		return false, false, nil
	}
	have, err := v1.ParseManifest(bytes.NewReader(got.Manifest))
	if err != nil {
		return false, false, fmt.Errorf("reading %s: %w", tag, err)
	}
	sn, err := c.fetch(ctx, src)
	if err != nil {
		return false, false, err
	}
	if !sn.desc.MediaType.IsImage() {
		return false, false, nil
	}
	want, err := v1.ParseManifest(bytes.NewReader(sn.raw))
	if err != nil {
		return false, false, fmt.Errorf("reading %s: %w", c.src.Tag(t), err)
	}
	covered, keep := attestationsToKeep(have, want)
	if covered || len(keep) == 0 {
		return covered, false, nil
	}
	if len(keep) > maxKeptLayers {
		return false, false, fmt.Errorf("merging %s: %w", tag, c.dstErr(&registry.BoundError{
			What:  fmt.Sprintf("the target's %s lists %d promotion attestations the source's lacks", t, len(keep)),
			Bound: fmt.Sprintf("%d attestations kept", maxKeptLayers)}))
	}
	img, err := c.sourceImage(src, t)
	if err != nil {
		return false, false, err
	}
	for _, l := range keep {
		b, err := c.readTargetBlob(ctx, l)
		if err != nil {
			return false, false, err
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: static.NewLayer(b, l.MediaType), MediaType: l.MediaType, Annotations: l.Annotations})
		if err != nil {
			return false, false, fmt.Errorf("merging %s: %w", tag, err)
		}
	}
	if err := remote.Write(tag, img, c.dstOpts...); err != nil {
		return false, false, fmt.Errorf("writing %s: %w", tag, c.classify(err))
	}
	c.rep(Event{Kind: EventInfo,
		Msg: fmt.Sprintf("kept %d promotion attestation(s) of %s beside the source's", len(keep), tag)})
	return false, true, nil
}

// attestationsToKeep compares a target's cosign manifest have with the
// source's want: covered is true when every layer of want's is in have;
// keep are the promotion attestations in have that want lacks.
func attestationsToKeep(have, want *v1.Manifest) (covered bool, keep []v1.Descriptor) {
	inSource := map[v1.Hash]bool{}
	for _, l := range want.Layers {
		inSource[l.Digest] = true
	}
	inTarget := map[v1.Hash]bool{}
	for _, l := range have.Layers {
		if inTarget[l.Digest] {
			continue // listed again: kept once
		}
		inTarget[l.Digest] = true
		if !inSource[l.Digest] && l.Annotations[sign.PredicateTypeAnnotation] == PredicateType {
			keep = append(keep, l)
		}
	}
	covered = true
	for _, l := range want.Layers {
		covered = covered && inTarget[l.Digest]
	}
	return covered, keep
}

// sourceImage is the source's image src, under cosign tag t, whose
// config is read to append to it: one the source declares beyond the
// bound is refused before it is fetched.
func (c *copier) sourceImage(src v1.Hash, t string) (v1.Image, error) {
	img, err := remote.Image(c.src.Digest(src.String()), append(c.srcOpts, remote.Reuse(c.srcPuller))...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.src.Tag(t), c.srcErr(err))
	}
	m, err := img.Manifest()
	if err == nil {
		err = registry.CheckConfig(m)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.src.Tag(t), c.srcErr(err))
	}
	return img, nil
}

// readTargetBlob reads a small blob of the target repository.
func (c *copier) readTargetBlob(ctx context.Context, d v1.Descriptor) ([]byte, error) {
	if d.Size > maxKeptLayer {
		return nil, fmt.Errorf("reading %s: %d bytes, more than a promotion attestation", d.Digest, d.Size)
	}
	l, err := remote.Layer(c.dst.Digest(d.Digest.String()), append(c.dstOpts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d.Digest, c.dstErr(err))
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d.Digest, c.dstErr(err))
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxKeptLayer))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", d.Digest, c.dstErr(err))
	}
	if digestOf(b) != d.Digest {
		return nil, fmt.Errorf("reading %s: %w", d.Digest, ErrCorruptBlob)
	}
	return b, nil
}
