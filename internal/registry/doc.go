// Package registry builds the go-containerregistry options Slipway uses to reach a registry.
package registry
