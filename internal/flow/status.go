package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/short"
	"github.com/slipwayhq/slipway/internal/sign"
)

// StatusOptions configure Status.
type StatusOptions struct {
	Options
	Cluster deploy.ClusterOptions
	// Pods adds pod-level detail.
	Pods bool
	// Timeout bounds each environment's queries (default 10s), so one
	// unreachable cluster does not hold up the rest.
	Timeout time.Duration
}

// EnvStatus is what runs in an environment, and whether it passes the
// environment's verify section.
type EnvStatus struct {
	deploy.EnvStatus
	// Verify is nil when the environment has no verify section, or runs
	// nothing.
	Verify *VerifyStatus `json:"verify,omitempty"`
	// GitOps is what the environment repository holds for a GitOps
	// environment; nil for a direct one.
	GitOps *GitOpsStatus `json:"gitops,omitempty"`
}

// Verification states of VerifyStatus.
const (
	Verified   = "verified"   // passes verify, as a deploy now would check it
	Unverified = "unverified" // would be refused: exit 3 at deploy
	Unknown    = "unknown"    // not checked: the key or the registry could not be read
)

// VerifyStatus says whether the digest an environment runs passes its
// verify section: signature, attestations and promotion.
type VerifyStatus struct {
	State string `json:"state"`
	Key   string `json:"key"`
	// Problem says why when not verified.
	Problem string `json:"problem,omitempty"`
}

// verification checks the digest an environment runs against its verify
// section, as deploy would; nil without one.
func (r *Runner) verification(ctx context.Context, env config.Environment, repo, digest string, o Options) *VerifyStatus {
	if env.Verify == nil || digest == "" {
		return nil
	}
	vs := &VerifyStatus{State: Verified, Key: env.Verify.Key}
	err := r.checkImage(ctx, env, repo+"@"+digest, o)
	var ue *sign.UnverifiedError
	switch {
	case errors.As(err, &ue):
		vs.State, vs.Problem = Unverified, ue.Reason
	case err != nil:
		vs.State, vs.Problem = Unknown, r.describe(err)
	}
	return vs
}

// Status reports what runs in each named environment (all when names is
// empty), querying them in parallel, and whether it passes the
// environment's verify section. An environment that cannot be read is
// reported as such; it does not fail the rest.
func (r *Runner) Status(ctx context.Context, names []string, o StatusOptions) ([]EnvStatus, error) {
	p := r.Project
	if len(names) == 0 {
		names = p.Environments.Names()
	}
	envs := make([]config.Environment, len(names))
	for i, n := range names {
		env, err := p.Environment(n)
		if err != nil {
			return nil, fmt.Errorf("reading status: %w", err)
		}
		envs[i] = env
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	out := make([]EnvStatus, len(envs))
	var wg sync.WaitGroup
	for i, env := range envs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, o.Timeout)
			defer cancel()
			out[i] = r.envStatus(ctx, env, o)
			if env.GitOps != nil {
				out[i].GitOps = r.gitOpsStatus(ctx, env, o.Options)
				out[i].Drift = append(out[i].Drift, r.gitOpsDrift(ctx, env, out[i], o.Cluster)...)
				deployedFromGit(&out[i])
			}
		})
	}
	wg.Wait()
	canaryAhead(p, out)
	return out, nil
}

// clusterStatus is what the cluster says runs in env, without asking the
// registry: enough for gates.
func (r *Runner) clusterStatus(ctx context.Context, env config.Environment, co deploy.ClusterOptions, pods bool) deploy.EnvStatus {
	name := deploy.Name(r.Project, env)
	c, err := r.cluster(env, co)
	if err != nil {
		return deploy.EnvStatus{Env: env.Name, Namespace: env.Namespace, Deployment: name, Health: deploy.Unreachable, Error: r.describe(err)}
	}
	return c.Status(ctx, env.Namespace, name, pods)
}

// envStatus is clusterStatus plus drift against the environment's
// registry, and the verification of what runs.
func (r *Runner) envStatus(ctx context.Context, env config.Environment, o StatusOptions) EnvStatus {
	p := r.Project
	s := EnvStatus{EnvStatus: r.clusterStatus(ctx, env, o.Cluster, o.Pods)}
	if s.Digest == "" {
		return s
	}
	reg := p.RegistryOf(env)
	client, err := r.registry(reg, o.Options, false)
	if err != nil {
		return s
	}
	repo, err := client.Repo(p.App)
	if err == nil {
		s.Verify = r.verification(ctx, env, repo.String(), s.Digest, o.Options)
	}
	if s.Version == "" {
		return s
	}
	if err == nil && !strings.HasPrefix(s.Image, repo.String()+"@") {
		s.Drift = append(s.Drift, "runs an image that is not "+repo.String())
	}
	tagged, err := client.Resolve(ctx, p.App, registry.VersionTag(s.Version))
	switch {
	case err != nil:
		s.Drift = append(s.Drift, fmt.Sprintf("registry %s has no tag %s", reg.Name, s.Version))
	case tagged.String() != s.Digest:
		s.Drift = append(s.Drift, fmt.Sprintf("registry tag %s is %s but pods run %s", s.Version, short.Digest(tagged.String()), short.Digest(s.Digest)))
	}
	return s
}

// canaryAhead notes a canary running a newer version than the environment
// it is a canary of.
func canaryAhead(p *config.Project, st []EnvStatus) {
	by := map[string]*EnvStatus{}
	for i := range st {
		by[st[i].Env] = &st[i]
	}
	for _, env := range p.Environments {
		c, target := by[env.Name], by[env.CanaryOf]
		if env.CanaryOf == "" || c == nil || target == nil || c.Version == "" || target.Version == "" {
			continue
		}
		cv, err1 := semver.NewVersion(c.Version)
		tv, err2 := semver.NewVersion(target.Version)
		if err1 == nil && err2 == nil && cv.GreaterThan(tv) {
			c.Drift = append(c.Drift, fmt.Sprintf("canary ahead of %s (%s)", env.CanaryOf, target.Version))
		}
	}
}

// HistoryOptions configure History.
type HistoryOptions struct {
	Cluster deploy.ClusterOptions
}

// History lists an environment's revisions, newest first: for a GitOps
// environment, the commits that changed the app's file.
func (r *Runner) History(ctx context.Context, envName string, o HistoryOptions) ([]deploy.Revision, error) {
	env, err := r.Project.Environment(envName)
	if err != nil {
		return nil, fmt.Errorf("reading history: %w", err)
	}
	if env.GitOps != nil {
		return r.gitOpsHistory(ctx, env)
	}
	c, err := r.cluster(env, o.Cluster)
	if err != nil {
		return nil, err
	}
	return c.History(ctx, env.Namespace, deploy.Name(r.Project, env))
}

// RollbackOptions configure Rollback.
type RollbackOptions struct {
	Options
	Cluster deploy.ClusterOptions
	To      string
	Timeout time.Duration
	Reason  string
	// WaitLock and BreakLock are as for DeployOptions.
	WaitLock  time.Duration
	BreakLock bool
}

// Rollback returns an environment to an earlier revision, skipping gates,
// under the environment's deploy lock as Deploy; in a GitOps environment
// by a commit that restores an earlier commit's file.
func (r *Runner) Rollback(ctx context.Context, envName string, o RollbackOptions) (deploy.Result, error) {
	p := r.Project
	env, err := p.Environment(envName)
	if err != nil {
		return deploy.Result{}, fmt.Errorf("rolling back: %w", err)
	}
	if o.BreakLock && strings.TrimSpace(o.Reason) == "" {
		return deploy.Result{}, remedy.With(fmt.Errorf("rolling back %s: %w", env.Name, config.ErrInvalid), remedy.Remedy{Kind: remedy.ReasonToBreak, Env: env.Name})
	}
	if env.GitOps != nil {
		return r.gitOpsRollback(ctx, env, o)
	}
	c, err := r.cluster(env, o.Cluster)
	if err != nil {
		return deploy.Result{}, err
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = p.Deploy.Timeout.Duration
	}
	return c.Undo(ctx, env.Namespace, deploy.Name(p, env), deploy.UndoOptions{
		To: o.To, Timeout: timeout, Who: Actor(), Reason: o.Reason, Progress: o.Progress,
		Lock: &deploy.LockOptions{
			Name:   deploy.LockName(p, env),
			Holder: deploy.NewHolder(Actor(), "rollback", env.Name, ""),
			Wait:   o.WaitLock, Break: o.BreakLock, Reason: o.Reason,
		},
	})
}

// deployedFromGit fills in who deployed what runs in a GitOps environment,
// and when, from the commit that holds it: the engine, not Slipway, wrote
// the Deployment.
func deployedFromGit(s *EnvStatus) {
	g := s.GitOps
	if g == nil || g.Digest == "" || g.Digest != s.Digest {
		return
	}
	if s.DeployedBy == "" {
		s.DeployedBy = g.By
	}
	if s.DeployedAt.IsZero() {
		s.DeployedAt = g.When
	}
}
