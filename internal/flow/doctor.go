package flow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/short"
	"github.com/slipwayhq/slipway/internal/sign"
)

// Names of the checks Doctor makes besides the cluster's.
const (
	CheckKubeconfig = "kubeconfig"
	CheckPull       = "pull"
	CheckPullSecret = "pull-secret"
	CheckSigningKey = "signing-key"
	CheckVerifyKey  = "verify-key"
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
// can be made, and that the keys slipway.yaml names load (keyChecks). For
// a GitOps environment it also checks its repository and branch
// (gitOpsRepoCheck) and its engine's object, access to it and, for Flux,
// kustomize-controller's feature gate (gitOpsEngineChecks).
// Problems are reported as checks, not as an error; the error is for an
// unknown environment only.
func (r *Runner) Doctor(ctx context.Context, envName string, o DoctorOptions) (DoctorReport, error) {
	p := r.Project
	env, err := p.Environment(envName)
	if err != nil {
		return DoctorReport{}, fmt.Errorf("checking environment: %w", err)
	}
	rep := DoctorReport{Env: env.Name}
	if env.GitOps != nil {
		rep.Checks = append(rep.Checks, r.gitOpsRepoCheck(ctx, env))
	}
	rep.Checks = append(rep.Checks, r.clusterChecks(ctx, env, o.Cluster)...)
	reg := p.RegistryOf(env)
	client, err := r.registry(reg, o.Options, false)
	if err != nil {
		rep.Checks = append(rep.Checks, deploy.Check{Name: CheckPull, Status: deploy.CheckFail, Detail: r.describe(err),
			Hint: fmt.Sprintf("fix registries.%s.url in %s", reg.Name, config.ProjectFile)})
	} else {
		rep.Checks = append(rep.Checks, r.pullCheck(ctx, env, client), pullSecretCheck(reg, client.Host(), env.GitOps != nil))
	}
	rep.Checks = append(rep.Checks, keyChecks(p, env, os.LookupEnv)...)
	for i, ch := range rep.Checks {
		if ch.Next.Kind != remedy.None {
			rep.Checks[i].Hint = r.hint(ch.Next)
		}
	}
	return rep, nil
}

// clusterChecks opens env's cluster and checks it (deploy.Cluster.Doctor),
// then, for a GitOps environment, its engine (gitOpsEngineChecks).
func (r *Runner) clusterChecks(ctx context.Context, env config.Environment, o deploy.ClusterOptions) []deploy.Check {
	c, err := r.cluster(env, o)
	if err != nil {
		ch := deploy.Check{Name: CheckKubeconfig, Status: deploy.CheckFail, Detail: r.describe(err)}
		if !errors.Is(err, deploy.ErrNoContext) { // that error says what to do itself
			ch.Next = remedy.Remedy{Kind: remedy.PointKubeconfig}
		}
		out := []deploy.Check{ch}
		if env.GitOps != nil {
			out = append(out, r.gitOpsEngineChecks(ctx, env, nil, false)...)
		}
		return out
	}
	out := []deploy.Check{{Name: CheckKubeconfig, Status: deploy.CheckOK,
		Detail: fmt.Sprintf("context %s, server %s, namespace %s", c.Context, c.Server, env.Namespace)}}
	out = append(out, c.Doctor(ctx, env.Namespace, time.Now())...)
	reached := slices.ContainsFunc(out, func(ch deploy.Check) bool {
		return ch.Name == deploy.CheckReachability && ch.Status == deploy.CheckOK
	})
	if ch, ok := r.checksAccess(ctx, env, c, reached); ok {
		out = append(out, ch)
	}
	if env.GitOps != nil {
		out = append(out, r.gitOpsEngineChecks(ctx, env, c, reached)...)
	}
	return out
}

// keyChecks checks the keys slipway.yaml names for env, never printing
// them: that signing.key reads and decrypts with the password from the
// environment, and that a .pub file beside it is its public half; that
// env's verify.key parses as a public key, and is the public half of
// signing.key when both are there (else this project's images would be
// refused at deploy). A key in a variable that is not set here, or no
// password variable, is a warning: CI may hold them.
func keyChecks(p *config.Project, env config.Environment, getenv sign.Getenv) []deploy.Check {
	var out []deploy.Check
	var signer sign.Signer
	if p.Signing != nil {
		var ch deploy.Check
		ch, signer = signingKeyCheck(p, getenv)
		out = append(out, ch)
	}
	if env.Verify != nil {
		out = append(out, verifyKeyCheck(p, env, signer, getenv))
	}
	return out
}

// signingKeyCheck checks signing.key, and returns its signer when it loads.
func signingKeyCheck(p *config.Project, getenv sign.Getenv) (deploy.Check, sign.Signer) {
	ch := deploy.Check{Name: CheckSigningKey, Status: deploy.CheckFail}
	ref := p.Signing.Key
	key, pw, err := sign.ReadPrivateKey(ref, p.Dir, getenv)
	var signer sign.Signer
	if err == nil {
		signer, err = sign.LoadSigner(key, pw)
	}
	switch {
	case err == nil:
		ch.Status, ch.Detail = deploy.CheckOK, fmt.Sprintf("signing.key %s loads with the password from $%s", ref, passwordVar(getenv))
		if sign.Unencrypted(key) {
			ch.Detail = fmt.Sprintf("signing.key %s loads; it is not encrypted, so keep the variable in a secret store", ref)
		}
		if pub, ok := besidePublic(p, ref); ok {
			if v, err := loadVerifier(pub, p.Dir, getenv); err != nil || !sign.SameKey(signer, v) {
				ch.Status, ch.Detail = deploy.CheckFail, fmt.Sprintf("%s beside signing.key %s is not its public half", pub, ref)
				ch.Hint = "replace it with the public key made with the private one"
				ch.Next = remedy.Remedy{Kind: remedy.NewKeyPair}
			} else {
				ch.Detail += ", and " + pub + " is its public half"
			}
		}
	case errors.Is(err, sign.ErrNoPassword):
		ch.Status, ch.Detail = deploy.CheckWarn, fmt.Sprintf("signing.key %s not checked: no password variable is set here", ref)
		ch.Hint = fmt.Sprintf("set %s or %s where push runs (an empty value means no password)", sign.PasswordEnv, sign.CosignPasswordEnv)
	case strings.HasPrefix(ref, sign.EnvPrefix) && errors.Is(err, sign.ErrKey) && key == nil:
		ch.Status, ch.Detail = deploy.CheckWarn, fmt.Sprintf("signing.key %s not checked: the variable is not set here", ref)
		ch.Hint = "set it where push runs, to the private key's PEM"
	default:
		ch.Detail = fmt.Sprintf("signing.key: %v", err)
		ch.Hint = fmt.Sprintf("check the key and %s or %s", sign.PasswordEnv, sign.CosignPasswordEnv)
		ch.Next = remedy.Remedy{Kind: remedy.MakeKeyPair, Hint: ch.Hint}
	}
	return ch, signer
}

// verifyKeyCheck checks env's verify.key, against signer when there is one.
func verifyKeyCheck(p *config.Project, env config.Environment, signer sign.Signer, getenv sign.Getenv) deploy.Check {
	at := "environments." + env.Name + ".verify.key"
	ch := deploy.Check{Name: CheckVerifyKey, Status: deploy.CheckOK}
	v, err := loadVerifier(env.Verify.Key, p.Dir, getenv)
	switch {
	case err != nil:
		ch.Status, ch.Detail = deploy.CheckFail, fmt.Sprintf("%s: %v", at, err)
		ch.Hint = "point it at a PEM public key, such as the cosign.pub made with the signing key"
	case signer != nil && !sign.SameKey(signer, v):
		ch.Status, ch.Detail = deploy.CheckFail, fmt.Sprintf("%s %s is not the public half of signing.key %s: the images this project signs would be refused at deploy", at, env.Verify.Key, p.Signing.Key)
		ch.Hint = "point it at the signing key's public key, or sign with the private half of " + env.Verify.Key
	case signer != nil:
		ch.Detail = fmt.Sprintf("%s %s is the public half of signing.key %s", at, env.Verify.Key, p.Signing.Key)
	default:
		ch.Detail = fmt.Sprintf("%s %s is a public key", at, env.Verify.Key)
	}
	return ch
}

// loadVerifier reads and parses the public key ref names.
func loadVerifier(ref, dir string, getenv sign.Getenv) (sign.Verifier, error) {
	b, err := sign.ReadKey(ref, dir, getenv)
	if err != nil {
		return nil, err
	}
	return sign.LoadVerifier(b)
}

// besidePublic returns PREFIX.pub when the signing key is a file
// PREFIX.key with PREFIX.pub beside it.
func besidePublic(p *config.Project, ref string) (string, bool) {
	prefix, ok := strings.CutSuffix(ref, ".key")
	if !ok || strings.HasPrefix(ref, sign.EnvPrefix) {
		return "", false
	}
	pub := prefix + ".pub"
	path := pub
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.Dir, path)
	}
	if _, err := os.Stat(path); err != nil {
		return "", false
	}
	return pub, true
}

// passwordVar names the variable sign.Password reads.
func passwordVar(getenv sign.Getenv) string {
	if _, ok := getenv(sign.PasswordEnv); ok {
		return sign.PasswordEnv
	}
	return sign.CosignPasswordEnv
}

// pullCheck asks env's registry, with one HEAD request, for the version at
// HEAD, as a deploy would.
func (r *Runner) pullCheck(ctx context.Context, env config.Environment, client *registry.Client) deploy.Check {
	p := r.Project
	info, err := r.Version()
	if err != nil {
		return deploy.Check{Name: CheckPull, Status: deploy.CheckWarn,
			Detail: fmt.Sprintf("not checked: working out the version at HEAD: %v", err)}
	}
	digest, err := client.Resolve(ctx, p.App, registry.VersionTag(info.Version))
	where := registryName(client)
	switch {
	case err == nil:
		return deploy.Check{Name: CheckPull, Status: deploy.CheckOK,
			Detail: fmt.Sprintf("%s has %s:%s (%s)", where, p.App, info.Version, short.Digest(digest.String()))}
	case errors.Is(err, registry.ErrNotFound):
		return deploy.Check{Name: CheckPull, Status: deploy.CheckWarn,
			Detail: fmt.Sprintf("%s has no %s:%s, the version at HEAD", where, p.App, info.Version),
			Next:   remedy.Remedy{Kind: remedy.PushOrPromote, Env: env.Name}}
	}
	detail, hint := r.splitHint(err)
	return deploy.Check{Name: CheckPull, Status: deploy.CheckFail, Detail: detail, Hint: hint}
}

// pullSecretCheck makes the image pull secret a deploy would, when the
// registry asks for one, to see that its variables are set. A GitOps
// environment refuses one: it would commit the registry's password.
func pullSecretCheck(reg config.Registry, host string, gitOps bool) deploy.Check {
	if !reg.PullSecret {
		return deploy.Check{Name: CheckPullSecret, Status: deploy.CheckOK,
			Detail: fmt.Sprintf("none: registries.%s.pullSecret is false, so the cluster pulls with its own credentials", reg.Name)}
	}
	if gitOps {
		return deploy.Check{Name: CheckPullSecret, Status: deploy.CheckFail,
			Detail: fmt.Sprintf("registries.%s.pullSecret is true: a GitOps deploy refuses it, since it would commit the registry's password to the environment repository", reg.Name),
			Hint:   fmt.Sprintf("create the pull secret in the cluster yourself (or with your secrets tooling) and set registries.%s.pullSecret: false", reg.Name)}
	}
	userVar, passVar := config.RegistryEnvVars(reg.Name)
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

// splitHint separates a registry error's next step (its Hint, or the
// wording of its remedy) from what went wrong.
func (r *Runner) splitHint(err error) (detail, hint string) {
	msg := err.Error()
	var re *registry.Error
	if errors.As(err, &re) && re.Hint != "" {
		if d, ok := strings.CutSuffix(msg, "; "+re.Hint); ok {
			return d, re.Hint
		}
	}
	if next, ok := remedy.Of(err); ok {
		if h, ok := strings.CutPrefix(r.make.Words(next), "; "); ok {
			return msg, h
		}
	}
	return r.describe(err), ""
}
