package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
)

func TestQuoting(t *testing.T) {
	tests := []struct {
		name string
		f    func(string) string
		in   string
		want string
	}{
		{"shell bare", shellQuote, "services/billing", "services/billing"},
		{"shell empty", shellQuote, "", "''"},
		{"shell space", shellQuote, "my app", "'my app'"},
		{"shell quote", shellQuote, "it's", `'it'\''s'`},
		{"shell dollar", shellQuote, "$HOME", "'$HOME'"},
		{"groovy plain", groovyQuote, "main", "'main'"},
		{"groovy quote", groovyQuote, "it's", `'it\'s'`},
		{"groovy backslash", groovyQuote, `a\b`, `'a\\b'`},
		{"groovy dollar stays", groovyQuote, "${x} $y", "'${x} $y'"},
		{"groovy newline", groovyQuote, "a\nb\tc", `'a\nb\tc'`},
		{"groovy control", groovyQuote, "a\x01", `'a\u0001'`},
		{"triple plain", groovyTriple, "sh 'x'\n", "'''sh 'x'\n'''"},
		{"triple run of quotes", groovyTriple, "a'''b", `'''a\'\''b'''`},
		{"triple ends in quote", groovyTriple, "x'", `'''x\''''`},
		{"triple backslash", groovyTriple, `a\nb`, `'''a\\nb'''`},
		{"upper name", upperName, "shop.registry@prod", "SHOP_REGISTRY_PROD"},
		{"upper name digit", upperName, "1password", "_1PASSWORD"},
		{"slug", slug, "smoke test (dev's)", "smoke-test-dev-s"},
		{"slug keeps", slug, "ci_Build-2", "ci_Build-2"},
		{"slug trims", slug, "--a--", "a"},
		{"slug empty", slug, "()", "step"},
		{"jenkins item", jenkinsItem, "my app/.x", "my-app-.x"},
		{"jenkins item leading dot", jenkinsItem, "..x", "x"},
		{"glob regexp", globRegexp, "release/*", `release\/[^/]*`},
		{"glob regexp dots", globRegexp, "v1.*", `v1\.[^/]*`},
		{"glob regexp deep", globRegexp, "a/**/b?", `a\/.*\/b[^/]`},
		{"drone escape", droneEscape, "$HOME", "$$HOME"},
		{"gitlab escape", gitlabEscape, "a$b", "a$$b"},
		{"github escape", ghEscape, "${{ x }}", "${{ '${{' }} x }}"},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%s: %q -> %s, want %s", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestCredentials(t *testing.T) {
	creds := credentials(map[string]string{
		"registry-dev": "reg-dev",
		"kubeconfig":   "kube",
		"sonar-token":  "sonar",
		"registry-":    "odd",
	})
	var got []string
	for _, c := range creds {
		got = append(got, fmt.Sprintf("%s=%s %s %v", c.purpose, c.id, c.kindName(), c.vars))
	}
	want := []string{
		"kubeconfig=kube secret file [KUBECONFIG]",
		"registry-=odd secret text [REGISTRY_]",
		"registry-dev=reg-dev username with password [SLIPWAY_REGISTRY_DEV_USERNAME SLIPWAY_REGISTRY_DEV_PASSWORD]",
		"sonar-token=sonar secret text [SONAR_TOKEN]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("credentials:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Which steps get which credential.
	byPurpose := map[string]credential{}
	for _, c := range creds {
		byPurpose[c.purpose] = c
	}
	steps := map[string]*step{
		"task":          {kind: config.StepTask},
		"build":         {kind: config.StepBuild},
		"push dev":      {kind: config.StepPush, registries: []string{"dev"}},
		"push rc":       {kind: config.StepPush, registries: []string{"rc"}},
		"deploy dev":    {kind: config.StepDeploy, registries: []string{"dev"}},
		"promote dev":   {kind: config.StepPromote, registries: []string{"dev", "rc"}},
		"release":       {kind: config.StepRelease},
		"deploy DEV up": {kind: config.StepDeploy, registries: []string{"DEV"}},
	}
	tests := []struct {
		purpose, step string
		want          bool
	}{
		{"kubeconfig", "deploy dev", true},
		{"kubeconfig", "task", false},
		{"kubeconfig", "push dev", false},
		{"registry-dev", "build", true},
		{"registry-dev", "push dev", true},
		{"registry-dev", "push rc", false},
		{"registry-dev", "deploy dev", true},
		{"registry-dev", "deploy DEV up", true},
		{"registry-dev", "promote dev", true},
		{"registry-dev", "task", false},
		{"registry-dev", "release", false},
		{"sonar-token", "task", true},
		{"sonar-token", "release", true},
		{"sonar-token", "deploy dev", true},
	}
	for _, tt := range tests {
		if got := byPurpose[tt.purpose].usedBy(steps[tt.step]); got != tt.want {
			t.Errorf("%s used by %s: %v, want %v", tt.purpose, tt.step, got, tt.want)
		}
	}
}

func TestConditions(t *testing.T) {
	tests := []struct {
		when            config.When
		jenkins, github string
		gitlab          []string
		githubErr       string
	}{
		{
			when:    config.When{Branch: []string{"main"}},
			jenkins: "branch 'main'",
			github:  "github.ref == 'refs/heads/main'",
			gitlab:  []string{`$CI_COMMIT_BRANCH == "main"`},
		},
		{
			when:    config.When{Branch: []string{"main", "release/*"}, Tag: true},
			jenkins: "anyOf { branch 'main' branch 'release/*' buildingTag() }",
			github:  "github.ref == 'refs/heads/main' || startsWith(github.ref, 'refs/heads/release/') || startsWith(github.ref, 'refs/tags/')",
			gitlab:  []string{`$CI_COMMIT_BRANCH == "main"`, `$CI_COMMIT_BRANCH =~ /^release\/[^/]*$/`, "$CI_COMMIT_TAG"},
		},
		{
			when:    config.When{Tag: true},
			jenkins: "buildingTag()",
			github:  "startsWith(github.ref, 'refs/tags/')",
			gitlab:  []string{"$CI_COMMIT_TAG"},
		},
		{
			when:    config.When{Branch: []string{`say "hi"`}},
			jenkins: `branch 'say "hi"'`,
			github:  `github.ref == 'refs/heads/say "hi"'`,
			gitlab:  []string{`$CI_COMMIT_BRANCH == 'say "hi"'`},
		},
		{
			when:      config.When{Branch: []string{"feat-*-x"}},
			jenkins:   "branch 'feat-*-x'",
			githubErr: `branch pattern "feat-*-x"`,
			gitlab:    []string{`$CI_COMMIT_BRANCH =~ /^feat-[^/]*-x$/`},
		},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%+v", tt.when)
		if got := strings.Join(strings.Fields(strings.Join(jenkinsWhen(false, &tt.when), " ")), " "); got != tt.jenkins {
			t.Errorf("%s: jenkins %q, want %q", name, got, tt.jenkins)
		}
		got, err := ghCond(alts(&tt.when))
		if tt.githubErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.githubErr) {
				t.Errorf("%s: github error %v, want %q", name, err, tt.githubErr)
			}
		} else if err != nil || got != tt.github {
			t.Errorf("%s: github %q (%v), want %q", name, got, err, tt.github)
		}
		var gl []string
		for _, a := range alts(&tt.when) {
			x, err := gitlabAlt(a)
			if err != nil {
				t.Fatal(err)
			}
			gl = append(gl, x)
		}
		if fmt.Sprint(gl) != fmt.Sprint(tt.gitlab) {
			t.Errorf("%s: gitlab %q, want %q", name, gl, tt.gitlab)
		}
	}
	if _, err := gitlabString(`it's "x"`); err == nil {
		t.Error("gitlabString took both kinds of quote")
	}
}

func TestStepNamesAreUnique(t *testing.T) {
	n := newNamer()
	var got []string
	for _, s := range []string{"ciTest", "ciTest", "push dev", "push-dev", "ciTest"} {
		name := n.name(s)
		got = append(got, name+"|"+n.id(name))
	}
	want := "ciTest|ciTest ciTest (2)|ciTest-2 push dev|push-dev push-dev|push-dev-2 ciTest (3)|ciTest-3"
	if strings.Join(got, " ") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, " "), want)
	}
}

// TestDeployStepsWaitForTheLock holds generated deploy steps to waiting a
// bounded time for a held deploy lock, so that a job re-run after a
// cancelled one (whose lock stays until it expires) succeeds rather than
// failing at once; ci.yaml's waitLock changes the bound or, at 0s, drops
// the wait.
func TestDeployStepsWaitForTheLock(t *testing.T) {
	const project = "apiVersion: slipway/v1\napp: hello\nregistries: {dev: registry.example.com/team}\nenvironments: {dev: {registry: dev}}\n"
	tests := []struct {
		step string
		want string // the deploy step's command line
	}{
		{"{deploy: dev}", "slipway deploy dev --no-deps --wait-lock=5m"},
		{"{deploy: dev, waitLock: 90s}", "slipway deploy dev --no-deps --wait-lock=90s"},
		{"{deploy: dev, waitLock: 1h30m}", "slipway deploy dev --no-deps --wait-lock=90m"},
		{"{deploy: dev, waitLock: 2h}", "slipway deploy dev --no-deps --wait-lock=2h"},
		{"{deploy: dev, waitLock: 1500ms}", "slipway deploy dev --no-deps --wait-lock=1.5s"},
		{"{deploy: dev, waitLock: 0s}", "slipway deploy dev --no-deps"},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			in := loadText(t, project, "apiVersion: slipway/v1\npipeline: [build, {push: dev}, "+tt.step+"]\n")
			p, err := newPlan(in, "")
			if err != nil {
				t.Fatal(err)
			}
			if got := p.command(p.levels[2].steps[0]); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	_, err := config.ParseCI(config.CIFile, []byte("apiVersion: slipway/v1\ntasks: {t: x}\npipeline: [{task: t, waitLock: 1m}]\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "pipeline[0].waitLock: only a deploy step takes the deploy lock") {
		t.Errorf("waitLock on a task: %v", err)
	}
}
