package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadText loads a project from the text of its slipway.yaml and ci.yaml.
func loadText(t *testing.T, slipwayYAML, ciYAML string) Input {
	t.Helper()
	dir := t.TempDir()
	for name, text := range map[string]string{"slipway.yaml": slipwayYAML, "ci.yaml": ciYAML} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return load(t, dir)
}

// TestReleaseGetsGitCredentials checks that the release step, and only
// it, gets a credential Slipway's git push reads, in the form each CI
// system gives it, and that every header says what to provide.
func TestReleaseGetsGitCredentials(t *testing.T) {
	const proj = `apiVersion: slipway/v1
app: shop
registries: {dev: registry.example.com/team}
environments: {dev: {registry: dev}}
`
	const steps = `tasks: {ciBuild: make}
pipeline: [ciBuild, build, release, {push: dev}]
`
	withGit := loadText(t, proj, "apiVersion: slipway/v1\ncredentials: {git: SHOP_RELEASE_TOKEN, registry-dev: shop-dev}\n"+steps)
	without := loadText(t, proj, "apiVersion: slipway/v1\ncredentials: {registry-dev: shop-dev}\n"+steps)
	for _, c := range []struct {
		target Target
		in     Input
		// release is what the release step gets; header what the header says.
		release, header []string
	}{
		{GitHub, withGit, []string{"SLIPWAY_GIT_TOKEN: ${{ secrets.SHOP_RELEASE_TOKEN }}", "contents: write"},
			[]string{"#   SHOP_RELEASE_TOKEN: pushes release tags to this repository, for the release step"}},
		{GitHub, without, []string{"SLIPWAY_GIT_TOKEN: ${{ github.token }}", "contents: write"},
			[]string{"# The release step pushes its tag with the workflow's own token (github.token),"}},
		{GitLab, withGit, []string{"SLIPWAY_GIT_TOKEN: $SHOP_RELEASE_TOKEN", gitlabOrigin},
			[]string{"#   SHOP_RELEASE_TOKEN: pushes release tags", "project access token"}},
		{GitLab, without, []string{"SLIPWAY_GIT_USERNAME: gitlab-ci-token", "SLIPWAY_GIT_PASSWORD: $CI_JOB_TOKEN", gitlabOrigin},
			[]string{"Allow Git push requests"}},
		{Drone, withGit, []string{"SLIPWAY_GIT_TOKEN:\n        from_secret: SHOP_RELEASE_TOKEN"},
			[]string{"#   SHOP_RELEASE_TOKEN: pushes release tags"}},
		{Drone, without, []string{`export SLIPWAY_GIT_USERNAME="$${DRONE_NETRC_USERNAME}"`, `export SLIPWAY_GIT_PASSWORD="$${DRONE_NETRC_PASSWORD}"`},
			[]string{"DRONE_GIT_ALWAYS_AUTH=true"}},
		{Jenkinsfile, withGit, []string{"usernamePassword(credentialsId: 'SHOP_RELEASE_TOKEN', usernameVariable: 'SLIPWAY_GIT_USERNAME', passwordVariable: 'SLIPWAY_GIT_PASSWORD')"},
			[]string{"//   SHOP_RELEASE_TOKEN (username with password): SLIPWAY_GIT_USERNAME, SLIPWAY_GIT_PASSWORD; pushes release tags"}},
		{Jenkinsfile, without, nil, []string{"name its ID", "in ci.yaml as credentials.git."}},
		{JenkinsJobDSL, withGit, nil, []string{"//   SHOP_RELEASE_TOKEN (username with password)"}},
	} {
		name := string(c.target) + "/without"
		if c.in.CI == withGit.CI {
			name = string(c.target) + "/with"
		}
		t.Run(name, func(t *testing.T) {
			files, err := Generate(c.target, c.in)
			if err != nil {
				t.Fatal(err)
			}
			text := string(files[0].Content)
			for _, h := range c.header {
				if !strings.Contains(text, h) {
					t.Errorf("the header does not say %q:\n%s", h, text)
				}
			}
			if c.target == JenkinsJobDSL {
				return
			}
			// Below the header, each variable Slipway's git push reads
			// appears once: in the release step, the only one to get it.
			body := text[strings.Index(text, "\n"+firstCode(c.target)):]
			for _, r := range c.release {
				if n := strings.Count(body, r); n == 0 {
					t.Errorf("the release step does not get %q:\n%s", r, body)
				}
			}
			for _, v := range []string{"SLIPWAY_GIT_TOKEN", "SLIPWAY_GIT_USERNAME"} {
				if n := strings.Count(body, v); n > 1 {
					t.Errorf("%s reaches %d steps, want the release step only:\n%s", v, n, body)
				}
			}
		})
	}
}

// firstCode is how the first line after a target's header starts.
func firstCode(t Target) string {
	switch t {
	case Jenkinsfile:
		return "pipeline {"
	case Drone:
		return "kind:"
	case GitLab:
		return "workflow:"
	}
	return "name:"
}
