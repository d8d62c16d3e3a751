package bootstrap

import (
	"fmt"
	"strings"
)

// renderFlux writes a GitRepository of the environment's branch and a
// Kustomization that applies its path, both named after the environment
// (or gitops.object) in flux-system (or the namespace asked for).
func renderFlux(in Input) ([]byte, error) {
	r, err := objectRef(in, FluxNamespace)
	if err != nil {
		return nil, err
	}
	u, err := EngineURL(in.GitOps.Repo)
	if err != nil {
		return nil, fmt.Errorf("rendering the Flux objects of %s: %w", in.Env, err)
	}
	src := GitRepository{meta: newMeta("source.toolkit.fluxcd.io/v1", "GitRepository", r), Spec: GitRepositorySpec{
		URL: u, Ref: GitRef{Branch: in.GitOps.Branch}, Interval: SourceInterval,
	}}
	// Every repository gets the secret: Slipway pushes with credentials,
	// and a server that wants them for a push mostly wants them to fetch.
	secret := secretName(r.Name)
	src.Spec.SecretRef = &LocalName{Name: secret}
	k := Kustomization{meta: newMeta("kustomize.toolkit.fluxcd.io/v1", "Kustomization", r), Spec: KustomizationSpec{
		Interval: KustomizationInterval, Timeout: KustomizationTimeout, Path: fluxPath(in.GitOps.Path),
		Prune: true, Wait: true, SourceRef: SourceRef{Kind: "GitRepository", Name: r.Name},
	}}
	return document(fluxComment(in, r, u, secret), src, k)
}

// fluxPath is a path as Flux writes it: "./envs/prod", "./" for the root.
func fluxPath(p string) string {
	if p = repoPath(p); p == "." {
		return "./"
	}
	return "./" + p
}

// secretName names the secret of the repository's credentials.
func secretName(name string) string { return name + "-git" }

// fluxComment says what the objects are, which secret they need and how
// kustomize-controller should run.
func fluxComment(in Input, r ref, u, secret string) []string {
	g := in.GitOps
	c := []string{
		fmt.Sprintf("Flux objects of the GitOps environment %s, from `slipway gitops bootstrap %s`:", in.Env, in.Env),
		fmt.Sprintf("GitRepository %s fetches branch %s of %s;", r, g.Branch, u),
		fmt.Sprintf("Kustomization %s applies its path %s (prune, wait, timeout %s).", r, fluxPath(g.Path), KustomizationTimeout),
		"Apply them with `kubectl apply -f`, or commit them where Flux syncs its own objects from.",
		"",
	}
	switch {
	case strings.HasPrefix(u, "https://"):
		c = append(c, fmt.Sprintf("Flux reads the repository with the secret %s in namespace %s; make it with a token", secret, r.Namespace),
			"that may read the repository (never commit it):",
			fmt.Sprintf("  flux create secret git %s -n %s --url=%s --username=x-access-token --password=$TOKEN", secret, r.Namespace, u),
			"For a public repository, drop spec.secretRef instead.")
	case strings.HasPrefix(u, "ssh://"):
		c = append(c, fmt.Sprintf("Flux reads the repository with the secret %s in namespace %s (identity, known_hosts);", secret, r.Namespace),
			"make it, and add the public key it prints to the repository as a read-only deploy key:",
			fmt.Sprintf("  flux create secret git %s -n %s --url=%s", secret, r.Namespace, u))
	default:
		c = append(c, fmt.Sprintf("Flux reads the repository with the secret %s in namespace %s, as Slipway pushes to it with credentials;", secret, r.Namespace),
			"plain http sends them in clear, so keep it to a network of your own, or use https (never commit the secret):",
			fmt.Sprintf("  flux create secret git %s -n %s --url=%s --username=USER --password=$PASSWORD", secret, r.Namespace, u),
			"For a repository that anyone may read, drop spec.secretRef instead.")
	}
	return append(c, "",
		"kustomize-controller should run with --feature-gates="+FluxGate+":",
		"with wait: true, Flux holds a revision whose pods crash-loop until the timeout, and a",
		"revert pushed meanwhile waits behind it; with the gate, the new revision cancels the",
		"health check at once. `slipway doctor "+in.Env+"` warns when it can tell the gate is off.")
}
