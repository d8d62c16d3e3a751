// Package release computes semantic versions from git tags and commits and creates and pushes release tags.
package release
