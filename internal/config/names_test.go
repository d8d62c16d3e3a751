package config

import (
	"errors"
	"strings"
	"testing"
)

// hostileValues are values that mean something to a shell, Groovy, YAML,
// GitHub expressions or GitLab and Drone variable expansion.
var hostileValues = []string{
	"$(touch /tmp/pwned)", "`touch /tmp/pwned`", "'; touch x; '", "${{ github.token }}",
	"${{ secrets.X }}", `"""`, "'''", "${System.exit(1)}", `\u000a`, "a\nb", "$CI_JOB_TOKEN",
	"$$", ": #", "{", "*alias", "!!binary", "a\u2028b", "a\u2029b", "a\u0085b",
}

// ciWith is a valid ci.yaml with one line replaced by line.
func ciWith(line string) string {
	return "apiVersion: slipway/v1\n" + line + "\npipeline: [ciBuild, {push: dev}]\n"
}

func TestNamesRefuseHostileValues(t *testing.T) {
	p, err := ParseProject("slipway.yaml", []byte(goodProject))
	if err != nil {
		t.Fatal(err)
	}
	// Each field, written with a hostile value v (a YAML double-quoted
	// string), must be refused with a problem at field.
	fields := []struct {
		field, line string
	}{
		{"env.%s", "tasks: {ciBuild: make}\nenv: {%s: x}"},
		{"tasks.ciBuild.env.%s", "tasks: {ciBuild: {run: make, env: {%s: x}}}"},
		{"triggers.branches[0]", "tasks: {ciBuild: make}\ntriggers: {branches: [%s]}"},
		{"agent.image", "tasks: {ciBuild: make}\nagent: {image: %s}"},
		{"agent.label", "tasks: {ciBuild: make}\nagent: {label: %s}"},
		{"agent.slipwayImage", "tasks: {ciBuild: make}\nagent: {slipwayImage: %s}"},
		{"modules[0]", "tasks: {ciBuild: make}\nmodules: [%s]"},
		{"credentials.%s", "tasks: {ciBuild: make}\ncredentials: {%s: an-id}"},
		{"credentials.dev", "tasks: {ciBuild: make}\ncredentials: {dev: %s}"},
		{"tasks.%s", "tasks: {%s: make, ciBuild: make}"},
	}
	// Values the grammar allows, because they mean something there: a
	// branch glob, a label expression. Generation escapes them.
	allowed := map[string]bool{"triggers.branches[0]=*alias": true, "agent.label=!!binary": true}
	for _, f := range fields {
		for _, v := range hostileValues {
			if allowed[f.field+"="+v] {
				continue
			}
			q := yamlQuote(v)
			data := ciWith(strings.ReplaceAll(f.line, "%s", q))
			field := strings.ReplaceAll(f.field, "%s", v)
			_, err := ParseCI("ci.yaml", []byte(data), p)
			if !hasProblemAt(err, field) {
				t.Errorf("%s = %q: want a problem at %s, got %v", f.field, v, field, err)
			}
		}
	}
}

func TestNamesRefuseHostileStepValues(t *testing.T) {
	p, err := ParseProject("slipway.yaml", []byte(goodProject))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range hostileValues {
		q := yamlQuote(v)
		branch := q
		if v == "*alias" {
			branch = `"a b"`
		}
		data := "apiVersion: slipway/v1\ntasks: {ciBuild: make}\npipeline:\n" +
			"  - {task: ciBuild, when: {branch: [" + branch + "]}}\n" +
			"  - parallel: [ciBuild, {task: ciBuild, env: {" + q + ": x}}]\n"
		_, err := ParseCI("ci.yaml", []byte(data), p)
		for _, field := range []string{"pipeline[0].when.branch[0]", "pipeline[1].parallel[1].env." + v} {
			if !hasProblemAt(err, field) {
				t.Errorf("%q: want a problem at %s, got %v", v, field, err)
			}
		}
	}
}

func TestLineValues(t *testing.T) {
	p, err := ParseProject("slipway.yaml", []byte(goodProject))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, line, field string
		bad               bool
	}{
		{"display name", `{task: ciBuild, name: "smoke test (dev's) $x ${{ y }}"}`, "", false},
		{"display name newline", `{task: ciBuild, name: "a\nb"}`, "pipeline[0].name", true},
		{"display name separator", `{task: ciBuild, name: "a` + "\u2028" + `b"}`, "pipeline[0].name", true},
		{"display name bidi", `{task: ciBuild, name: "a` + "\u202e" + `b"}`, "pipeline[0].name", true},
		{"display name empty", `{task: ciBuild, name: " "}`, "pipeline[0].name", true},
		{"when prefix glob", `{task: ciBuild, when: {branch: ["release/*", "**"]}}`, "", false},
		{"when inner glob", `{task: ciBuild, when: {branch: ["release/*/x"]}}`, "pipeline[0].when.branch[0]", true},
		{"display name long", `{task: ciBuild, name: ` + strings.Repeat("x", maxDisplayName+1) + `}`, "pipeline[0].name", true},
	}
	for _, tt := range tests {
		data := "apiVersion: slipway/v1\ntasks: {ciBuild: make}\npipeline:\n  - " + tt.line + "\n"
		_, err := ParseCI("ci.yaml", []byte(data), p)
		if tt.bad != hasProblemAt(err, tt.field) || !tt.bad && err != nil {
			t.Errorf("%s: bad=%v, got %v", tt.name, tt.bad, err)
		}
	}
	for _, tt := range []struct {
		slipway string
		bad     bool
	}{
		{"docker run --rm ghcr.io/slipwayhq/slipway:1 $(pwd)", false},
		{"slipway\ntouch x", true},
		{"slipway\u2028x", true},
		{"", true},
	} {
		data := "apiVersion: slipway/v1\nagent: {slipway: " + yamlQuote(tt.slipway) + "}\ntasks: {ciBuild: make}\npipeline: [ciBuild]\n"
		_, err := ParseCI("ci.yaml", []byte(data), p)
		if tt.bad != hasProblemAt(err, "agent.slipway") {
			t.Errorf("agent.slipway %q: bad=%v, got %v", tt.slipway, tt.bad, err)
		}
	}
}

func TestNamesAccept(t *testing.T) {
	p, err := ParseProject("slipway.yaml", []byte(goodProject))
	if err != nil {
		t.Fatal(err)
	}
	data := `apiVersion: slipway/v1
agent: {image: "registry.example.com:5000/ci/slipway:1.4@sha256:` + strings.Repeat("a", 64) + `", label: "linux && (docker || podman) && !arm"}
triggers: {branches: [main, "release/*", "feature/**", v1.x, dependabot/go_modules/x-1.2]}
credentials: {registry-dev: shop.registry@prod, kubeconfig: shop/kubeconfig, sonar_token: s}
env: {_X: "$(anything) ${{ goes }} '\"\n", GOFLAGS: -mod=readonly}
tasks: {ciBuild: {run: "make $(x)", env: {A1: "` + "`b`" + `"}}}
modules: [services/billing, web_2]
pipeline: [ciBuild, {push: dev, when: {branch: [main]}}]
`
	if _, err := ParseCI("ci.yaml", []byte(data), p); err != nil {
		// Modules are fine to list without their files here.
		t.Errorf("valid names refused: %v", err)
	}
}

func TestEnvNamesSetBySlipway(t *testing.T) {
	for _, name := range []string{"GIT_DEPTH", "KUBECONFIG", "KUBECONFIG_DATA", "SLIPWAY_REGISTRY_DEV_PASSWORD", "SONAR_TOKEN"} {
		data := ciWith("credentials: {registry-dev: reg, kubeconfig: kube, sonar-token: s}\ntasks: {ciBuild: {run: make, env: {" + name + ": x}}}")
		if _, err := ParseCI("ci.yaml", []byte(data), nil); !hasProblemAt(err, "tasks.ciBuild.env."+name) {
			t.Errorf("%s: want a problem, got %v", name, err)
		}
	}
	if _, err := ParseCI("ci.yaml", []byte(ciWith("tasks: {ciBuild: make}\nenv: {KUBECONFIG: x}")), nil); err != nil {
		t.Errorf("KUBECONFIG is the team's to set without a kubeconfig credential: %v", err)
	}
}

func TestCredentialClashes(t *testing.T) {
	for _, creds := range []string{"sonar-token: a, sonar_token: b", "registry-dev: a, SLIPWAY_REGISTRY_DEV_PASSWORD: b", "git-depth: a", "kubeconfig: a, KUBECONFIG_DATA: b"} {
		_, err := ParseCI("ci.yaml", []byte(ciWith("credentials: {"+creds+"}\ntasks: {ciBuild: make}")), nil)
		var ps Problems
		if !errors.As(err, &ps) || !strings.Contains(err.Error(), "this credential fills") {
			t.Errorf("%s: want a clash, got %v", creds, err)
		}
	}
}

func TestRegistryNames(t *testing.T) {
	for _, name := range []string{"Dev", "dev_1", "-dev", "a.b", "$x", "${{x}}"} {
		data := "apiVersion: slipway/v1\napp: hello\nregistries: {" + yamlQuote(name) + ": registry.example.com/team}\n"
		_, err := ParseProject("slipway.yaml", []byte(data))
		if !hasProblemAt(err, "registries."+name) {
			t.Errorf("registry name %q: want a problem, got %v", name, err)
		}
	}
}

func TestAgentImageCredentials(t *testing.T) {
	for _, im := range []string{"https://user:token@registry.example.com/ci/slipway:1", "user:token@registry.example.com/ci/slipway:1", "https://registry.example.com/x"} {
		_, err := ParseCI("ci.yaml", []byte(ciWith("tasks: {ciBuild: make}\nagent: {image: "+yamlQuote(im)+"}")), nil)
		if !hasProblemAt(err, "agent.image") {
			t.Errorf("%q: want a problem at agent.image, got %v", im, err)
		}
		if err != nil && strings.Contains(err.Error(), "token") {
			t.Errorf("the message repeats the credentials: %v", err)
		}
	}
}

func TestAgentSlipwayImage(t *testing.T) {
	for im, ok := range map[string]bool{
		"slipway": true, "registry.example.com/ci/slipway": true, "127.0.0.1:5000/ci/slipway": true, "ghcr.io/slipwayhq/slipway": true,
		"slipway:1.4": false, "registry.example.com/ci/slipway:1.4": false, "127.0.0.1:5000": false, "ci/slipway@sha256:" + strings.Repeat("a", 64): false,
		"Registry.example.com/x": false, "user:token@registry.example.com/ci/slipway": false, "https://registry.example.com/x": false, "a//b": false,
	} {
		_, err := ParseCI("ci.yaml", []byte(ciWith("tasks: {ciBuild: make}\nagent: {slipwayImage: "+yamlQuote(im)+"}")), nil)
		if hasProblemAt(err, "agent.slipwayImage") == ok {
			t.Errorf("agent.slipwayImage %q: want ok=%v, got %v", im, ok, err)
		}
		if err != nil && strings.Contains(err.Error(), "token") {
			t.Errorf("the message repeats the credentials: %v", err)
		}
	}
}

func TestProblemsArePositioned(t *testing.T) {
	data := "apiVersion: slipway/v1\ntasks: {ciBuild: make}\ntriggers:\n  branches: [main, \"$(x)\"]\npipeline: [ciBuild]\n"
	_, err := ParseCI("ci.yaml", []byte(data), nil)
	if err == nil || !strings.Contains(err.Error(), "ci.yaml:4:20: triggers.branches[1]:") {
		t.Errorf("want ci.yaml:4:20: triggers.branches[1]: ..., got %v", err)
	}
}

// yamlQuote writes s as a double-quoted YAML scalar.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\u2028':
			b.WriteString(`\L`)
		case r == '\u2029':
			b.WriteString(`\P`)
		case r == '\u0085':
			b.WriteString(`\N`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// hasProblemAt reports whether err holds a problem about field.
func hasProblemAt(err error, field string) bool {
	var ps Problems
	if !errors.As(err, &ps) {
		return false
	}
	for _, p := range ps {
		if p.Field == field && p.Line > 0 {
			return true
		}
	}
	return false
}

// TestRegistryEnvVars checks the names of the variables that hold a
// registry's credentials, as Slipway reads them and generated CI fills them.
func TestRegistryEnvVars(t *testing.T) {
	tests := []struct{ name, user, pass string }{
		{"dev", "SLIPWAY_REGISTRY_DEV_USERNAME", "SLIPWAY_REGISTRY_DEV_PASSWORD"},
		{"rc-eu.1", "SLIPWAY_REGISTRY_RC_EU_1_USERNAME", "SLIPWAY_REGISTRY_RC_EU_1_PASSWORD"},
		{"Local", "SLIPWAY_REGISTRY_LOCAL_USERNAME", "SLIPWAY_REGISTRY_LOCAL_PASSWORD"},
	}
	for _, tt := range tests {
		u, p := RegistryEnvVars(tt.name)
		if u != tt.user || p != tt.pass {
			t.Errorf("RegistryEnvVars(%q) = %s, %s; want %s, %s", tt.name, u, p, tt.user, tt.pass)
		}
	}
}
