// Package gitremote is how Slipway talks to git remotes: credentials (token variables, SSH agent, credential helper), bounded HTTP and ssh transports for go-git, and errors that never show a secret.
package gitremote
