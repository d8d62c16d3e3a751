// Package image builds reproducible container images into an OCI layout without a daemon, and pushes them.
package image
