// Package check runs after-rollout checks: HTTP requests to the new pods through the API server's pod proxy, and ci.yaml tasks.
package check
