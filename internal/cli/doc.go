// Package cli is the slipway command line: flags in, one core call, results out, exit codes.
package cli
