package pipeline

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestRepoTransport(t *testing.T) {
	for raw, want := range map[string]string{
		"https://git.example.com/team/env.git":    "http",
		"HTTPS://git.example.com/team/env.git":    "http",
		"http://127.0.0.1:3000/team/env.git":      "http",
		"ssh://git@git.example.com:2222/team/env": "ssh",
		"git@git.example.com:team/env.git":        "ssh",
		"git.example.com:team/env.git":            "ssh",
		"file:///srv/git/env.git":                 "",
		"/srv/git/env.git":                        "",
		"./env.git":                               "",
		"../shared/env.git":                       "",
		"git.example.com/team/env.git":            "",
		"svn+ssh://svn.example.com/env":           "",
	} {
		if got := repoTransport(raw); got != want {
			t.Errorf("repoTransport(%q) = %q, want %q", raw, got, want)
		}
	}
}

// gitopsCase is the gitops test project, which TestGenerateGolden writes
// for every target.
func gitopsCase(t *testing.T) Input {
	t.Helper()
	in := load(t, "testdata/projects/gitops")
	in.Slipway = &Install{Version: "1.4.0"}
	return in
}

// withoutGitOps is in with every environment made a direct one.
func withoutGitOps(in Input) Input {
	proj := *in.project
	proj.Environments = slices.Clone(proj.Environments)
	for i := range proj.Environments {
		proj.Environments[i].GitOps = nil
	}
	in.project = &proj
	return in
}

// planShape describes p's levels and steps, as generated CI lays them
// out: names, approvals and what they gate, conditions, parallel groups,
// commands, variables and credentials. GitOps's own additions (--no-wait,
// the repository token) are left out, so that a project and the same
// project with direct environments have the same shape.
func planShape(p *plan) []string {
	var out []string
	for _, l := range p.levels {
		out = append(out, fmt.Sprintf("level %s %q approve=%v gate=%s when=%v parallel=%v", l.id, l.name, l.approve, l.gate, alts(l.when), l.parallel))
		for _, st := range l.steps {
			args := slices.DeleteFunc(slices.Clone(st.args), func(a string) bool { return a == "--no-wait" })
			var creds []string
			for _, c := range st.creds {
				if c.kind != credGitOps {
					creds = append(creds, c.id)
				}
			}
			out = append(out, fmt.Sprintf("  step %s %q %s %v env=%v when=%v creds=%v", st.id, st.name, st.kind, args, st.env, alts(st.when), creds))
		}
	}
	return out
}

// TestGitOpsStepsAreDirectSteps checks that a GitOps environment changes
// nothing of the generated pipeline but its deploy steps' credentials and
// --no-wait: approvals, gates (requires with soak), the canary and every
// condition come out as for the same project with direct environments.
func TestGitOpsStepsAreDirectSteps(t *testing.T) {
	in := gitopsCase(t)
	gitopsPlans, err := plansOf(in)
	if err != nil {
		t.Fatal(err)
	}
	directPlans, err := plansOf(withoutGitOps(in))
	if err != nil {
		t.Fatal(err)
	}
	got, want := planShape(gitopsPlans[0]), planShape(directPlans[0])
	if !slices.Equal(got, want) {
		t.Errorf("the GitOps project's pipeline differs from the direct one's:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if approvals := gitopsPlans[0].approvals(); !slices.Equal(approvals, []string{"prod", "canary"}) {
		t.Errorf("approvals %v, want [prod canary]", approvals)
	}
	for _, target := range Targets {
		g, err := Generate(target, in)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Generate(target, withoutGitOps(in))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := structure(target, joinFiles(g)), structure(target, joinFiles(d)); !slices.Equal(got, want) {
			t.Errorf("%s: the GitOps project's jobs differ from the direct one's:\n%s\nwant\n%s", target, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// jenkinsStructure matches the lines of a Jenkinsfile that lay out its
// stages, approvals and conditions.
var jenkinsStructure = regexp.MustCompile(`^\s*(stage\(|parallel \{|input \{|message |ok |when \{|beforeInput |branch |buildingTag|anyOf|agent|stash |unstash |sh ')`)

// structure is the generated text without its header and without what a
// GitOps environment adds: the token's lines, --no-wait, and Jenkins'
// sshagent and credential blocks, of which only the lines that lay out
// stages, approvals and conditions are kept.
func structure(target Target, b []byte) []string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "#"), strings.HasPrefix(trimmed, "//"),
			strings.Contains(line, "SLIPWAY_GITOPS_"), trimmed == "SLIPWAY_GIT_TOKEN:":
			continue
		case target == Jenkinsfile || target == JenkinsJobDSL:
			if !jenkinsStructure.MatchString(line) {
				continue
			}
			line = trimmed
		}
		out = append(out, strings.Replace(line, " --no-wait", "", 1))
	}
	return out
}

// TestGitOpsCredentials checks that the deploy step of a GitOps environment
// with an https repository, and only it, gets the token
// SLIPWAY_GITOPS_ENV_TOKEN as SLIPWAY_GIT_TOKEN, as each CI system hands
// secrets over; that one over ssh gets Jenkins' sshagent and nothing
// elsewhere, with the header saying what to provide; and that engine none
// commits with --no-wait.
func TestGitOpsCredentials(t *testing.T) {
	in := gitopsCase(t)
	for _, c := range []struct {
		target         Target
		preview, stage string // how deploy preview and deploy staging get their token
		header         []string
	}{
		{GitHub, "SLIPWAY_GIT_TOKEN: ${{ secrets.SLIPWAY_GITOPS_PREVIEW_TOKEN }}", "SLIPWAY_GIT_TOKEN: ${{ secrets.SLIPWAY_GITOPS_STAGING_TOKEN }}",
			[]string{"#   SLIPWAY_GITOPS_STAGING_TOKEN: a token that may push to the environment repository (slipway.yaml gitops.repo), for deploy staging",
				"# Or give environments.prod.gitops.repo as an https URL"}},
		{GitLab, "SLIPWAY_GIT_TOKEN: $SLIPWAY_GITOPS_PREVIEW_TOKEN", "SLIPWAY_GIT_TOKEN: $SLIPWAY_GITOPS_STAGING_TOKEN",
			[]string{"#   SLIPWAY_GITOPS_PREVIEW_TOKEN: a token that may push", "deploy prod pushes over ssh with the SSH agent (SSH_AUTH_SOCK)"}},
		{Drone, "SLIPWAY_GIT_TOKEN:\n        from_secret: SLIPWAY_GITOPS_PREVIEW_TOKEN", "SLIPWAY_GIT_TOKEN:\n        from_secret: SLIPWAY_GITOPS_STAGING_TOKEN",
			[]string{"#   SLIPWAY_GITOPS_STAGING_TOKEN: a token", "~/.ssh/known_hosts"}},
		{Jenkinsfile, "string(credentialsId: 'SLIPWAY_GITOPS_PREVIEW_TOKEN', variable: 'SLIPWAY_GIT_TOKEN')", "string(credentialsId: 'SLIPWAY_GITOPS_STAGING_TOKEN', variable: 'SLIPWAY_GIT_TOKEN')",
			[]string{"//   SLIPWAY_GITOPS_STAGING_TOKEN (secret text): SLIPWAY_GIT_TOKEN; a token", "credential SLIPWAY_GITOPS_PROD_SSH_KEY", "ssh-agent plugin"}},
		{JenkinsJobDSL, "", "", []string{"//   SLIPWAY_GITOPS_PREVIEW_TOKEN (secret text)", "SLIPWAY_GITOPS_PROD_SSH_KEY"}},
	} {
		t.Run(string(c.target), func(t *testing.T) {
			text := generateWithHeader(t, c.target, in, append(c.header,
				"deploy preview commits and ends (--no-wait): engine none gives no verdict",
				"deploy staging commits, then waits for flux's verdict in the cluster",
				"deploy prod commits, then waits for argocd's verdict in the cluster"))
			if c.target == JenkinsJobDSL {
				return
			}
			body := text[strings.Index(text, "\n"+firstCode(c.target)):]
			steps := map[string]int{}
			for _, env := range []string{"dev", "preview", "staging", "canary", "prod"} {
				steps[env] = strings.Index(body, "deploy "+env+" --no-deps")
			}
			for want, between := range map[string][2]string{c.preview: {"dev", "preview"}, c.stage: {"dev", "staging"}} {
				if strings.Count(body, want) != 1 {
					t.Errorf("%q appears %d times, want once:\n%s", want, strings.Count(body, want), body)
				}
				if i := strings.Index(body, want); i > steps[between[1]] || (between[1] == "staging" && i < steps["preview"]) {
					t.Errorf("%q is not deploy %s's:\n%s", want, between[1], body)
				}
			}
			if n := strings.Count(body, "SLIPWAY_GIT_TOKEN"); n != 2+strings.Count(body, "github.token") {
				t.Errorf("SLIPWAY_GIT_TOKEN reaches %d steps, want deploy preview, deploy staging and a release without credentials.git:\n%s", n, body)
			}
			if n := strings.Count(body, "--no-wait"); n != 1 || !strings.Contains(body, "deploy preview --no-deps --no-wait --wait-lock=5m") {
				t.Errorf("--no-wait appears %d times, want once, for deploy preview:\n%s", n, body)
			}
			agent := strings.Index(body, "sshagent(credentials: ['SLIPWAY_GITOPS_PROD_SSH_KEY'])")
			if c.target == Jenkinsfile && (agent < steps["canary"] || agent > steps["prod"] || strings.Count(body, "sshagent") != 1) {
				t.Errorf("sshagent does not wrap deploy prod alone:\n%s", body)
			}
			if c.target != Jenkinsfile && strings.Contains(body, "SSH_KEY") {
				t.Errorf("%s has no SSH agent to give, yet names a key:\n%s", c.target, body)
			}
		})
	}
}

// TestGitOpsCredentialsLeftToCI checks that ci.yaml's own credentials or
// env for Slipway's git variables replace the generated token (and, on
// GitHub, the release step's github.token, rather than doubling the
// variable), and that a local repository needs none.
func TestGitOpsCredentialsLeftToCI(t *testing.T) {
	const proj = `apiVersion: slipway/v1
app: shop
registries: {rc: registry.example.com/rc}
environments:
  prod: {registry: rc, gitops: {repo: %s, engine: flux}}
`
	const ci = `apiVersion: slipway/v1
%s
pipeline: [release, {deploy: prod, approve: true}]
`
	for name, c := range map[string]struct {
		repo, ci string
		secret   bool
	}{
		"https":          {"https://git.example.com/team/env.git", "", true},
		"ci credentials": {"https://git.example.com/team/env.git", "credentials: {slipway-git-token: vault-env-token}", false},
		"ci username":    {"https://git.example.com/team/env.git", "credentials: {slipway-git-password: vault-env-pw}", false},
		"ci env":         {"https://git.example.com/team/env.git", "env: {SLIPWAY_GIT_USERNAME: deployer}", false},
		"release git":    {"https://git.example.com/team/env.git", "credentials: {git: release-token}", true},
		"local path":     {"/srv/git/env.git", "", false},
	} {
		t.Run(name, func(t *testing.T) {
			in := loadText(t, fmt.Sprintf(proj, c.repo), fmt.Sprintf(ci, c.ci))
			for _, target := range Targets {
				files, err := Generate(target, in)
				if err != nil {
					t.Fatal(err)
				}
				text := string(joinFiles(files))
				if target == GitHub || target == GitLab || target == Drone {
					// yaml.v3 refuses a key given twice in one mapping.
					if _, err := yamlToJSONValues(files[0].Content); err != nil {
						t.Errorf("%s: %v:\n%s", target, err, text)
					}
				}
				if got := strings.Contains(text, "SLIPWAY_GITOPS_PROD_TOKEN"); got != c.secret {
					t.Errorf("%s: SLIPWAY_GITOPS_PROD_TOKEN named: %v, want %v:\n%s", target, got, c.secret, text)
				}
			}
		})
	}
}
