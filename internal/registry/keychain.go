package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/slipwayhq/slipway/internal/config"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// source says where credentials for a host came from, without secrets.
type source struct {
	desc      string
	anonymous bool
}

// keychain looks for credentials first in the SLIPWAY_REGISTRY_<NAME>_*
// variables (for its own host only), then in a fallback keychain, and
// remembers which source answered for each host.
type keychain struct {
	name     string
	host     string
	fallback authn.Keychain
	custom   bool // fallback was given by the caller

	mu   sync.Mutex
	last map[string]source
}

var (
	_ authn.Keychain        = (*keychain)(nil)
	_ authn.ContextKeychain = (*keychain)(nil)
)

func newKeychain(regName, host string, fallback authn.Keychain) *keychain {
	k := &keychain{name: regName, host: host, fallback: fallback, custom: fallback != nil, last: map[string]source{}}
	if k.fallback == nil {
		k.fallback = authn.DefaultKeychain
	}
	return k
}

// Resolve implements authn.Keychain.
func (k *keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

// ResolveContext implements authn.ContextKeychain.
func (k *keychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	host := r.RegistryStr()
	auth, env, err := k.fromEnv(host)
	if err != nil {
		return nil, err
	}
	if auth != nil {
		k.remember(host, source{desc: env})
		return auth, nil
	}
	auth, err = authn.Resolve(ctx, k.fallback, r)
	if err != nil {
		return nil, fmt.Errorf("looking up credentials for %s: %w", host, err)
	}
	anonymous := auth == authn.Anonymous
	s := source{desc: k.describeFallback(host, anonymous), anonymous: anonymous}
	if env != "" {
		s.desc = env + ", then " + s.desc
	}
	k.remember(host, s)
	return auth, nil
}

// fromEnv returns basic credentials from the environment when they are set
// for host. desc names the variables, with "(not set)" when they are not.
func (k *keychain) fromEnv(host string) (auth authn.Authenticator, desc string, err error) {
	if k.name == "" || host != k.host {
		return nil, "", nil
	}
	uVar, pVar := config.RegistryEnvVars(k.name)
	vars := uVar + "/_PASSWORD"
	user, pass := os.Getenv(uVar), os.Getenv(pVar)
	switch {
	case user == "" && pass == "":
		return nil, vars + " (not set)", nil
	case user == "":
		return nil, "", &AuthError{Target: Target{Host: host, Name: k.name, Tried: vars}, Reason: pVar + " is set but " + uVar + " is not"}
	case pass == "":
		return nil, "", &AuthError{Target: Target{Host: host, Name: k.name, Tried: vars}, Reason: uVar + " is set but " + pVar + " is not"}
	}
	return &authn.Basic{Username: user, Password: pass}, vars, nil
}

func (k *keychain) remember(host string, s source) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.last[host] = s
}

// source returns what the last lookup for host found, or describes what a
// lookup would try when none happened yet.
func (k *keychain) source(host string) source {
	k.mu.Lock()
	s, ok := k.last[host]
	k.mu.Unlock()
	if ok {
		return s
	}
	_, env, err := k.fromEnv(host)
	if err != nil {
		uVar, _ := config.RegistryEnvVars(k.name)
		return source{desc: uVar + "/_PASSWORD (incomplete)", anonymous: true}
	}
	if env != "" && !strings.HasSuffix(env, "(not set)") {
		return source{desc: env}
	}
	d := k.describeFallback(host, true)
	if env != "" {
		d = env + ", then " + d
	}
	return source{desc: d, anonymous: true}
}

func (k *keychain) describeFallback(host string, anonymous bool) string {
	if k.custom {
		if anonymous {
			return "the configured keychain (no credentials)"
		}
		return "the configured keychain"
	}
	return describeDockerConfig(host, anonymous)
}

// describeDockerConfig says which Docker-style config file
// authn.DefaultKeychain reads and what it holds for host: an auth entry, a
// credential helper or nothing. It never reads secrets.
func describeDockerConfig(host string, anonymous bool) string {
	path := dockerConfigPath()
	if path == "" {
		return "Docker config (none found; docker login creates ~/.docker/config.json)"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("Docker config %s (unreadable)", path)
	}
	var cf struct {
		Auths       map[string]json.RawMessage `json:"auths"`
		CredHelpers map[string]string          `json:"credHelpers"`
		CredsStore  string                     `json:"credsStore"`
	}
	if err := json.Unmarshal(b, &cf); err != nil {
		return fmt.Sprintf("Docker config %s (not valid JSON)", path)
	}
	keys := configKeys(host)
	for h, helper := range cf.CredHelpers {
		if matchesHost(h, keys) {
			return withOutcome(fmt.Sprintf("Docker config %s, credential helper docker-credential-%s", path, helper), anonymous)
		}
	}
	if cf.CredsStore != "" {
		return withOutcome(fmt.Sprintf("Docker config %s, credential store docker-credential-%s", path, cf.CredsStore), anonymous)
	}
	for h := range cf.Auths {
		if matchesHost(h, keys) {
			return withOutcome(fmt.Sprintf("Docker config %s, auth entry for %s", path, h), anonymous)
		}
	}
	return fmt.Sprintf("Docker config %s (no entry for %s)", path, host)
}

func withOutcome(desc string, anonymous bool) string {
	if anonymous {
		return desc + " (no credentials)"
	}
	return desc
}

// dockerConfigPath mirrors where authn.DefaultKeychain looks for a config.
func dockerConfigPath() string {
	home, _ := os.UserHomeDir()
	found := home != "" && isFile(filepath.Join(home, ".docker", "config.json"))
	if !found && os.Getenv("DOCKER_CONFIG") != "" {
		found = isFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"))
	}
	if found {
		if d := os.Getenv("DOCKER_CONFIG"); d != "" {
			return filepath.Join(d, "config.json")
		}
		return filepath.Join(home, ".docker", "config.json")
	}
	if p := os.Getenv("REGISTRY_AUTH_FILE"); p != "" && isFile(filepath.Clean(p)) {
		return filepath.Clean(p)
	}
	configDir := os.Getenv("XDG_CONFIG_HOME")
	if configDir == "" && home != "" {
		configDir = filepath.Join(home, ".config")
	}
	podman := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "containers", "auth.json")
	if (os.Getenv("XDG_RUNTIME_DIR") == "" || !isFile(podman)) && configDir != "" {
		podman = filepath.Join(configDir, "containers", "auth.json")
	}
	if isFile(podman) {
		return podman
	}
	return ""
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// configKeys are the keys a Docker config may use for host.
func configKeys(host string) []string {
	if host == name.DefaultRegistry {
		return []string{host, "docker.io", "registry-1.docker.io"}
	}
	return []string{host}
}

// matchesHost reports whether a Docker config key such as
// https://host/v1/ names one of hosts.
func matchesHost(key string, hosts []string) bool {
	k := key
	if i := strings.Index(k, "://"); i >= 0 {
		k = k[i+3:]
	}
	k, _, _ = strings.Cut(k, "/")
	for _, h := range hosts {
		if strings.EqualFold(k, h) {
			return true
		}
	}
	return false
}
