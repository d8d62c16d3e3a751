package flow

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"regexp"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/internal/projfs"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// DeployOptions configure Deploy, DryRun and Diff.
type DeployOptions struct {
	Options
	Cluster deploy.ClusterOptions
	// DryRun and Diff make DeployGoal a dry run (DryRun) or a diff against
	// what is live (Diff) instead of a deploy.
	DryRun, Diff bool
	// Version deploys this version instead of the one at HEAD.
	Version string
	// Digest deploys exactly this digest (sha256:...) from the environment's
	// registry.
	Digest string
	// Timeout overrides deploy.timeout.
	Timeout time.Duration
	// NoRollback leaves a failed rollout as it is.
	NoRollback bool
	// ForceConflicts takes over fields other managers own.
	ForceConflicts bool
	// Reason is recorded with the deploy.
	Reason string
	// SkipGate deploys despite the environment's requirement; Reason must
	// say why, and is recorded.
	SkipGate bool
	// WaitLock is how long to wait for another deploy or rollback of the
	// environment to release its lock; 0 fails at once (deploy.ErrLocked).
	WaitLock time.Duration
	// BreakLock takes the environment's lock whoever holds it; Reason must
	// say why, and is recorded with whose lock it was.
	BreakLock bool
	// NoWait ends a deploy to a GitOps environment once its commit is
	// pushed, with the verdict pending.
	NoWait bool
}

// DeployResult is what Deploy did; DryRun's holds the Manifests, Diff's
// the Diff.
type DeployResult struct {
	deploy.Result
	Manifests []byte `json:"-"`
	Diff      string `json:"diff,omitempty"`
	// GitOps is what a deploy to a GitOps environment committed.
	GitOps *GitOpsResult `json:"gitops,omitempty"`
	// Commit is the app repository's commit deployed, when known: HEAD's,
	// or the one the image's org.opencontainers.image.revision names.
	Commit string `json:"-"`
}

// Deploy rolls the project's image out to the environment called envName:
// the version at HEAD (or o.Version / o.Digest) from that environment's
// registry, by digest, once its gate passes; then it retires the canaries
// of the environment that run the digest. A GitOps environment gets a
// commit instead (see commitGitOps). A canary whose main environment
// already runs the digest, healthy, is not deployed. The rollout runs
// under the environment's deploy lock (deploy.LockName: a canary shares
// its main environment's), so a second deploy or rollback of it fails
// fast, or waits o.WaitLock. Its verdict is then told to slipway.yaml's
// notify targets (see notifyDeploy).
func (r *Runner) Deploy(ctx context.Context, envName string, o DeployOptions) (DeployResult, error) {
	start := time.Now()
	res, err := r.deploy(ctx, envName, o)
	r.notifyDeploy(ctx, envName, res, err, o, start)
	return res, err
}

// deploy is Deploy before its verdict is told.
func (r *Runner) deploy(ctx context.Context, envName string, o DeployOptions) (DeployResult, error) {
	if env, err := r.Project.Environment(envName); err == nil {
		if err := checkWait(env, o); err != nil {
			return DeployResult{}, err
		}
		if env.GitOps != nil {
			return r.commitGitOps(ctx, env, o)
		}
	}
	env, in, cluster, err := r.connectPrepared(ctx, envName, o)
	if err != nil {
		return DeployResult{}, err
	}
	digest := deploy.DigestOf(in.Image)
	if res, ok := r.canaryDone(ctx, env, in, digest, o); ok {
		return res, nil
	}
	checker, err := r.checker(env, cluster, o)
	if err != nil {
		return DeployResult{}, err
	}
	checker = r.withAnalysis(env, cluster, checker, o)
	lockReason := o.Reason // why, before the gate's note is added
	if o.Reason, err = r.passGate(ctx, env, digest, o); err != nil {
		return DeployResult{Result: planned(env, in), Commit: in.Commit}, err
	}
	res, err := deploy.Deploy(ctx, deploy.Options{
		Render: in, Cluster: cluster, Timeout: o.Timeout, NoRollback: o.NoRollback,
		ForceConflicts: o.ForceConflicts, Who: Actor(), Reason: o.Reason, Progress: o.Progress, Checker: checker,
		Lock: &deploy.LockOptions{
			Holder: deploy.NewHolder(Actor(), "deploy", env.Name, in.Version),
			Wait:   o.WaitLock, Break: o.BreakLock, Reason: lockReason,
		},
	})
	if err != nil {
		return DeployResult{Result: res, Commit: in.Commit}, err
	}
	return DeployResult{Result: res, Commit: in.Commit}, r.retireCanaries(ctx, env, digest, o)
}

// checkWait refuses what a deploy of env cannot do: wait for the verdict
// of a GitOps environment whose engine gives none, or not wait for a
// direct one's.
func checkWait(env config.Environment, o DeployOptions) error {
	switch {
	case env.GitOps != nil && !o.NoWait && !waitable[env.GitOps.Engine]:
		return remedy.With(fmt.Errorf("deploying to %s: %w: with gitops.engine %s Slipway commits, and nothing tells it what the engine did with the commit", env.Name, ErrNoVerdict, env.GitOps.Engine),
			remedy.Remedy{Kind: remedy.CommitNoWait, Env: env.Name})
	case env.GitOps == nil && o.NoWait:
		return remedy.With(fmt.Errorf("deploying to %s: %w: it has no environments.%s.gitops, and a direct deploy always waits for its verdict", env.Name, config.ErrInvalid, env.Name),
			remedy.Remedy{Kind: remedy.DropNoWait, Env: env.Name})
	}
	return nil
}

// DryRun renders what Deploy would apply, touching no cluster; its
// warnings include what Deploy would refuse.
func (r *Runner) DryRun(ctx context.Context, envName string, o DeployOptions) (DeployResult, error) {
	env, in, err := r.prepare(ctx, envName, o)
	if err != nil {
		return DeployResult{}, err
	}
	m, err := deploy.Render(in)
	if err != nil {
		return DeployResult{}, err
	}
	y, err := m.YAML()
	res := planned(env, in)
	res.Warnings = append(m.Warnings, m.Refusals...)
	return DeployResult{Result: res, Manifests: y}, err
}

// Diff compares what Deploy would apply with what is live (a server-side
// dry run), without gates: "" when nothing would change.
func (r *Runner) Diff(ctx context.Context, envName string, o DeployOptions) (DeployResult, error) {
	env, in, cluster, err := r.connectPrepared(ctx, envName, o)
	if err != nil {
		return DeployResult{}, err
	}
	m, err := deploy.Render(in)
	if err != nil {
		return DeployResult{}, err
	}
	d, err := cluster.Diff(ctx, m)
	return DeployResult{Result: planned(env, in), Diff: d}, err
}

// connectPrepared prepares a deploy to the environment called envName
// (see prepare), then connects to its cluster.
func (r *Runner) connectPrepared(ctx context.Context, envName string, o DeployOptions) (config.Environment, deploy.RenderInput, *deploy.Cluster, error) {
	env, in, err := r.prepare(ctx, envName, o)
	if err != nil {
		return env, in, nil, err
	}
	cluster, err := r.cluster(env, o.Cluster)
	return env, in, cluster, err
}

// planned is the result of a deploy of in that has not happened.
func planned(env config.Environment, in deploy.RenderInput) deploy.Result {
	return deploy.Result{Env: env.Name, Namespace: env.Namespace, Image: in.Image, Version: in.Version}
}

// prepare finds the environment called envName and what it is to run,
// checked against its verify section: the input of Render.
func (r *Runner) prepare(ctx context.Context, envName string, o DeployOptions) (config.Environment, deploy.RenderInput, error) {
	env, err := r.Project.Environment(envName)
	if err != nil {
		return env, deploy.RenderInput{}, fmt.Errorf("deploying: %w", err)
	}
	if o.BreakLock && strings.TrimSpace(o.Reason) == "" {
		return env, deploy.RenderInput{}, remedy.With(fmt.Errorf("deploying to %s: %w", env.Name, config.ErrInvalid), remedy.Remedy{Kind: remedy.ReasonToBreak, Env: env.Name})
	}
	pod, err := readPod(r.Project)
	if err != nil {
		return env, deploy.RenderInput{}, err
	}
	in, err := r.target(ctx, env, o)
	if err != nil {
		return env, in, err
	}
	if err := r.verifyImage(ctx, env, in.Image, o.Options); err != nil {
		return env, in, err
	}
	in.Pod = pod
	return env, in, nil
}

// readPod reads deploy.pod as project content: inside the project (as a
// layer source), a regular file, at most as large as slipway.yaml may be.
func readPod(p *config.Project) (deploy.PodTemplate, error) {
	path, err := config.ResolveSource(p.Dir, p.Deploy.Pod)
	if err != nil {
		return deploy.PodTemplate{}, fmt.Errorf("reading deploy.pod %q: %w", p.Deploy.Pod, err)
	}
	data, err := projfs.ReadRegular(path, int64(config.DefaultLimits.MaxBytes))
	if errors.Is(err, os.ErrNotExist) {
		return deploy.PodTemplate{}, nil // Slipway makes the one container itself
	}
	if err != nil {
		return deploy.PodTemplate{}, fmt.Errorf("reading deploy.pod %q: %w", p.Deploy.Pod, err)
	}
	return deploy.ParsePod(p.Deploy.Pod, data)
}

// target works out which image, by digest, an environment gets.
func (r *Runner) target(ctx context.Context, env config.Environment, o DeployOptions) (deploy.RenderInput, error) {
	p := r.Project
	reg := p.RegistryOf(env)
	client, err := r.registry(reg, o.Options, false)
	if err != nil {
		return deploy.RenderInput{}, err
	}
	repo, err := client.Repo(p.App)
	if err != nil {
		return deploy.RenderInput{}, err
	}
	in := deploy.RenderInput{Project: p, Env: env}
	if o.Digest != "" {
		h, err := v1.NewHash(o.Digest)
		if err != nil {
			return in, fmt.Errorf("deploying %s: --digest %q: %w: want sha256: and 64 hex digits", env.Name, o.Digest, config.ErrInvalid)
		}
		in.Image, in.Version = repo.Digest(h.String()).String(), o.Version
		return in, nil
	}
	version, commit := o.Version, ""
	if version == "" {
		info, err := r.Version()
		if err != nil {
			return in, err
		}
		version, commit = info.Version, info.Commit
	}
	digest, err := client.Resolve(ctx, p.App, registry.VersionTag(version))
	if err != nil {
		if errors.Is(err, registry.ErrNotFound) {
			return in, remedy.With(fmt.Errorf("deploying %s %s to %s: %w", p.App, version, env.Name, err),
				remedy.Remedy{Kind: remedy.PushFirst, Env: env.Name, Registry: reg.Name})
		}
		return in, err
	}
	in.Image, in.Version, in.Commit = repo.Digest(digest.String()).String(), version, commit
	// The image's user decides whether it can start at all: a config that
	// cannot be read (or is beyond bounds) stops the deploy rather than
	// pass for one that could.
	cfg, err := client.ImageConfig(ctx, p.App, digest)
	if err != nil {
		return in, fmt.Errorf("deploying %s %s to %s: %w", p.App, version, env.Name, err)
	}
	in.ImageUser = &cfg.Config.User
	if rev := cfg.Config.Labels[image.AnnotationRevision]; in.Commit == "" && fullCommit.MatchString(rev) {
		in.Commit = rev // --version: the commit the image was built from
	}
	in.PullSecret, err = pullSecret(reg, client.Host())
	return in, err
}

// fullCommit is a full git commit hash, as an image's revision label
// holds one.
var fullCommit = regexp.MustCompile(`^[0-9a-f]{40}$`)

// pullSecret is the .dockerconfigjson of an image pull secret for reg, from
// its SLIPWAY_REGISTRY_<NAME>_* variables, when reg asks for one.
func pullSecret(reg config.Registry, host string) ([]byte, error) {
	if !reg.PullSecret {
		return nil, nil
	}
	userVar, passVar := config.RegistryEnvVars(reg.Name)
	user, pass := os.Getenv(userVar), os.Getenv(passVar)
	if user == "" || pass == "" {
		return nil, fmt.Errorf("making the image pull secret for registry %s: %w: registries.%s.pullSecret is true, so set %s and %s",
			reg.Name, config.ErrInvalid, reg.Name, userVar, passVar)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	return json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{"username": user, "password": pass, "auth": auth}}})
}

// Actor names who runs Slipway, for records: SLIPWAY_ACTOR, else the CI
// system's user, else the login name, else the account.
func Actor() string {
	for _, k := range []string{"SLIPWAY_ACTOR", "BUILD_USER_ID", "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "DRONE_COMMIT_AUTHOR", "USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
