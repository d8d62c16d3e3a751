// Package examples holds sample Slipway projects; its test builds every one
// of them, and pushes them to local registries in the end-to-end suite.
package examples
