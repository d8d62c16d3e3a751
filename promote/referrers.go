package promote

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/progress"
)

// cosignSuffixes are the tag suffixes cosign attaches artifacts with.
var cosignSuffixes = []string{".sig", ".att", ".sbom"}

// cosignTags are the tags cosign attaches a signature, attestations and an
// SBOM to a digest with: sha256-HEX.sig, .att and .sbom.
func cosignTags(digest v1.Hash) []string {
	base := digest.Algorithm + "-" + digest.Hex
	tags := make([]string, len(cosignSuffixes))
	for i, s := range cosignSuffixes {
		tags[i] = base + s
	}
	return tags
}

// maxReferrerDepth bounds how deep referrers of referrers are followed: a
// signature of an SBOM of the image is depth 2.
const maxReferrerDepth = 4

// copyReferrers copies the artifacts attached to top: those the source
// lists as its referrers (through the OCI referrers API or the referrers
// tag), and cosign's sha256-HEX.sig, .att and .sbom tags with the tags
// themselves, and in turn the artifacts attached to those (a signature of
// an SBOM), up to maxReferrerDepth. For an index, the referrers of each
// platform's manifest are copied too, as far as they can be read. top must
// have its raw bytes. It returns how many artifacts it copied.
func (c *copier) copyReferrers(ctx context.Context, top node) (int, error) {
	n, err := c.referrersOf(ctx, top.desc.Digest, 1)
	if err != nil {
		return n, err
	}
	if top.desc.MediaType.IsIndex() {
		r, err := references(top.raw, top.desc.MediaType)
		if err != nil {
			return n, err
		}
		for _, m := range r.manifests {
			k, err := c.referrersOf(ctx, m.Digest, 1)
			n += k
			if err != nil {
				c.rep.Report(progress.Event{Kind: progress.Warn, Step: step,
					Msg: fmt.Sprintf("could not copy the referrers of %s: %v", c.src.Digest(m.Digest.String()), err)})
			}
		}
	}
	if n > 0 {
		c.rep.Report(progress.Event{Kind: progress.Info, Step: step, Msg: fmt.Sprintf("copied %d attached artifacts", n)})
	}
	return n, nil
}

// referrersOf copies the referrers and cosign tags of one manifest at the
// given depth, then theirs. Each subject is listed once.
func (c *copier) referrersOf(ctx context.Context, subject v1.Hash, depth int) (int, error) {
	if depth > maxReferrerDepth || c.listed[subject] {
		return 0, nil
	}
	c.listed[subject] = true
	ref := c.src.Digest(subject.String())
	idx, err := remote.Referrers(ref, append(c.srcOpts, remote.Reuse(c.srcPuller))...)
	if err != nil {
		return 0, fmt.Errorf("listing the referrers of %s: %w", ref, c.srcErr(err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return 0, fmt.Errorf("listing the referrers of %s: %w", ref, c.srcErr(err))
	}
	n := 0
	for _, d := range im.Manifests {
		// Put each again even when the target has it, so that a target
		// without the referrers API gets its referrers tag updated.
		if _, err := c.add(ctx, node{desc: v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest}}, true); err != nil {
			return n, err
		}
		n++
	}
	type tagged struct {
		tag  string
		node node
	}
	var tags []tagged
	for _, t := range cosignTags(subject) {
		d, err := c.headSource(ctx, c.src.Tag(t))
		if err != nil {
			return n, err
		}
		if d == nil {
			continue
		}
		nd, err := c.add(ctx, node{desc: v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest}}, false)
		if err != nil {
			return n, err
		}
		tags = append(tags, tagged{t, nd})
		n++
	}
	if err := c.flush(ctx); err != nil {
		return n, err
	}
	for _, t := range tags {
		tag := c.dst.Tag(t.tag)
		existing, err := c.headTarget(ctx, tag)
		if err != nil {
			return n, err
		}
		if existing == t.node.desc.Digest {
			continue
		}
		if existing != (v1.Hash{}) {
			c.rep.Report(progress.Event{Kind: progress.Warn, Step: step,
				Msg: fmt.Sprintf("replacing %s (%s) with the source's %s", tag, existing, t.node.desc.Digest)})
		}
		nd := t.node
		if nd.raw == nil {
			if nd, err = c.fetch(ctx, nd.desc.Digest); err != nil {
				return n, err
			}
		}
		if err := c.pusher.Put(ctx, tag, rawManifest{raw: nd.raw, mt: nd.desc.MediaType}); err != nil {
			return n, fmt.Errorf("tagging %s: %w", tag, c.dstErr(err))
		}
	}
	// Then what is attached to each of them.
	next := make([]v1.Hash, 0, n)
	for _, d := range im.Manifests {
		next = append(next, d.Digest)
	}
	for _, t := range tags {
		next = append(next, t.node.desc.Digest)
	}
	for _, d := range next {
		k, err := c.referrersOf(ctx, d, depth+1)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
