// Package short writes digests the one short way Slipway shows them.
package short
