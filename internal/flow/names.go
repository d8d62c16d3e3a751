package flow

import (
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/internal/release"
	"github.com/slipwayhq/slipway/internal/sign"
)

// The names below are the core packages' types and values that the
// command line takes as options and prints results with. They are flow's,
// so that the command line imports flow and its vocabulary only and makes
// no decision of the core packages' itself.

// ClusterOptions choose an environment's kubeconfig and context over the
// ones slipway.yaml names.
type ClusterOptions = deploy.ClusterOptions

// WaitForever, as a WaitLock, waits for another run's deploy lock as long
// as that run holds it.
const WaitForever = deploy.WaitForever

// The health of an environment that runs nothing, and of one whose
// cluster cannot be read.
const (
	Missing     = deploy.Missing
	Unreachable = deploy.Unreachable
)

// The statuses of a doctor check: passed, to look at, failed.
const (
	CheckOK   = deploy.CheckOK
	CheckWarn = deploy.CheckWarn
	CheckFail = deploy.CheckFail
)

// FailedError is a rollout that failed its verdict; it holds the deploy's
// result.
type FailedError = deploy.FailedError

// BuildRecord is what a build made: the version, commit and platforms of
// the image in the layout.
type BuildRecord = image.Record

// ReleaseResult is what a release did, or with DryRun would do.
type ReleaseResult = release.Result

// KeyPairResult names the files GenerateKeys wrote.
type KeyPairResult = sign.GenerateResult

// The variables that hold the signing key's password: Slipway's own, and
// cosign's, which it reads when Slipway's is not set.
const (
	PasswordEnv       = sign.PasswordEnv
	CosignPasswordEnv = sign.CosignPasswordEnv
)

// GenerateKeys writes a cosign-compatible key pair, PREFIX.key and
// PREFIX.pub, in dir (see sign.Generate); force replaces an existing one.
func GenerateKeys(dir, prefix string, force bool) (KeyPairResult, error) {
	return sign.Generate(sign.GenerateOptions{Dir: dir, Prefix: prefix, Force: force})
}
