// Package bootstrap renders the objects a GitOps engine needs to apply an environment's path of its repository: Flux's GitRepository and Kustomization, or Argo CD's Application; a pure function of the environment's gitops section.
package bootstrap
