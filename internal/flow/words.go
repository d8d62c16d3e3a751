package flow

import "github.com/slipwayhq/slipway/internal/registry"

// RegistryEnvVars are the variables that hold the username and password
// for the registry called name in slipway.yaml, for the words of a next
// step that logs in to it.
func RegistryEnvVars(name string) (username, password string) { return registry.EnvVars(name) }
