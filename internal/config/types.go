package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/remedy"
)

// Duration is a time.Duration written as "15s", "5m" or "1h30m".
type Duration struct{ time.Duration }

// String returns the duration in Go's notation, or "" when zero.
func (d Duration) String() string {
	if d.Duration == 0 {
		return ""
	}
	return d.Duration.String()
}

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Registries are the named registries of slipway.yaml, in file order.
type Registries []Registry

// Get returns the registry with that name.
func (rs Registries) Get(name string) (Registry, bool) {
	for _, r := range rs {
		if r.Name == name {
			return r, true
		}
	}
	return Registry{}, false
}

// Names lists the registry names in file order.
func (rs Registries) Names() []string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	return names
}

// Environments are the named environments of slipway.yaml, in file order.
type Environments []Environment

// Get returns the environment with that name.
func (es Environments) Get(name string) (Environment, bool) {
	for _, e := range es {
		if e.Name == name {
			return e, true
		}
	}
	return Environment{}, false
}

// Names lists the environment names in file order.
func (es Environments) Names() []string {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name
	}
	return names
}

// NameError reports a name (of an environment, a registry, a task) that
// the configuration does not define. It matches ErrInvalid.
type NameError struct {
	Kind  string // "environment", "registry", ...
	Name  string
	Valid []string
	Hint  string // what else may be named, if anything
	// Next is where the valid names are listed, for the command line to
	// word after Hint; its Kind may be remedy.None.
	Next remedy.Remedy
}

// Remedy returns e.Next.
func (e *NameError) Remedy() remedy.Remedy { return e.Next }

func (e *NameError) Error() string {
	msg := unknown(e.Kind, e.Name, e.Valid)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *NameError) Is(target error) bool { return target == ErrInvalid }

// Environment returns the named environment or a *NameError.
func (p *Project) Environment(name string) (Environment, error) {
	if e, ok := p.Environments.Get(name); ok {
		return e, nil
	}
	return Environment{}, &NameError{Kind: "environment", Name: name, Valid: p.Environments.Names(), Hint: "environments are defined in " + ProjectFile}
}

// RegistryOf returns the registry an environment pulls from.
func (p *Project) RegistryOf(env Environment) Registry {
	r, _ := p.Registries.Get(env.Registry)
	return r
}

// ReplicaCount returns the desired replicas, defaulting to 1.
func (e Environment) ReplicaCount() int {
	if e.Replicas == nil {
		return 1
	}
	return *e.Replicas
}

// ResolveRegistry returns the registry called name, or the registry of the
// environment called name.
func (p *Project) ResolveRegistry(name string) (Registry, error) {
	if r, ok := p.Registries.Get(name); ok {
		return r, nil
	}
	if env, ok := p.Environments.Get(name); ok {
		return p.RegistryOf(env), nil
	}
	valid := p.Registries.Names()
	for _, e := range p.Environments.Names() {
		if !slices.Contains(valid, e) {
			valid = append(valid, e)
		}
	}
	return Registry{}, &NameError{Kind: "registry", Name: name, Valid: valid, Hint: "name a registry or an environment of " + ProjectFile}
}

// Surge is how many pods a rollout may start above the replica count at
// once (the Deployment's maxSurge): a count such as "2", or a percentage
// of the replicas such as "25%" or "100%". Kubernetes rounds a percentage
// up, so it is always at least one pod.
type Surge string

// DefaultSurge is Kubernetes' own default.
const DefaultSurge Surge = "25%"

// Bounds of a Surge.
const (
	maxSurgeCount   = 1000
	maxSurgePercent = 100
)

// surgeProblem says what is wrong with s, "" when nothing; a value that
// is no number is for the caller to quote.
func surgeProblem(s string) string {
	num, pct := strings.CutSuffix(s, "%")
	n, err := strconv.Atoi(num)
	switch {
	case err != nil || num != strconv.Itoa(n):
		return surgeExpected
	case pct && (n < 1 || n > maxSurgePercent):
		return fmt.Sprintf("a percentage must be 1%% to %d%%, got %s", maxSurgePercent, s)
	case !pct && (n < 1 || n > maxSurgeCount):
		return fmt.Sprintf("a number of pods must be 1 to %d, got %s", maxSurgeCount, s)
	}
	return ""
}

// surgeExpected says what a Surge may be.
const surgeExpected = "expected a number of pods such as 2, or a percentage of the replicas such as 25% or 100%"
