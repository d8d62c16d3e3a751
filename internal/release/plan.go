package release

import (
	"cmp"
	"fmt"

	"github.com/Masterminds/semver/v3"
)

// DefaultInitial is the first version when no release tag exists.
const DefaultInitial = "0.1.0"

// DefaultSnapshotSuffix is the pre-release part of versions between releases.
const DefaultSnapshotSuffix = "SNAPSHOT"

// TagInfo is a release tag: its name, the version it names and the commit
// it points at (full hex hash).
type TagInfo struct {
	Name    string
	Version *semver.Version
	Commit  string
}

// Input is everything PlanRelease needs to know about a repository and the
// release asked for. State.Input fills the repository half.
type Input struct {
	// Tags are the release tags reachable from HEAD, in any order.
	Tags []TagInfo
	// HeadTags are the Tags that point at HEAD.
	HeadTags []TagInfo
	// Messages are the messages of the relevant commits since the last final
	// release tag (all relevant commits when there is none). When a final
	// release exists and Messages is empty, nothing changed since it and the
	// plan is up to date.
	Messages []string
	// Bump is the bump to apply; BumpNone, the zero value, is auto: it
	// reads Conventional Commits from Messages (see ParseBumpSpec).
	Bump Bump
	// DefaultBump is the bump auto uses when no message is releasable;
	// BumpNone means BumpPatch.
	DefaultBump Bump
	// Pre is a pre-release id such as "rc", or "" for a final release.
	Pre string
	// Version is an explicit version X.Y.Z[-pre], without the tag prefix.
	Version string
	// Initial is the first version when there are no final release tags;
	// nil means 0.1.0.
	Initial *semver.Version
}

// Plan is what a release would do.
type Plan struct {
	// Previous is the highest release tag reachable from HEAD, final or
	// pre-release; nil when there is none.
	Previous *TagInfo
	// Next is the version to release; when UpToDate, Existing's version.
	Next *semver.Version
	// Bump is the bump applied to the last final version. It is BumpNone for
	// the first release, a forced version, and when Next continues or
	// finalises an existing pre-release line.
	Bump Bump
	// UpToDate says a release already covers HEAD and nothing is to be done.
	UpToDate bool
	// Existing is, when UpToDate, the release covering HEAD: the highest
	// final tag on HEAD, the pre-release tag on HEAD of the line asked for,
	// or the last final tag when no relevant commit came after it.
	Existing *TagInfo
}

// PlanRelease decides the next version. The highest final version wins, not
// the newest tag: Next is that version raised by the bump (auto reads
// Messages), or Initial when there is none. A pre-release line at or above
// that target is continued (with Pre) or finalised (without). With Pre "rc",
// Next is target-rc.N, one above the line's highest N. An explicit Version skips all this
// and only checks that the version is new.
func PlanRelease(in Input) (Plan, error) {
	tags := knownTags(in.Tags)
	plan := Plan{Previous: highest(tags, nil)}
	if in.Version != "" {
		return planExplicit(in, tags, plan)
	}
	if in.Pre != "" {
		if err := checkPreID("pre-release id", in.Pre); err != nil {
			return Plan{}, err
		}
	}
	initial, err := initialVersion(in.Initial)
	if err != nil {
		return Plan{}, err
	}
	heads := knownTags(in.HeadTags)
	if t := highest(heads, isFinal); t != nil {
		return upToDate(plan, t), nil
	}
	if in.Pre != "" {
		if t := highest(heads, func(v *semver.Version) bool { return inPreLine(v, in.Pre) }); t != nil {
			return upToDate(plan, t), nil
		}
	}
	base := highest(tags, isFinal)
	if base != nil && len(in.Messages) == 0 {
		return upToDate(plan, base), nil
	}

	target, bump, err := nextTarget(in, tags, base, initial)
	if err != nil {
		return Plan{}, err
	}
	plan.Bump = bump
	next, err := preRelease(target, tags, in.Pre)
	if err != nil {
		return Plan{}, err
	}
	if plan.Previous != nil && !next.GreaterThan(plan.Previous.Version) {
		return Plan{}, fmt.Errorf("planning %s: %w: it sorts below %s; use a later pre-release id", next, ErrNotNewer, plan.Previous.Name)
	}
	plan.Next = next
	return plan, nil
}

// nextTarget is the final version to release: the last final one, base,
// raised by the bump (auto reads Messages), or initial when there is
// none. A pre-release line at or above it is continued or finalised, so
// the next version never sorts below an existing one; bump is then
// BumpNone.
func nextTarget(in Input, tags []TagInfo, base *TagInfo, initial *semver.Version) (target *semver.Version, bump Bump, err error) {
	target = initial
	if base != nil {
		bump = in.Bump
		if in.Bump == BumpNone {
			def := in.DefaultBump
			if def == BumpNone {
				def = BumpPatch
			}
			bump = BumpFromMessages(in.Messages, def)
		}
		if target, err = bump.Apply(base.Version); err != nil {
			return nil, BumpNone, err
		}
	}
	for _, t := range tags {
		if c := core(t.Version); !isFinal(t.Version) && c.Compare(target) >= 0 {
			target = c
			bump = BumpNone
		}
	}
	return target, bump, nil
}

// preRelease is target with pre-release id pre and the next counter of
// its line (target-rc.N, one above the line's highest N); target itself
// without pre.
func preRelease(target *semver.Version, tags []TagInfo, pre string) (*semver.Version, error) {
	if pre == "" {
		return target, nil
	}
	var n uint64
	for _, t := range tags {
		if c, ok := preCounter(t.Version, pre); ok && core(t.Version).Equal(target) {
			n = max(n, c)
		}
	}
	v, err := target.SetPrerelease(fmt.Sprintf("%s.%d", pre, n+1))
	if err != nil {
		return nil, fmt.Errorf("setting pre-release %s.%d: %w: %w", pre, n+1, ErrInvalid, err)
	}
	return &v, nil
}

// planExplicit checks an explicit version against the existing tags.
func planExplicit(in Input, tags []TagInfo, plan Plan) (Plan, error) {
	if in.Pre != "" {
		return Plan{}, fmt.Errorf("forcing version %s: %w: a forced version cannot take a pre-release id too; write it in full, e.g. 2.0.0-rc.1", in.Version, ErrInvalid)
	}
	v, err := semver.StrictNewVersion(in.Version)
	if err != nil {
		return Plan{}, fmt.Errorf("forcing version %q: %w: want X.Y.Z or X.Y.Z-pre without the tag prefix", in.Version, ErrInvalid)
	}
	for _, t := range tags {
		if t.Version.Equal(v) && t.Version.Metadata() == v.Metadata() {
			return Plan{}, fmt.Errorf("forcing version %s: %w: %s", v, ErrTagExists, t.Name)
		}
	}
	if plan.Previous != nil && !v.GreaterThan(plan.Previous.Version) {
		return Plan{}, fmt.Errorf("forcing version %s: %w: the highest release is %s", v, ErrNotNewer, plan.Previous.Name)
	}
	plan.Next = v
	return plan, nil
}

// initialVersion returns v, or 0.1.0 when v is nil; it must be final.
func initialVersion(v *semver.Version) (*semver.Version, error) {
	if v == nil {
		return semver.MustParse(DefaultInitial), nil
	}
	if !isFinal(v) || v.Metadata() != "" {
		return nil, fmt.Errorf("checking initial version %s: %w: want X.Y.Z", v, ErrInvalid)
	}
	return v, nil
}

// upToDate turns plan into a no-op pointing at the release t.
func upToDate(plan Plan, t *TagInfo) Plan {
	plan.UpToDate = true
	plan.Existing = t
	plan.Next = t.Version
	plan.Bump = BumpNone
	return plan
}

// knownTags drops tags without a version.
func knownTags(tags []TagInfo) []TagInfo {
	out := make([]TagInfo, 0, len(tags))
	for _, t := range tags {
		if t.Version != nil {
			out = append(out, t)
		}
	}
	return out
}

// highest returns a copy of the tag with the highest version among those
// keep accepts (all when keep is nil), or nil. Equal versions are decided by
// name, so the answer does not depend on order.
func highest(tags []TagInfo, keep func(*semver.Version) bool) *TagInfo {
	var best *TagInfo
	for i := range tags {
		t := tags[i]
		if t.Version == nil || (keep != nil && !keep(t.Version)) {
			continue
		}
		if best == nil {
			best = &t
			continue
		}
		switch c := t.Version.Compare(best.Version); {
		case c > 0, c == 0 && t.Name < best.Name:
			best = &t
		}
	}
	return best
}

// Description is the version of a commit: a release tag's version, or the
// next release's version with a snapshot suffix.
type Description struct {
	Version *semver.Version
	// Tag is the release tag Version comes from; "" for a snapshot.
	Tag string
	// Snapshot says Version is not released yet.
	Snapshot bool
}

// Describe returns the version of HEAD: the highest release tag on HEAD; the
// last release when no relevant commit came after it; otherwise the final
// version PlanRelease would make, with pre-release suffix (default
// SNAPSHOT), such as 1.4.3-SNAPSHOT. Pre and Version are ignored.
func Describe(in Input, suffix string) (Description, error) {
	suffix = cmp.Or(suffix, DefaultSnapshotSuffix)
	if err := checkPreID("snapshot suffix", suffix); err != nil {
		return Description{}, err
	}
	if t := highest(knownTags(in.HeadTags), nil); t != nil {
		return Description{Version: t.Version, Tag: t.Name}, nil
	}
	in.Pre, in.Version = "", ""
	plan, err := PlanRelease(in)
	if err != nil {
		return Description{}, err
	}
	if plan.UpToDate {
		return Description{Version: plan.Existing.Version, Tag: plan.Existing.Name}, nil
	}
	v, err := plan.Next.SetPrerelease(suffix)
	if err != nil {
		return Description{}, fmt.Errorf("setting snapshot suffix %q: %w: %w", suffix, ErrInvalid, err)
	}
	return Description{Version: &v, Snapshot: true}, nil
}
