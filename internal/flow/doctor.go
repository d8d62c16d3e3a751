package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/internal/registry"
)

// Names of the checks Doctor makes besides the cluster's.
const (
	CheckKubeconfig = "kubeconfig"
	CheckPull       = "pull"
	CheckPullSecret = "pull-secret"
)

// DoctorOptions configure Doctor.
type DoctorOptions struct {
	Options
	Cluster deploy.ClusterOptions
}

// DoctorReport is what Doctor found for one environment, one check each.
type DoctorReport struct {
	Env    string         `json:"environment"`
	Checks []deploy.Check `json:"checks"`
}

// Failed reports whether any check failed; warnings do not count.
func (r DoctorReport) Failed() bool {
	for _, c := range r.Checks {
		if c.Status == deploy.CheckFail {
			return true
		}
	}
	return false
}

// Doctor checks whether a deploy to the environment called envName can
// work: that its kubeconfig context opens, that the cluster answers and
// lets the credentials do what a deploy does (deploy.Cluster.Doctor), that
// its registry has the version at HEAD, and that a pull secret it asks for
// can be made. Problems are reported as checks, not as an error; the error
// is for an unknown environment only.
func Doctor(ctx context.Context, p *config.Project, envName string, o DoctorOptions) (DoctorReport, error) {
	env, err := p.Environment(envName)
	if err != nil {
		return DoctorReport{}, fmt.Errorf("checking environment: %w", err)
	}
	r := DoctorReport{Env: env.Name}
	c, err := deploy.Connect(env, o.Cluster)
	if err != nil {
		ch := deploy.Check{Name: CheckKubeconfig, Status: deploy.CheckFail, Detail: err.Error()}
		if !errors.Is(err, deploy.ErrNoContext) { // that error says what to do itself
			ch.Hint = "point --kubeconfig or KUBECONFIG at a valid kubeconfig file"
		}
		r.Checks = append(r.Checks, ch)
	} else {
		r.Checks = append(r.Checks, deploy.Check{Name: CheckKubeconfig, Status: deploy.CheckOK,
			Detail: fmt.Sprintf("context %s, server %s, namespace %s", c.Context, c.Server, env.Namespace)})
		r.Checks = append(r.Checks, c.Doctor(ctx, env.Namespace, time.Now())...)
	}
	reg := p.RegistryOf(env)
	client, err := registry.New(registry.Options{Name: reg.Name, Registry: reg, UserAgent: o.UserAgent})
	if err != nil {
		r.Checks = append(r.Checks, deploy.Check{Name: CheckPull, Status: deploy.CheckFail, Detail: err.Error(),
			Hint: fmt.Sprintf("fix registries.%s.url in %s", reg.Name, config.ProjectFile)})
		return r, nil
	}
	r.Checks = append(r.Checks, pullCheck(ctx, p, env, client), pullSecretCheck(reg, client.Host()))
	return r, nil
}

// pullCheck asks env's registry, with one HEAD request, for the version at
// HEAD, as a deploy would.
func pullCheck(ctx context.Context, p *config.Project, env config.Environment, client *registry.Client) deploy.Check {
	info, err := Version(p)
	if err != nil {
		return deploy.Check{Name: CheckPull, Status: deploy.CheckWarn,
			Detail: fmt.Sprintf("not checked: working out the version at HEAD: %v", err)}
	}
	digest, err := client.Resolve(ctx, p.App, image.VersionTag(info.Version))
	where := registryName(client)
	switch {
	case err == nil:
		return deploy.Check{Name: CheckPull, Status: deploy.CheckOK,
			Detail: fmt.Sprintf("%s has %s:%s (%.19s)", where, p.App, info.Version, digest)}
	case errors.Is(err, registry.ErrNotFound):
		return deploy.Check{Name: CheckPull, Status: deploy.CheckWarn,
			Detail: fmt.Sprintf("%s has no %s:%s, the version at HEAD", where, p.App, info.Version),
			Hint:   fmt.Sprintf("push it with `slipway push %s`, or copy it from another registry with `slipway promote FROM %s`", env.Name, env.Name)}
	}
	detail, hint := splitHint(err)
	return deploy.Check{Name: CheckPull, Status: deploy.CheckFail, Detail: detail, Hint: hint}
}

// pullSecretCheck makes the image pull secret a deploy would, when the
// registry asks for one, to see that its variables are set.
func pullSecretCheck(reg config.Registry, host string) deploy.Check {
	if !reg.PullSecret {
		return deploy.Check{Name: CheckPullSecret, Status: deploy.CheckOK,
			Detail: fmt.Sprintf("none: registries.%s.pullSecret is false, so the cluster pulls with its own credentials", reg.Name)}
	}
	userVar, passVar := registry.EnvVars(reg.Name)
	if _, err := pullSecret(reg, host); err != nil {
		return deploy.Check{Name: CheckPullSecret, Status: deploy.CheckFail, Detail: err.Error(),
			Hint: fmt.Sprintf("set %s and %s to credentials the cluster may pull with", userVar, passVar)}
	}
	return deploy.Check{Name: CheckPullSecret, Status: deploy.CheckOK,
		Detail: fmt.Sprintf("made from %s and %s for %s", userVar, passVar, host)}
}

func registryName(c *registry.Client) string {
	if c.Name() == "" {
		return "registry " + c.Host()
	}
	return "registry " + c.Name() + " (" + c.Host() + ")"
}

// splitHint separates a registry error's next step, the part after its
// last "; ", from what went wrong.
func splitHint(err error) (detail, hint string) {
	msg := err.Error()
	var re *registry.Error
	if errors.As(err, &re) && re.Hint != "" {
		if d, ok := strings.CutSuffix(msg, "; "+re.Hint); ok {
			return d, re.Hint
		}
	}
	var ae *registry.AuthError
	if errors.As(err, &ae) {
		if i := strings.LastIndex(msg, "; "); i >= 0 {
			return msg[:i], msg[i+2:]
		}
	}
	return msg, ""
}
