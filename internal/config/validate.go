package config

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

var (
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	hostname   = regexp.MustCompile(`^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	platform   = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
	imageRef   = regexp.MustCompile(`^[a-z0-9]+([._:/-][a-zA-Z0-9_]+)*(@sha256:[a-f0-9]{64})?$`)
	registryRe = regexp.MustCompile(`^[a-zA-Z0-9.-]+(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)
	taskName   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	preID      = regexp.MustCompile(`^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$`)
	tagPrefix  = regexp.MustCompile(`^[A-Za-z0-9._/-]*$`)
)

// maxAppLen leaves room for the "-canary" suffix within a DNS label.
const maxAppLen = 63 - len("-canary")

// Validate checks the meaning of a decoded project and returns every problem.
func (p *Project) Validate() error {
	v := &validator{src: p.Source}
	if p.APIVersion != APIVersion {
		v.add("apiVersion", "%s", notValid(p.APIVersion, []string{APIVersion}))
	}
	if !dnsLabel.MatchString(p.App) || len(p.App) > maxAppLen {
		v.add("app", "%q is not a valid app name; use lower-case letters, digits and '-', starting and ending with a letter or digit, at most %d characters", p.App, maxAppLen)
	}
	v.release(p.Release)
	v.image(p.Image)
	regNames := p.Registries.Names()
	for _, r := range p.Registries {
		v.registry(r)
	}
	v.names(p)
	if len(p.Environments) > 0 && len(p.Registries) == 0 {
		v.add("registries", "environments pull from a registry, but none is defined; add e.g. registries: {dev: registry.example.com/team}")
	}
	envNames := p.Environments.Names()
	for _, e := range p.Environments {
		v.environment(p, e, regNames, envNames)
	}
	v.cycles(p.Environments)
	v.supplyChain(p)
	v.gitOps(p)
	v.checks(p)
	v.analyses(p)
	v.notify(p)
	if p.Deploy.Port < 1 || p.Deploy.Port > 65535 {
		v.add("deploy.port", "port must be 1 to 65535, got %d", p.Deploy.Port)
	}
	v.deployTimes(p.Deploy)
	v.paths(p)
	return v.probs.orNil()
}

// deployTimes checks what the API server checks of the Deployment's times,
// in the whole seconds render writes: its progressDeadlineSeconds
// (deploy.timeout, at least 1) must exceed its minReadySeconds
// (deploy.stability), or every deploy is refused.
func (v *validator) deployTimes(d Deploy) {
	stability := int64(d.Stability.Seconds())
	deadline := max(int64(d.Timeout.Seconds()), 1)
	if stability < deadline {
		return
	}
	at := "deploy.stability"
	if !v.src.Has(at) {
		at = "deploy.timeout" // the default stability: the timeout is what was written
	}
	v.add(at, "deploy.stability (%s) must be shorter than deploy.timeout (%s): a rollout's deadline must leave time for a new pod to stay ready that long; make stability at most %ds, or timeout more than %ds",
		d.Stability.Duration, d.Timeout.Duration, deadline-1, stability)
}

// environment checks environment e of p; regNames and envNames are the
// registries and environments p defines.
func (v *validator) environment(p *Project, e Environment, regNames, envNames []string) {
	at := "environments." + e.Name
	if !dnsLabel.MatchString(e.Name) {
		v.add(at, "environment name %q must be a DNS label (lower-case letters, digits, '-')", e.Name)
	}
	if _, ok := p.Registries.Get(e.Registry); !ok && e.Registry != "" {
		v.add(at+".registry", "%s", unknown("registry", e.Registry, regNames))
	}
	if v.src.Has(at+".namespace") && !dnsLabel.MatchString(e.Namespace) {
		v.add(at+".namespace", "%q is not a valid namespace (a DNS label)", e.Namespace)
	}
	if e.Replicas != nil && *e.Replicas < 0 {
		v.add(at+".replicas", "replicas must be 0 or more, got %d", *e.Replicas)
	}
	if e.Ingress != nil && !hostname.MatchString(e.Ingress.Host) {
		v.add(at+".ingress.host", "%q is not a valid host name", e.Ingress.Host)
	}
	if e.Requires != nil {
		switch {
		case e.Requires.Env == e.Name:
			v.add(at+".requires", "an environment cannot require itself")
		case !slices.Contains(envNames, e.Requires.Env):
			v.add(at+".requires", "%s", unknown("environment", e.Requires.Env, without(envNames, e.Name)))
		}
	}
	if e.CanaryOf != "" {
		switch {
		case e.CanaryOf == e.Name:
			v.add(at+".canaryOf", "an environment cannot be a canary of itself")
		case !slices.Contains(envNames, e.CanaryOf):
			v.add(at+".canaryOf", "%s", unknown("environment", e.CanaryOf, without(envNames, e.Name)))
		}
	}
	if e.Canary != nil {
		if e.CanaryOf == "" {
			v.add(at+".canary", "canary settings need canaryOf: ENV")
		}
		if e.Canary.Weight < 0 || e.Canary.Weight > 100 {
			v.add(at+".canary.weight", "weight is a percentage from 0 to 100, got %d", e.Canary.Weight)
		}
	}
}

// validator collects problems located through a Source.
type validator struct {
	src   *Source
	probs Problems
}

func (v *validator) add(path, format string, args ...any) {
	if !v.probs.full() {
		v.probs.push(v.src.problem(path, format, args...))
	}
}

func (v *validator) release(r Release) {
	if !tagPrefix.MatchString(r.TagPrefix) || strings.Contains(r.TagPrefix, "..") {
		v.add("release.tagPrefix", "%q cannot start a git tag name; use letters, digits, '.', '_', '-' and '/'", r.TagPrefix)
	}
	if !preID.MatchString(r.SnapshotSuffix) {
		v.add("release.snapshotSuffix", "%q is not a semver pre-release; use letters, digits, '-' and '.'", r.SnapshotSuffix)
	}
	if _, err := semver.StrictNewVersion(r.Initial); err != nil {
		v.add("release.initial", "%q is not a version X.Y.Z", r.Initial)
	}
	for i, p := range r.Paths {
		if path.IsAbs(p) || strings.HasPrefix(path.Clean(p), "..") {
			v.add(fmt.Sprintf("release.paths[%d]", i), "%q must be relative to the repository root and inside it", p)
		}
	}
}

func (v *validator) image(im Image) {
	if im.Base != "scratch" && !imageRef.MatchString(im.Base) {
		v.add("image.base", "%q is not an image reference; use scratch or e.g. gcr.io/distroless/static:nonroot", im.Base)
	}
	seen := map[string]bool{}
	for i, p := range im.Platforms {
		at := fmt.Sprintf("image.platforms[%d]", i)
		if !platform.MatchString(p) {
			v.add(at, "%q is not a platform; write os/arch[/variant], e.g. linux/amd64 or linux/arm64", p)
		}
		if seen[p] {
			v.add(at, "platform %q is listed twice", p)
		}
		seen[p] = true
	}
	if im.Dockerfile != "" && len(im.Layers) > 0 {
		v.add("image.dockerfile", "use either dockerfile or layers, not both")
	}
	for i, l := range im.Layers {
		at := fmt.Sprintf("image.layers[%d]", i)
		v.from(at+".from", l.From, im.Platforms)
		if !path.IsAbs(l.To) && l.To != "" {
			v.add(at+".to", "%q must be an absolute path in the image, e.g. /app/%s", l.To, path.Base(l.To))
		}
		if l.Mode != "" {
			if m, err := strconv.ParseUint(l.Mode, 8, 32); err != nil || m > 0o7777 {
				v.add(at+".mode", "%q is not an octal file mode such as \"0755\" (quote it)", l.Mode)
			}
		}
	}
	for name := range im.Env {
		if !envVarName.MatchString(name) {
			v.add("image.env."+name, "%q is not an environment variable name; use letters, digits and '_', not starting with a digit", name)
		}
	}
	for i, port := range im.Ports {
		if port < 1 || port > 65535 {
			v.add(fmt.Sprintf("image.ports[%d]", i), "port must be 1 to 65535, got %d", port)
		}
	}
}

// from checks a layer's source as text for every platform: only the
// platform placeholders, and a relative path inside the project that names
// neither .git nor .slipway.
func (v *validator) from(at, from string, platforms []string) {
	if from == "" {
		return // a missing required field, reported by the decoder
	}
	for _, plat := range platforms {
		os, arch, variant := splitPlatform(plat)
		expanded, err := ExpandFrom(from, os, arch, variant)
		if err == nil {
			_, err = CheckFrom(expanded)
		}
		if err != nil {
			v.add(at, "%s", sourceProblem(from, expanded, err))
			return
		}
	}
}

func (v *validator) registry(r Registry) {
	at := "registries." + r.Name
	switch {
	case r.URL == "":
		v.add(at+".url", "missing the registry address, e.g. registry.example.com/team")
	case strings.Contains(r.URL, "://"):
		v.add(at+".url", "write %q without a scheme; for plain HTTP add insecure: true", r.URL)
	case strings.Contains(r.URL, "@"):
		user, _ := RegistryEnvVars(r.Name)
		v.add(at+".url", "the address must not hold credentials; use `docker login` or %s/_PASSWORD", user)
	case !registryRe.MatchString(r.URL):
		v.add(at+".url", "%q is not a registry address; write HOST[:PORT][/path], e.g. registry.example.com/team", r.URL)
	}
}

// cycles reports the environments whose requires chain loops back to them,
// and canaries of canaries (which also covers canaryOf loops). Linear in the
// number of environments: each is walked once.
func (v *validator) cycles(envs Environments) {
	next := map[string]string{}
	byName := make(map[string]Environment, len(envs))
	for _, e := range envs {
		byName[e.Name] = e
		if e.Requires != nil && e.Requires.Env != e.Name {
			next[e.Name] = e.Requires.Env
		}
	}
	const (
		unseen = iota
		onWalk
		done
	)
	state := map[string]int{}
	for _, e := range envs {
		var walk []string
		cur, loops := e.Name, false
		for {
			if s := state[cur]; s != unseen {
				loops = s == onWalk
				break
			}
			if _, ok := byName[cur]; !ok {
				break
			}
			state[cur] = onWalk
			walk = append(walk, cur)
			n, ok := next[cur]
			if !ok {
				break
			}
			cur = n
		}
		if loops {
			loop := walk[slices.Index(walk, cur):]
			for i, name := range loop {
				v.add("environments."+name+".requires", "requirements loop: %s", loopText(loop, i))
			}
		}
		for _, name := range walk {
			state[name] = done
		}
	}
	for _, e := range envs {
		if e.CanaryOf == "" || e.CanaryOf == e.Name {
			continue
		}
		if main, ok := byName[e.CanaryOf]; ok && main.CanaryOf != "" {
			v.add("environments."+e.Name+".canaryOf", "%q is itself a canary (of %q); a canary runs beside a main environment, so name that one", main.Name, main.CanaryOf)
		}
	}
}

// loopText writes the loop of names starting at loop[start] and back to it,
// eliding the middle of a long one.
func loopText(loop []string, start int) string {
	const most = 8
	var b strings.Builder
	for j := 0; j < len(loop) && j < most; j++ {
		b.WriteString(clip(loop[(start+j)%len(loop)], maxQuoted))
		b.WriteString(" -> ")
	}
	if len(loop) > most {
		fmt.Fprintf(&b, "... (%d more) -> ", len(loop)-most)
	}
	b.WriteString(clip(loop[start], maxQuoted))
	return b.String()
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// RegistryEnvPrefix starts the names of the variables that hold a
// registry's credentials, SLIPWAY_REGISTRY_<NAME>_USERNAME and _PASSWORD:
// Slipway reads them and generated CI fills them.
const RegistryEnvPrefix = "SLIPWAY_REGISTRY_"

// RegistryEnvVars returns the names of the variables that hold the
// username and password for the registry called name in slipway.yaml:
// SLIPWAY_REGISTRY_<NAME>_USERNAME and _PASSWORD, NAME as EnvName writes
// it.
func RegistryEnvVars(name string) (username, password string) {
	p := RegistryEnvPrefix + EnvName(name)
	return p + "_USERNAME", p + "_PASSWORD"
}

// EnvName turns a registry name into the part of SLIPWAY_REGISTRY_<NAME>_*
// variable names that stands for it: upper-cased, with every character
// other than A-Z and 0-9 turned into _.
func EnvName(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}
