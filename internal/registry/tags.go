package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/slipwayhq/slipway/internal/remedy"
)

// ErrTagConflict is matched by a *TagConflictError.
var ErrTagConflict = errors.New("version tag points at another image")

// TagConflictError is returned when a version tag already points at
// another digest: versions are immutable unless forced.
type TagConflictError struct {
	Tag      string  // full reference, REPO:VERSION
	Existing v1.Hash // digest the tag points at
	New      v1.Hash // digest of this build
	// Concurrent is true when the tag was free (or this image's) when
	// looked at first, and another run wrote it meanwhile: of two runs
	// tagging one version at once, this one lost.
	Concurrent bool
}

func (e *TagConflictError) Error() string {
	if e.Concurrent {
		return fmt.Sprintf("%s was tagged by another run at the same time and points at %s, not at this build's %s; "+
			"that run won and its image is complete",
			e.Tag, e.Existing, e.New)
	}
	return fmt.Sprintf("%s already points at %s, not at this build's %s", e.Tag, e.Existing, e.New)
}

// Remedy is a new version, or moving the tag.
func (e *TagConflictError) Remedy() remedy.Remedy { return remedy.Remedy{Kind: remedy.ForceTag} }

// Is makes errors.Is(err, ErrTagConflict) true.
func (e *TagConflictError) Is(target error) bool { return target == ErrTagConflict }

// VersionTag is the image tag of a version: the version with + (not
// allowed in tags) replaced by _.
func VersionTag(version string) string { return strings.ReplaceAll(version, "+", "_") }

// GitTag is the image tag of a commit, git-<first 7 characters>, or ""
// without a full revision.
func GitTag(revision string) string {
	if len(revision) < 7 {
		return ""
	}
	return "git-" + revision[:7]
}

// IsNotFound reports whether err, from go-containerregistry before
// Classify, is the registry answering 404: no such tag, manifest or blob.
func IsNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// CheckVersionTag is the conflict policy for writing want to version tag
// t, found pointing at existing (the zero hash when it is free): another
// digest is a *TagConflictError unless force, which moves the tag (moved
// is then true).
func CheckVersionTag(t name.Tag, existing, want v1.Hash, force bool) (moved bool, err error) {
	switch {
	case existing == want || existing == v1.Hash{}:
		return false, nil
	case !force:
		return false, &TagConflictError{Tag: t.String(), Existing: existing, New: want}
	}
	return true, nil
}

// CheckTagWon looks at version tag t again, just before and just after
// this run writes want to it (after SettleTag): got pointing at another
// digest means another run tagged the version at the same time and this
// one lost, a *TagConflictError with Concurrent. A tag found empty
// (deleted meanwhile) is left to the next run.
//
// Registries have no conditional tag write, so this narrows the race
// without closing it. Both runs succeed only when the other run looked
// before this run's write and its write lands after this run's settle and
// look: its look-to-write gap (one round trip) must outlast this run's
// write and settle. The tag then ends on the other's image, which is
// complete (every run pushes its image before any tag), and this run's
// success is stale.
func CheckTagWon(t name.Tag, got, want v1.Hash) error {
	if got != (v1.Hash{}) && got != want {
		return &TagConflictError{Tag: t.String(), Existing: got, New: want, Concurrent: true}
	}
	return nil
}

// SettleTag waits, after a version tag was written, long enough for
// another run's write that was already under way to land (see SettleTime).
// took is how long this run took to write the tag, from its look just
// before the write (CheckTagWon) when it looked. It returns early with
// ctx's error.
func SettleTag(ctx context.Context, took time.Duration) error {
	return sleepContext(ctx, SettleTime(took))
}

// Bounds of SettleTime.
const (
	minSettle = 50 * time.Millisecond
	maxSettle = 2 * time.Second
)

// SettleTime is how long to wait after writing a version tag in took
// before looking at it again: twice as long as this run's own look and
// write took, at least 50ms and at most 2s.
//
// Another run that still writes the tag had looked before this run's
// write landed (or it would have seen this run's image and stopped), and
// its write follows its look by one round trip to the same registry:
// about as long as this run's own look and write, so twice that covers a
// slower peer. The floor covers a peer paused between its look and its
// write by a busy machine; it is not longer because every promotion and
// push that writes a version tag waits it out, and 250ms was most of a
// same-registry promotion. The cap bounds the wait behind a slow write.
func SettleTime(took time.Duration) time.Duration {
	return min(max(2*took, minSettle), maxSettle)
}
