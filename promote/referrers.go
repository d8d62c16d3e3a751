package promote

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/registry"
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

// isCosignTag reports whether tag is one of cosignTags of some digest.
func isCosignTag(tag string) bool {
	for _, s := range cosignSuffixes {
		if strings.HasPrefix(tag, "sha256-") && strings.HasSuffix(tag, s) {
			return true
		}
	}
	return false
}

// maxReferrerDepth bounds how deep referrers of referrers are followed: a
// signature of an SBOM of the image is depth 2.
const maxReferrerDepth = 4

// copyReferrers brings the target's artifacts attached to top up to date
// with the source's: those the source lists as its referrers (through the
// OCI referrers API or the referrers tag) and cosign's sha256-HEX.sig,
// .att and .sbom tags, with the tags themselves, and in turn the artifacts
// attached to those (a signature of an SBOM), up to maxReferrerDepth. For
// an index, the referrers of each platform's manifest too. It runs on every
// promotion, also when the target holds the image already, and copies only
// what the target lacks: when everything is there it costs one list of the
// source's tags, a list of referrers per manifest, and a HEAD per cosign
// tag on each side. It returns how many artifacts it copied or re-tagged.
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
				return n, err
			}
		}
	}
	if n > 0 {
		c.rep(Event{Kind: EventInfo, Msg: fmt.Sprintf("copied %d attached artifacts", n)})
	}
	return n, nil
}

// referrersOf copies the referrers and cosign tags of one manifest that the
// target lacks, at the given depth, then does the same for each of them,
// whether copied now or before. Each subject is listed once.
func (c *copier) referrersOf(ctx context.Context, subject v1.Hash, depth int) (int, error) {
	if depth > maxReferrerDepth || c.listed[subject] {
		return 0, nil
	}
	c.listed[subject] = true
	listed, n, err := c.copyListed(ctx, subject)
	if err != nil {
		return n, err
	}
	tagged, k, err := c.copyCosignTags(ctx, subject)
	n += k
	if err != nil {
		return n, err
	}
	// Then what is attached to each of them.
	for _, d := range append(tagged, listed...) {
		k, err := c.referrersOf(ctx, d, depth+1)
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// copyListed copies the referrers the source's referrers API lists for
// subject that the target lacks; it returns the digests listed and how
// many it copied.
func (c *copier) copyListed(ctx context.Context, subject v1.Hash) ([]v1.Hash, int, error) {
	ref := c.src.Digest(subject.String())
	idx, err := remote.Referrers(ref, append(c.srcOpts, remote.Reuse(c.srcPuller))...)
	if err != nil {
		return nil, 0, fmt.Errorf("listing the referrers of %s: %w", ref, c.srcErr(err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, 0, fmt.Errorf("listing the referrers of %s: %w", ref, c.srcErr(err))
	}
	if len(im.Manifests) == 0 {
		return nil, 0, nil
	}
	have, err := c.targetReferrers(ctx, subject)
	if err != nil {
		return nil, 0, err
	}
	in := make(map[v1.Hash]bool, len(have))
	for _, d := range have {
		in[d.Digest] = true
	}
	listed, n := make([]v1.Hash, 0, len(im.Manifests)), 0
	for _, d := range im.Manifests {
		listed = append(listed, d.Digest)
		if in[d.Digest] {
			continue
		}
		// Put it even when the target has the manifest, so that a target
		// without the referrers API gets its referrers tag updated.
		if _, err := c.add(ctx, node{desc: v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest}}, true); err != nil {
			return listed, n, err
		}
		n++
	}
	return listed, n, nil
}

// taggedNode is a manifest copied under a cosign tag, to tag once its
// blobs are in.
type taggedNode struct {
	tag  string
	node node
}

// copyCosignTags copies subject's cosign tags (.sig, .att, .sbom) that
// the target lacks or holds older, merging signatures where both have
// some, and tags them once their blobs are in; it returns the digests the
// source's tags name and how many it copied.
func (c *copier) copyCosignTags(ctx context.Context, subject v1.Hash) ([]v1.Hash, int, error) {
	var next []v1.Hash
	var retag []taggedNode
	n := 0
	for _, t := range cosignTags(subject) {
		d, nd, copied, err := c.copyCosignTag(ctx, t)
		if err != nil {
			return next, n, err
		}
		if d != nil {
			next = append(next, *d)
		}
		if nd != nil {
			retag = append(retag, taggedNode{t, *nd})
		}
		if copied {
			n++
		}
	}
	if err := c.flush(ctx); err != nil {
		return next, n, err
	}
	for _, t := range retag {
		if err := c.putTag(ctx, t); err != nil {
			return next, n, err
		}
	}
	return next, n, nil
}

// copyCosignTag looks at one cosign tag t: it returns the digest the
// source's t names (nil when there is none), the manifest to tag in the
// target when it was copied, and whether anything was copied or merged.
func (c *copier) copyCosignTag(ctx context.Context, t string) (*v1.Hash, *node, bool, error) {
	if has, known := c.sourceHasTag(ctx, t); known && !has {
		return nil, nil, false, nil
	}
	d, err := c.headSource(ctx, c.src.Tag(t))
	if err != nil || d == nil {
		return nil, nil, false, err
	}
	tag := c.dst.Tag(t)
	existing, err := c.headTarget(ctx, tag)
	if err != nil {
		return &d.Digest, nil, false, err
	}
	if existing == d.Digest {
		return &d.Digest, nil, false, nil
	}
	if existing != (v1.Hash{}) {
		covered, merged, err := c.mergeCosign(ctx, t, d.Digest)
		if err != nil || covered || merged {
			return &d.Digest, nil, merged && !covered, err
		}
		c.rep(Event{Kind: EventWarn, Msg: fmt.Sprintf("replacing %s (%s) with the source's %s", tag, existing, d.Digest)})
	}
	nd, err := c.add(ctx, node{desc: v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest}}, false)
	if err != nil {
		return &d.Digest, nil, false, err
	}
	return &d.Digest, &nd, true, nil
}

// putTag writes a copied cosign tag in the target.
func (c *copier) putTag(ctx context.Context, t taggedNode) error {
	tag := c.dst.Tag(t.tag)
	nd := t.node
	if nd.raw == nil {
		var err error
		if nd, err = c.fetch(ctx, nd.desc.Digest); err != nil {
			return err
		}
	}
	if err := c.pusher.Put(ctx, tag, rawManifest{raw: nd.raw, mt: nd.desc.MediaType}); err != nil {
		return fmt.Errorf("tagging %s: %w", tag, c.dstErr(err))
	}
	return nil
}

// targetReferrers lists the target's referrers of subject, once per
// promotion: it is asked before anything is attached to subject.
func (c *copier) targetReferrers(ctx context.Context, subject v1.Hash) ([]v1.Descriptor, error) {
	if ds, ok := c.dstRefs[subject]; ok {
		return ds, nil
	}
	ref := c.dst.Digest(subject.String())
	idx, err := remote.Referrers(ref, append(c.dstOpts, remote.Reuse(c.dstPuller))...)
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", ref, c.dstErr(err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", ref, c.dstErr(err))
	}
	c.dstRefs[subject] = im.Manifests
	return im.Manifests, nil
}

// sourceHasTag reports whether the source has the cosign tag, from one
// list of its tags; known is false when the source would not list them, and
// the tag must be asked for.
func (c *copier) sourceHasTag(ctx context.Context, tag string) (has, known bool) {
	if !c.tagsListed {
		c.tagsListed = true
		// Registries that refuse to list tags to a puller are asked for
		// each tag instead; a real failure shows there. So are those whose
		// listing runs past its bounds (pages that link back to
		// themselves, say), with a warning.
		tags, err := registry.ListTags(ctx, c.srcPuller, c.src, registry.TagListOptions{Keep: isCosignTag})
		switch {
		case err == nil:
			c.srcTags = map[string]bool{}
			for _, t := range tags {
				c.srcTags[t] = true
			}
		case errors.Is(err, registry.ErrTooLarge):
			c.rep(Event{Kind: EventWarn, Msg: fmt.Sprintf("%s; asking for each signature tag instead", c.srcErr(err))})
		}
	}
	if c.srcTags == nil {
		return false, false
	}
	return c.srcTags[tag], true
}
