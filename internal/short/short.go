package short

import "strings"

// Hex is how many hex digits of a digest Digest keeps: as many as Docker's
// short image IDs, enough to tell an app's images apart at a glance.
const Hex = 12

// Digest is the digest d as messages and tables write it: its algorithm
// and the first Hex hex digits, "sha256:0123456789ab". Anything else (no
// ALGO:HEX, HEX no longer than Hex, a reference with / or @ before the
// colon) is returned as it is, so that a caller may pass what it has.
func Digest(d string) string {
	algo, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) <= Hex || strings.ContainsAny(algo, "/@") {
		return d
	}
	return algo + ":" + hex[:Hex]
}

// Commit is the git commit c (a full hex hash) as messages write it: its
// first Hex digits; a shorter c is returned as it is.
func Commit(c string) string {
	if len(c) <= Hex {
		return c
	}
	return c[:Hex]
}
