// Package testenv starts real docker-registry processes on 127.0.0.1 for end-to-end tests.
package testenv
