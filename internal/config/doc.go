// Package config loads, validates and describes slipway.yaml and ci.yaml.
package config
