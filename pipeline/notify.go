package pipeline

import (
	"slices"
	"sort"

	"github.com/slipwayhq/slipway/internal/config"
)

// githubTokenVar is the variable a github notify target reads by default:
// on GitHub Actions the workflow's own token fills it.
const githubTokenVar = "GITHUB_TOKEN"

// notifyCreds returns the secrets slipway.yaml's notify targets read
// (their env://NAME references), each for the deploy steps of the
// environments whose verdicts the target is told, named after its
// variable. Those that ci.yaml's credentials or env already fill are left
// to them.
func notifyCreds(proj *config.Project, have []credential, env []envVar) []credential {
	filled := filledVars(have, env)
	var out []credential
	byVar := map[string]int{}
	for _, n := range proj.Notify {
		envs := n.Environments
		if len(envs) == 0 {
			envs = proj.Environments.Names()
		}
		for _, name := range n.Secrets() {
			if filled[name] || !envName.MatchString(name) {
				continue
			}
			i, ok := byVar[name]
			if !ok {
				i, byVar[name] = len(out), len(out)
				out = append(out, credential{purpose: "notify", id: name, kind: credNotify, vars: []string{name},
					about: "a secret of notify target " + n.Label() + " (slipway.yaml notify)"})
			}
			for _, e := range envs {
				if !slices.Contains(out[i].envs, e) {
					out[i].envs = append(out[i].envs, e)
				}
			}
		}
	}
	for i := range out {
		sort.Strings(out[i].envs)
	}
	return out
}

// ghWorkflowToken reports whether GitHub fills credential c with the
// workflow's own token rather than a repository secret: a github notify
// target's default GITHUB_TOKEN, which the deploy jobs' permissions
// (statuses: write) let set commit statuses.
func ghWorkflowToken(c credential) bool {
	return c.kind == credNotify && len(c.vars) == 1 && c.vars[0] == githubTokenVar
}
