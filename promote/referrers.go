package promote

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
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

// referrerPlan is how to bring the target's artifacts attached to an
// image up to date with the source's: the manifests to copy (with their
// blobs), the cosign tags to write once those are in, and the cosign tags
// the target holds at another manifest, to merge or replace.
type referrerPlan struct {
	plan
	tags   []taggedNode
	merges []cosignMerge
	// copied counts the referrers and cosign tags planned to copy.
	copied int
	// ready is closed once the image is planned: a manifest of the image
	// (that a hostile cosign tag names, say) is planned as the image's,
	// to be put before it is referred to.
	ready <-chan struct{}
}

// cosignMerge is a cosign tag of the target that points at another
// manifest than the source's tag: the source's src is merged into it or
// replaces it (see mergeCosign) once the image is in.
type cosignMerge struct {
	tag      string
	src      v1.Descriptor
	existing v1.Hash
}

// planReferrers finds what the target lacks of the artifacts attached to
// top in the source: those the source lists as its referrers (through the
// OCI referrers API or the referrers tag) and cosign's sha256-HEX.sig,
// .att and .sbom tags, and in turn the artifacts attached to those (a
// signature of an SBOM), up to maxReferrerDepth. For an index, the
// referrers of each platform's manifest too. It only reads (it plans and
// writes nothing), so it runs while the image is planned and its blobs
// copy; it plans copying a manifest only once ready is closed, when the
// image is planned. The copy of the referrers' blobs can start then too;
// putReferrers writes the rest once the image is in. It runs on every
// promotion, also when the target holds the image already: when
// everything is there it costs one list of the source's tags, a list of
// referrers per manifest, and a HEAD per cosign tag on each side.
func (c *copier) planReferrers(ctx context.Context, top node, ready <-chan struct{}) (*referrerPlan, error) {
	rp := &referrerPlan{ready: ready}
	if err := c.referrersOf(ctx, rp, top.desc.Digest, 1); err != nil {
		return nil, err
	}
	if top.desc.MediaType.IsIndex() {
		r, err := references(top.raw, top.desc.MediaType)
		if err != nil {
			return nil, err
		}
		for _, m := range r.manifests {
			if err := c.referrersOf(ctx, rp, m.Digest, 1); err != nil {
				return nil, err
			}
		}
	}
	return rp, nil
}

// putReferrers writes what planReferrers planned, once the image is in the
// target and the planned blobs too: the referrers' manifests, then the
// cosign tags, merged where the target holds promotion attestations the
// source lacks. It returns how many artifacts it copied or re-tagged.
func (c *copier) putReferrers(ctx context.Context, rp *referrerPlan) (int, error) {
	if err := c.putManifests(ctx, &rp.plan); err != nil {
		return 0, err
	}
	n := rp.copied
	for _, m := range rp.merges {
		nd, copied, err := c.mergeOrReplace(ctx, m)
		if err != nil {
			return n, err
		}
		if copied {
			n++
		}
		if nd != nil {
			rp.tags = append(rp.tags, taggedNode{m.tag, *nd})
		}
	}
	for _, t := range rp.tags {
		if err := c.putTag(ctx, t); err != nil {
			return n, err
		}
	}
	if n > 0 {
		c.rep(Event{Kind: EventInfo, Msg: fmt.Sprintf("copied %d attached artifacts", n)})
	}
	return n, nil
}

// referrersOf plans copying the referrers and cosign tags of one manifest
// that the target lacks, at the given depth, then does the same for each
// of them, whether copied now or before. Each subject is listed once.
func (c *copier) referrersOf(ctx context.Context, rp *referrerPlan, subject v1.Hash, depth int) error {
	if depth > maxReferrerDepth || c.listed[subject] {
		return nil
	}
	c.listed[subject] = true
	if len(c.listed) > maxSubjects {
		return c.bound(c.src.Digest(subject.String()), fmt.Sprintf("the image and what is attached to it have more than %d subjects of referrers", maxSubjects),
			fmt.Sprintf("%d subjects listed in one promotion", maxSubjects))
	}
	listed, err := c.planListed(ctx, rp, subject)
	if err != nil {
		return err
	}
	tagged, err := c.planCosignTags(ctx, rp, subject)
	if err != nil {
		return err
	}
	// Then what is attached to each of them.
	for _, d := range append(tagged, listed...) {
		if err := c.referrersOf(ctx, rp, d, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// planListed plans copying the referrers the source's referrers API lists
// for subject that the target lacks; it returns the digests listed.
func (c *copier) planListed(ctx context.Context, rp *referrerPlan, subject v1.Hash) ([]v1.Hash, error) {
	manifests, err := listReferrers(c.src.Digest(subject.String()), append(c.srcOpts, remote.WithContext(ctx), remote.Reuse(c.srcPuller)), c.srcErr)
	if err != nil || len(manifests) == 0 {
		return nil, err
	}
	have, err := c.targetReferrers(ctx, subject)
	if err != nil {
		return nil, err
	}
	in := make(map[v1.Hash]bool, len(have))
	for _, d := range have {
		in[d.Digest] = true
	}
	listed := make([]v1.Hash, 0, len(manifests))
	for _, d := range manifests {
		listed = append(listed, d.Digest)
		if in[d.Digest] {
			continue
		}
		// Put it even when the target has the manifest, so that a target
		// without the referrers API gets its referrers tag updated.
		if _, err := c.addReferrer(ctx, rp, node{desc: v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest}}, true); err != nil {
			return listed, err
		}
		rp.copied++
	}
	return listed, nil
}

// addReferrer plans copying n in rp (see add) once rp.ready is closed.
func (c *copier) addReferrer(ctx context.Context, rp *referrerPlan, n node, put bool) (node, error) {
	if err := waitFor(ctx, rp.ready); err != nil {
		return n, err
	}
	return c.add(ctx, &rp.plan, n, put)
}

// taggedNode is a manifest copied under a cosign tag, to tag once its
// blobs are in.
type taggedNode struct {
	tag  string
	node node
}

// planCosignTags plans copying subject's cosign tags (.sig, .att, .sbom)
// that the target lacks or holds older; it returns the digests the
// source's tags name.
func (c *copier) planCosignTags(ctx context.Context, rp *referrerPlan, subject v1.Hash) ([]v1.Hash, error) {
	var next []v1.Hash
	for _, t := range cosignTags(subject) {
		d, err := c.planCosignTag(ctx, rp, t)
		if err != nil {
			return next, err
		}
		if d != nil {
			next = append(next, *d)
		}
	}
	return next, nil
}

// planCosignTag looks at one cosign tag t on both sides and plans what to
// do with it; it returns the digest the source's t names (nil when there
// is none).
func (c *copier) planCosignTag(ctx context.Context, rp *referrerPlan, t string) (*v1.Hash, error) {
	if has, known := c.sourceHasTag(ctx, t); known && !has {
		return nil, nil
	}
	d, err := c.headSource(ctx, c.src.Tag(t))
	if err != nil || d == nil {
		return nil, err
	}
	existing, err := c.headTarget(ctx, c.dst.Tag(t))
	if err != nil {
		return &d.Digest, err
	}
	switch existing {
	case d.Digest:
	case v1.Hash{}:
		nd, err := c.addReferrer(ctx, rp, node{desc: v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest}}, false)
		if err != nil {
			return &d.Digest, err
		}
		// Put by its tag alone, which writes the manifest too.
		if m := rp.manifests; len(m) > 0 && m[len(m)-1].desc.Digest == nd.desc.Digest {
			rp.manifests = m[:len(m)-1]
		}
		rp.tags = append(rp.tags, taggedNode{t, nd})
		rp.copied++
	default:
		rp.merges = append(rp.merges, cosignMerge{tag: t, src: *d, existing: existing})
	}
	return &d.Digest, nil
}

// mergeOrReplace brings the target's cosign tag m.tag, found pointing at
// another manifest than the source's, up to date: merged with the source's
// (see mergeCosign), left alone when it covers the source's, or else
// replaced by it, whose manifest (with its blobs) is then copied and
// returned to tag. copied says whether anything was merged or copied.
func (c *copier) mergeOrReplace(ctx context.Context, m cosignMerge) (*node, bool, error) {
	covered, merged, err := c.mergeCosign(ctx, m.tag, m.src.Digest)
	if err != nil || covered || merged {
		return nil, merged && !covered, err
	}
	c.rep(Event{Kind: EventWarn, Msg: fmt.Sprintf("replacing %s (%s) with the source's %s", c.dst.Tag(m.tag), m.existing, m.src.Digest)})
	var pl plan
	nd, err := c.add(ctx, &pl, node{desc: v1.Descriptor{MediaType: m.src.MediaType, Size: m.src.Size, Digest: m.src.Digest}}, false)
	if err != nil {
		return nil, false, err
	}
	if err := c.flush(ctx, &pl); err != nil {
		return nil, false, err
	}
	return &nd, true, nil
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
	if err := c.putter.Put(ctx, tag, rawManifest{raw: nd.raw, mt: nd.desc.MediaType}); err != nil {
		return fmt.Errorf("tagging %s: %w", tag, c.dstErr(err))
	}
	return nil
}

// targetReferrers lists the target's referrers of subject, once per
// promotion: it is asked before anything is attached to subject. The
// record and the referrers may ask at once; the second waits for the
// first's list.
func (c *copier) targetReferrers(ctx context.Context, subject v1.Hash) ([]v1.Descriptor, error) {
	c.refsMu.Lock()
	defer c.refsMu.Unlock()
	if ds, ok := c.dstRefs[subject]; ok {
		return ds, nil
	}
	manifests, err := listReferrers(c.dst.Digest(subject.String()), append(c.dstOpts, remote.WithContext(ctx), remote.Reuse(c.dstPuller)), c.dstErr)
	if err != nil {
		return nil, err
	}
	c.dstRefs[subject] = manifests
	return manifests, nil
}

// listReferrers lists the referrers of ref, through the OCI referrers API
// or its tag, with opts; named names the registry in an error.
func listReferrers(ref name.Digest, opts []remote.Option, named func(error) error) ([]v1.Descriptor, error) {
	idx, err := remote.Referrers(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", ref, named(err))
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("listing the referrers of %s: %w", ref, named(err))
	}
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
