// Package sign makes cosign-compatible key pairs, signs pushed images with
// them and verifies those signatures, offline: no transparency log, no
// keyless signing.
package sign
