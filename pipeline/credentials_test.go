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
		if c.in.ci == withGit.ci {
			name = string(c.target) + "/with"
		}
		t.Run(name, func(t *testing.T) {
			text := generateWithHeader(t, c.target, c.in, c.header)
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

// generateWithHeader generates target's files for in and returns the
// first one's text, checking that its header says each of header.
func generateWithHeader(t *testing.T, target Target, in Input, header []string) string {
	t.Helper()
	files, err := Generate(target, in)
	if err != nil {
		t.Fatal(err)
	}
	text := string(files[0].Content)
	for _, h := range header {
		if !strings.Contains(text, h) {
			t.Errorf("the header does not say %q:\n%s", h, text)
		}
	}
	return text
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

// TestSigningCredentials checks that signing.key env://NAME reaches push
// steps only, with the key's password from NAME_PASSWORD as
// SLIPWAY_SIGNING_PASSWORD; that verify.key env://NAME reaches that
// environment's deploy steps only; that every header lists them; and that
// ci.yaml's own credentials for those variables win.
func TestSigningCredentials(t *testing.T) {
	const proj = `apiVersion: slipway/v1
app: shop
registries: {dev: registry.example.com/team, rc: registry.example.com/rc}
environments:
  dev: {registry: dev}
  prod: {registry: rc, verify: {key: env://SHOP_PUB}}
signing: {key: env://SHOP_KEY}
`
	const ci = `apiVersion: slipway/v1
tasks: {ciBuild: make}
pipeline: [ciBuild, release, build, {push: dev}, {deploy: dev}, {promote: {from: dev, to: rc}}, {deploy: prod, approve: true}]
`
	in := loadText(t, proj, ci)
	// Where each variable must appear below the header, by target: the
	// push step gets the key and password, deploy prod the public key.
	for _, c := range []struct {
		target     Target
		key, pw    string // how the push step gets them
		pub        string // how deploy prod gets the public key
		header     []string
		noMappings bool // GitLab: CI/CD variables are in every job already
	}{
		{GitHub, "SHOP_KEY: ${{ secrets.SHOP_KEY }}", "SLIPWAY_SIGNING_PASSWORD: ${{ secrets.SHOP_KEY_PASSWORD }}", "SHOP_PUB: ${{ secrets.SHOP_PUB }}",
			[]string{"#   SHOP_KEY: the signing key's PEM", "#   SHOP_KEY_PASSWORD: the signing key's password, for push steps", "#   SHOP_PUB: the public key images must be signed with, for deploy prod"}, false},
		{GitLab, "", "SLIPWAY_SIGNING_PASSWORD: $SHOP_KEY_PASSWORD", "",
			[]string{"#   SHOP_KEY: the signing key's PEM", "#   SHOP_KEY_PASSWORD: the signing key's password", "#   SHOP_PUB: the public key"}, true},
		{Drone, "SHOP_KEY:\n        from_secret: SHOP_KEY", "SLIPWAY_SIGNING_PASSWORD:\n        from_secret: SHOP_KEY_PASSWORD", "SHOP_PUB:\n        from_secret: SHOP_PUB",
			[]string{"#   SHOP_KEY: the signing key's PEM", "#   SHOP_KEY_PASSWORD: the signing key's password", "#   SHOP_PUB: the public key"}, false},
		{Jenkinsfile, "string(credentialsId: 'SHOP_KEY', variable: 'SHOP_KEY')", "string(credentialsId: 'SHOP_KEY_PASSWORD', variable: 'SLIPWAY_SIGNING_PASSWORD')", "string(credentialsId: 'SHOP_PUB', variable: 'SHOP_PUB')",
			[]string{"//   SHOP_KEY (secret text): SHOP_KEY; the signing key's PEM", "//   SHOP_KEY_PASSWORD (secret text): SLIPWAY_SIGNING_PASSWORD;", "//   SHOP_PUB (secret text): SHOP_PUB; the public key"}, false},
		{JenkinsJobDSL, "", "", "", []string{"//   SHOP_KEY (secret text)", "//   SHOP_KEY_PASSWORD (secret text)", "//   SHOP_PUB (secret text)"}, true},
	} {
		t.Run(string(c.target), func(t *testing.T) {
			text := generateWithHeader(t, c.target, in, c.header)
			if c.noMappings {
				if c.pw != "" && strings.Count(text, c.pw) != 1 {
					t.Errorf("want %q once, in the push job:\n%s", c.pw, text)
				}
				return
			}
			body := text[strings.Index(text, "\n"+firstCode(c.target)):]
			for _, want := range []string{c.key, c.pw, c.pub} {
				if n := strings.Count(body, want); n != 1 {
					t.Errorf("%q appears %d times, want once (push dev, or deploy prod):\n%s", want, n, body)
				}
			}
			push := strings.Index(body, "push dev --no-deps")
			promote := strings.Index(body, "promote dev rc --no-deps")
			prod := strings.Index(body, "deploy prod --no-deps")
			if k := strings.Index(body, c.key); k > push || k < strings.Index(body, "build --no-deps") {
				t.Errorf("the signing key is not the push step's:\n%s", body)
			}
			if k := strings.Index(body, c.pub); k < promote || k > prod {
				t.Errorf("the public key is not deploy prod's:\n%s", body)
			}
		})
	}

	// ci.yaml's credentials fill the variables themselves: nothing is added.
	own := loadText(t, proj, "apiVersion: slipway/v1\ncredentials: {shop-key: vault-shop-key, slipway-signing-password: vault-pw}\n"+strings.TrimPrefix(ci, "apiVersion: slipway/v1\n"))
	files, err := Generate(GitHub, own)
	if err != nil {
		t.Fatal(err)
	}
	text := string(files[0].Content)
	for _, absent := range []string{"secrets.SHOP_KEY_PASSWORD", "secrets.SHOP_KEY }}", "the signing key's"} {
		if strings.Contains(text, absent) {
			t.Errorf("ci.yaml credentials fill the signing variables, yet the file has %q:\n%s", absent, text)
		}
	}

	// A file key needs nothing from CI.
	file := loadText(t, strings.Replace(proj, "env://SHOP_KEY", "cosign.key", 1), ci)
	files, err = Generate(GitHub, file)
	if err != nil {
		t.Fatal(err)
	}
	if text := string(files[0].Content); strings.Contains(text, "SIGNING_PASSWORD") || strings.Contains(text, "SHOP_KEY") {
		t.Errorf("a file key needs no CI secret, yet:\n%s", text)
	}

	// With signing.promote, promote signs too: it gets the key.
	withPromote := loadText(t, strings.Replace(proj, "{key: env://SHOP_KEY}", "{key: env://SHOP_KEY, promote: true}", 1), ci)
	files, err = Generate(GitHub, withPromote)
	if err != nil {
		t.Fatal(err)
	}
	text = string(files[0].Content)
	if n := strings.Count(text, "SLIPWAY_SIGNING_PASSWORD: ${{ secrets.SHOP_KEY_PASSWORD }}"); n != 2 {
		t.Errorf("with signing.promote the password reaches %d steps, want push and promote:\n%s", n, text)
	}
	if !strings.Contains(text, "#   SHOP_KEY: the signing key's PEM (slipway.yaml signing.key), for push and promote steps") {
		t.Errorf("the header does not say promote gets the key:\n%s", text)
	}

	// A name no validation checked does not reach a file.
	bad := loadText(t, proj, ci)
	bad.project.Signing.Key = "env://X}}; curl evil"
	if _, err := Generate(GitHub, bad); err == nil || !strings.Contains(err.Error(), "signing.key") {
		t.Errorf("Generate with signing.key %q: err %v, want one naming signing.key", bad.project.Signing.Key, err)
	}
}
