package bootstrap

import (
	"fmt"
	"strings"
)

// renderArgoCD writes an Application that applies the environment's path
// of its branch to Argo CD's own cluster, named after the environment (or
// gitops.object) in argocd (or the namespace asked for).
func renderArgoCD(in Input) ([]byte, error) {
	r, err := objectRef(in, ArgoCDNamespace)
	if err != nil {
		return nil, err
	}
	u, err := EngineURL(in.GitOps.Repo)
	if err != nil {
		return nil, fmt.Errorf("rendering the Argo CD Application of %s: %w", in.Env, err)
	}
	g := in.GitOps
	app := Application{meta: newMeta("argoproj.io/v1alpha1", "Application", r), Spec: ApplicationSpec{
		Project:     "default",
		Source:      AppSource{RepoURL: u, TargetRevision: g.Branch, Path: repoPath(g.Path)},
		Destination: Destination{Server: InClusterServer, Namespace: in.Namespace},
		SyncPolicy:  SyncPolicy{Automated: Automated{Prune: true, SelfHeal: true}},
	}}
	c := []string{
		fmt.Sprintf("Argo CD Application of the GitOps environment %s, from `slipway gitops bootstrap %s`:", in.Env, in.Env),
		fmt.Sprintf("Application %s applies path %s of branch %s of %s", r, repoPath(g.Path), g.Branch, u),
		fmt.Sprintf("to namespace %s of Argo CD's own cluster, syncing automatically (prune, selfHeal).", in.Namespace),
		"Apply it with `kubectl apply -f`, or commit it where Argo CD syncs its own Applications from.",
		"",
	}
	return document(append(c, argoCDCredentials(u)...), app)
}

// argoCDCredentials says how Argo CD gets the credentials of u.
func argoCDCredentials(u string) []string {
	switch {
	case strings.HasPrefix(u, "https://"):
		return []string{"Argo CD reads a private repository with a repository secret; make it with a token",
			"that may read the repository (never commit it):",
			"  argocd repo add " + u + " --username x-access-token --password $TOKEN"}
	case strings.HasPrefix(u, "ssh://"):
		return []string{"Argo CD reads the repository with a repository secret holding a key; add the key's",
			"public half to the repository as a read-only deploy key (never commit the private one):",
			"  argocd repo add " + u + " --ssh-private-key-path KEY"}
	}
	return []string{"The repository is plain http: Argo CD reads it without credentials."}
}
