// Package testutil holds the helpers tests of several packages share; only _test.go files import it.
package testutil
