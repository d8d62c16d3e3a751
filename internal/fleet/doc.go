// Package fleet reads what Slipway runs across clusters, from list calls, into rows, filters and a self-contained page.
package fleet
