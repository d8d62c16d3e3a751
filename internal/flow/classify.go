package flow

import (
	"context"
	"errors"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/gitops"
	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/internal/projfs"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/release"
	"github.com/slipwayhq/slipway/internal/sign"
)

// Class is the kind of failure an error reports, which the command line
// turns into its exit code.
type Class int

// Classes of failure, from Classify.
const (
	// ClassFailure is any other failure; the message says why.
	ClassFailure Class = iota
	// ClassUsage is bad input: an invalid slipway.yaml, ci.yaml or pod.yml,
	// a value no flag takes, or a file refused as a symlink, FIFO, device
	// or too large.
	ClassUsage
	// ClassRefused is a safety gate's refusal.
	ClassRefused
	// ClassAuth is an authentication or permission failure.
	ClassAuth
	// ClassRolloutFailed is a rollout that failed its verdict.
	ClassRolloutFailed
	// ClassInterrupted is an interrupt (Ctrl-C or SIGTERM).
	ClassInterrupted
	// ClassSuperseded is a GitOps deploy whose commit a newer one
	// superseded before the engine applied it.
	ClassSuperseded
	// ClassNotPickedUp is a GitOps deploy whose commit the engine did not
	// attempt in time.
	ClassNotPickedUp
)

// The core packages' sentinels of each class; Classify matches them with
// errors.Is.
var (
	usages = []error{config.ErrInvalid, config.ErrNotFound, release.ErrInvalid, release.ErrNotNewer, gitops.ErrInvalid, ErrNoVerdict, registry.ErrBadURL,
		deploy.ErrNoContext, image.ErrLayer, image.ErrSecretFile, image.ErrNothingToBuild, sign.ErrNoPassword, sign.ErrKey,
		projfs.ErrOutside, projfs.ErrSymlink, projfs.ErrNotRegular, projfs.ErrTooLarge}
	refusals = []error{release.ErrDirty, release.ErrTagExists, config.ErrExists, registry.ErrTagConflict, ErrStale, ErrGate,
		deploy.ErrWouldNotStart, deploy.ErrLocked, sign.ErrKeyExists, sign.ErrUnverified,
		gitops.ErrRaced, gitops.ErrConflict}
	authErrs = []error{gitremote.ErrAuth, registry.ErrAuth, deploy.ErrClusterAuth}
)

// Classify says what kind of failure err is. Bad input wins over the
// rest, and an interrupt over what it cut short.
func Classify(err error) Class {
	switch {
	case err == nil:
		return ClassFailure
	case isAny(err, usages):
		return ClassUsage
	case errors.Is(err, context.Canceled):
		return ClassInterrupted
	case isAny(err, authErrs):
		return ClassAuth
	case isAny(err, refusals):
		return ClassRefused
	case errors.Is(err, deploy.ErrFailed):
		return ClassRolloutFailed
	case errors.Is(err, ErrSuperseded):
		return ClassSuperseded
	case errors.Is(err, ErrNotPickedUp):
		return ClassNotPickedUp
	}
	return ClassFailure
}

func isAny(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}
