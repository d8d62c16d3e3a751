// Package flow runs Slipway's steps for a project, joining its configuration, git and the core packages.
package flow
