// Package testenv starts real parts on 127.0.0.1 for end-to-end tests: docker-registry processes, control planes, a real node and Flux's controllers.
package testenv
