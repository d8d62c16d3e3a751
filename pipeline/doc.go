// Package pipeline turns ci.yaml into the configuration of a CI system: Jenkins Job DSL and Jenkinsfile, Drone, GitHub Actions and GitLab CI.
package pipeline
