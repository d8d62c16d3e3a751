package pipeline

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/slipwayhq/slipway/internal/config"
)

// gitopsEnv is what generated CI knows of a GitOps environment: how its
// deploy step reaches the environment repository, and whether it waits
// for the engine's verdict.
type gitopsEnv struct {
	engine string
	ssh    bool // the repository is reached over ssh, with the SSH agent
	noWait bool // the engine gives no verdict: the deploy only commits
}

// verdictEngines are the engines whose verdict `slipway deploy` waits
// for; with any other (none) it refuses to deploy without --no-wait.
var verdictEngines = map[string]bool{"flux": true, "argocd": true}

// gitopsEnvs lists the GitOps environments of proj by name.
func gitopsEnvs(proj *config.Project) map[string]gitopsEnv {
	out := map[string]gitopsEnv{}
	for _, e := range proj.Environments {
		if g := e.GitOps; g != nil {
			engine := g.Engine
			if !verdictEngines[engine] {
				engine = config.DefaultGitOpsEngine
			}
			out[e.Name] = gitopsEnv{engine: engine, ssh: repoTransport(g.Repo) == "ssh", noWait: !verdictEngines[engine]}
		}
	}
	return out
}

// scpLike matches git's scp-like syntax, [user@]host:path, which is ssh.
var scpLike = regexp.MustCompile(`^([^@/:]+@)?[^@/:]+:`)

// repoTransport says how Slipway reaches an environment repository, as
// gitremote does: "http" for http(s) URLs, whose credentials come from
// SLIPWAY_GIT_TOKEN; "ssh" for ssh:// and scp-like URLs, which use the
// SSH agent; "" for file:// URLs and local paths, which need nothing.
func repoTransport(raw string) string {
	if scheme, _, ok := strings.Cut(raw, "://"); ok {
		switch strings.ToLower(scheme) {
		case "http", "https":
			return "http"
		case "ssh":
			return "ssh"
		}
		return ""
	}
	if scpLike.MatchString(raw) {
		return "ssh"
	}
	return ""
}

// gitopsTokenID is the secret holding the token that deploy steps of
// environment env push to its repository with, named like the signing
// keys' secrets: after the variable it stands for.
func gitopsTokenID(env string) string {
	return upperName("SLIPWAY_GITOPS_" + env + "_TOKEN")
}

// gitopsSSHKeyID is the Jenkins credential (SSH username with private
// key) whose key the deploy steps of environment env push with over ssh.
func gitopsSSHKeyID(env string) string {
	return upperName("SLIPWAY_GITOPS_" + env + "_SSH_KEY")
}

// gitopsCreds returns the credentials the deploy steps of proj's GitOps
// environments push with: for an http(s) repository a secret text
// SLIPWAY_GITOPS_ENV_TOKEN, which the deploy ENV steps get as
// SLIPWAY_GIT_TOKEN. An ssh repository takes no secret (see gitopsNotes),
// nor a local one. When ci.yaml's credentials for every step or its env
// already fill one of Slipway's git variables, they are left to that.
func gitopsCreds(proj *config.Project, have []credential, env []envVar) []credential {
	gitVars := map[string]bool{gitTokenVar: true, gitUsernameVar: true, gitPasswordVar: true}
	for _, c := range have {
		for _, v := range c.vars {
			if c.kind == credSecret && gitVars[v] {
				return nil
			}
		}
	}
	for _, v := range env {
		if gitVars[v.name] {
			return nil
		}
	}
	var out []credential
	byID := map[string]int{}
	for _, e := range proj.Environments {
		if e.GitOps == nil || repoTransport(e.GitOps.Repo) != "http" {
			continue
		}
		id := gitopsTokenID(e.Name)
		if i, ok := byID[id]; ok {
			out[i].envs = append(out[i].envs, e.Name)
			continue
		}
		byID[id] = len(out)
		out = append(out, credential{purpose: "gitops", id: id, kind: credGitOps, vars: []string{gitTokenVar}, envs: []string{e.Name},
			about: "a token that may push to the environment repository (slipway.yaml gitops.repo)"})
	}
	for i := range out {
		sort.Strings(out[i].envs)
	}
	return out
}

// deployGitOps is the GitOps environment deploy step st deploys to.
func (p *plan) deployGitOps(st *step) (gitopsEnv, bool) {
	if st.kind != config.StepDeploy {
		return gitopsEnv{}, false
	}
	g, ok := p.gitops[st.deploy]
	return g, ok
}

// gitopsNotes are the header lines on p's deploy steps to GitOps
// environments, in pipeline order: which wait for the engine's verdict
// (and so reach the cluster), which only commit, and, for a repository
// reached over ssh, what the CI system must provide: Jenkins gives the
// step an SSH agent (sshagent) with the key SLIPWAY_GITOPS_ENV_SSH_KEY;
// the others have no agent to give, which the lines say.
func gitopsNotes(p *plan, t Target) []string {
	var lines, ssh []string
	seen := map[string]bool{}
	for _, st := range p.allSteps() {
		g, ok := p.deployGitOps(st)
		if !ok || seen[st.deploy] {
			continue
		}
		seen[st.deploy] = true
		if g.noWait {
			lines = append(lines, fmt.Sprintf("  deploy %s commits and ends (--no-wait): engine %s gives no verdict", st.deploy, g.engine))
		} else {
			lines = append(lines, fmt.Sprintf("  deploy %s commits, then waits for %s's verdict in the cluster", st.deploy, g.engine))
		}
		if g.ssh {
			ssh = append(ssh, st.deploy)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	out := append([]string{"", "GitOps environments (docs/gitops.md): deploy steps commit to the environment",
		"repository, and a step that waits reaches the cluster as a direct deploy does:"}, lines...)
	for _, env := range ssh {
		out = append(out, gitopsSSHNote(t, env)...)
	}
	return out
}

// gitopsSSHNote says what the deploy env step, which pushes over ssh,
// needs from CI system t.
func gitopsSSHNote(t Target, env string) []string {
	if t == Jenkinsfile || t == JenkinsJobDSL {
		return []string{"", fmt.Sprintf("deploy %s pushes over ssh with the key of the credential %s", env, gitopsSSHKeyID(env)),
			"(SSH username with private key; a key that may push to the environment",
			"repository), which sshagent (the ssh-agent plugin) loads. The agent, or its",
			"image, needs ssh-agent (openssh-client) and the server's host key in",
			"~/.ssh/known_hosts."}
	}
	return []string{"", fmt.Sprintf("deploy %s pushes over ssh with the SSH agent (SSH_AUTH_SOCK), which this", env),
		"file cannot give it: the job needs an agent holding a key that may push to",
		"the environment repository, and the server's host key in ~/.ssh/known_hosts.",
		fmt.Sprintf("Or give environments.%s.gitops.repo as an https URL: the step then reads", env),
		"a token from " + gitopsTokenID(env) + "."}
}
