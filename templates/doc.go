// Package templates holds the files Slipway generates from: project scaffolds, manifests and pipelines.
package templates
