package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/testutil"
)

const goodProject = `apiVersion: slipway/v1
app: hello
image:
  layers:
    - {from: bin/hello, to: /app/hello}
  ports: [9090]
registries:
  dev: registry.dev.example.com/team
  rc: {url: registry.example.com/team}
environments:
  dev: {registry: dev, replicas: 1}
  canary: {registry: rc, canaryOf: prod}
  prod: {registry: rc, replicas: 3, requires: canary}
`

func TestParseProjectDefaults(t *testing.T) {
	p, err := ParseProject("slipway.yaml", []byte(goodProject))
	if err != nil {
		t.Fatal(err)
	}
	if p.Release.TagPrefix != "v" || p.Release.Bump != "auto" || p.Release.SnapshotSuffix != "SNAPSHOT" {
		t.Errorf("release defaults: %+v", p.Release)
	}
	if got := p.Registries.Names(); strings.Join(got, ",") != "dev,rc" {
		t.Errorf("registries in file order: %v", got)
	}
	if got := p.Environments.Names(); strings.Join(got, ",") != "dev,canary,prod" {
		t.Errorf("environments in file order: %v", got)
	}
	if r, _ := p.Registries.Get("dev"); r.URL != "registry.dev.example.com/team" {
		t.Errorf("registry shorthand: %+v", r)
	}
	prod, _ := p.Environments.Get("prod")
	if prod.Requires == nil || prod.Requires.Env != "canary" || prod.Namespace != "hello" || prod.ReplicaCount() != 3 {
		t.Errorf("prod: %+v", prod)
	}
	if p.Deploy.Port != 9090 || p.Deploy.Pod != "pod.yml" || p.Deploy.Drain.String() != "15s" || p.Image.User != "65532" {
		t.Errorf("deploy defaults: %+v, user %q", p.Deploy, p.Image.User)
	}
}

func TestParseProjectEmptyPrefixKept(t *testing.T) {
	p, err := ParseProject("slipway.yaml", []byte("apiVersion: slipway/v1\napp: a\nrelease: {tagPrefix: \"\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Release.TagPrefix != "" {
		t.Errorf("an explicit empty prefix must stay empty, got %q", p.Release.TagPrefix)
	}
}

func TestParseProjectProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string // each must appear, in this order, one per problem
	}{
		{
			name: "unknown field with suggestion and valid fields",
			yaml: "apiVersion: slipway/v1\napp: a\nrelease:\n  tagPrefx: v\n",
			want: []string{`slipway.yaml:4:3: release.tagPrefx: unknown field "tagPrefx"; did you mean "tagPrefix"?; valid fields: tagPrefix, bump,`},
		},
		{
			name: "wrong type",
			yaml: "apiVersion: slipway/v1\napp: a\nenvironments:\n  dev: {registry: r, replicas: three}\nregistries: {r: x.io/a}\n",
			want: []string{`slipway.yaml:4:32: environments.dev.replicas: expected a whole number, got "three"`},
		},
		{
			name: "missing required fields",
			yaml: "app: a\nregistries:\n  dev: {insecure: true}\n",
			want: []string{
				`slipway.yaml:1:1: apiVersion: missing required field "apiVersion"`,
				`slipway.yaml:3:8: registries.dev.url: missing required field "url"`,
			},
		},
		{
			name: "unknown registry with suggestion",
			yaml: "apiVersion: slipway/v1\napp: a\nregistries: {dev: x.io/a, rc: y.io/b}\nenvironments:\n  prod: {registry: rcc}\n",
			want: []string{`slipway.yaml:5:20: environments.prod.registry: unknown registry "rcc"; did you mean "rc"?; valid: dev, rc`},
		},
		{
			name: "duplicate key",
			yaml: "apiVersion: slipway/v1\napp: a\napp: b\n",
			want: []string{`slipway.yaml:3:1: app: duplicate key "app" (first defined on line 2)`},
		},
		{
			name: "enum",
			yaml: "apiVersion: slipway/v1\napp: a\nrelease: {bump: huge}\n",
			want: []string{`slipway.yaml:3:17: release.bump: "huge" is not valid; valid: auto, major, minor, patch`},
		},
		{
			name: "all problems at once",
			yaml: "apiVersion: slipway/v2\napp: Hello_World\nimage:\n  platforms: [linux, linux/amd64, linux/amd64]\n  layers: [{from: a, to: app}]\nregistries:\n  dev: http://x.io\nenvironments:\n  dev: {registry: nope, requires: dev}\n",
			want: []string{
				`slipway.yaml:1:13: apiVersion: "slipway/v2" is not valid; did you mean "slipway/v1"?; valid: slipway/v1`,
				`slipway.yaml:2:6: app: "Hello_World" is not a valid app name`,
				`slipway.yaml:4:15: image.platforms[0]: "linux" is not a platform`,
				`slipway.yaml:4:35: image.platforms[2]: platform "linux/amd64" is listed twice`,
				`slipway.yaml:5:26: image.layers[0].to: "app" must be an absolute path in the image, e.g. /app/app`,
				`slipway.yaml:7:8: registries.dev.url: write "http://x.io" without a scheme; for plain HTTP add insecure: true`,
				`slipway.yaml:9:19: environments.dev.registry: unknown registry "nope"; valid: dev`,
				`slipway.yaml:9:35: environments.dev.requires: an environment cannot require itself`,
			},
		},
		{
			name: "requires loop",
			yaml: "apiVersion: slipway/v1\napp: a\nregistries: {r: x.io/a}\nenvironments:\n  a: {registry: r, requires: b}\n  b: {registry: r, requires: a}\n",
			want: []string{`environments.a.requires: requirements loop: a -> b -> a`, `environments.b.requires: requirements loop: b -> a -> b`},
		},
		{
			name: "credentials in a registry address",
			yaml: "apiVersion: slipway/v1\napp: a\nregistries: {dev: 'bob:hunter2@x.io/a'}\n",
			want: []string{`registries.dev.url: the address must not hold credentials; use ` + "`docker login`" + ` or SLIPWAY_REGISTRY_DEV_USERNAME/_PASSWORD`},
		},
		{
			name: "syntax error",
			yaml: "apiVersion: slipway/v1\napp: [\n",
			want: []string{`slipway.yaml:2: YAML syntax:`},
		},
		{
			name: "empty file",
			yaml: "",
			want: []string{`slipway.yaml: the file is empty; start with apiVersion: slipway/v1`},
		},
		{
			name: "bad duration and mode",
			yaml: "apiVersion: slipway/v1\napp: a\nimage: {layers: [{from: a, to: /a, mode: 755x}]}\ndeploy: {drain: soon}\n",
			want: []string{
				`slipway.yaml:3:42: image.layers[0].mode: "755x" is not an octal file mode such as "0755" (quote it)`,
				`slipway.yaml:4:17: deploy.drain: expected a duration such as 30s, 5m or 1h30m, got "soon"`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProject("slipway.yaml", []byte(tc.yaml))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
			wantProblems(t, err, tc.want)
		})
	}
}

// wantProblems checks that err is Problems, one containing each of want,
// in order.
func wantProblems(t *testing.T, err error, want []string) {
	t.Helper()
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	if len(ps) != len(want) {
		t.Fatalf("want %d problems, got %d:\n%v", len(want), len(ps), err)
	}
	for i, w := range want {
		if !strings.Contains(ps[i].Error(), w) {
			t.Errorf("problem %d:\n got  %s\n want %s", i, ps[i].Error(), w)
		}
	}
}

func TestParseCIProblems(t *testing.T) {
	p, err := ParseProject("slipway.yaml", []byte(goodProject))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "good",
			yaml: "apiVersion: slipway/v1\ntasks: {ciBuild: make}\npipeline: [ciBuild, release, build, {push: dev}, {deploy: dev}, {promote: {from: dev, to: rc}}, {deploy: canary, approve: true}, {deploy: prod}]\n",
		},
		{
			name: "unknown task and environment",
			yaml: "apiVersion: slipway/v1\ntasks: {ciBuild: make}\npipeline:\n  - ciBiuld\n  - deploy: qa\n",
			want: []string{
				`ci.yaml:4:5: pipeline[0]: unknown task "ciBiuld"; did you mean "ciBuild"?; valid: ciBuild; define it under tasks:`,
				`ci.yaml:5:13: pipeline[1].deploy: unknown environment "qa"; valid: dev, canary, prod; environments are defined in slipway.yaml`,
			},
		},
		{
			name: "prod before canary",
			yaml: "apiVersion: slipway/v1\npipeline:\n  - {deploy: prod}\n  - {deploy: canary}\n",
			want: []string{`ci.yaml:3:14: pipeline[0].deploy: prod requires canary, so deploy canary in an earlier step`},
		},
		{
			name: "deploy without push",
			yaml: "apiVersion: slipway/v1\npipeline: [build, {deploy: dev}]\n",
			want: []string{`pipeline[1].deploy: dev pulls from registry dev, but no earlier step pushes or promotes to it`},
		},
		{
			name: "step with two kinds and secret-looking credential",
			yaml: "apiVersion: slipway/v1\ncredentials: {registry: 'p4ss word!'}\npipeline:\n  - {push: dev, deploy: dev}\n",
			want: []string{
				`ci.yaml:2:25: credentials.registry: this must be the ID of a credential`,
				`ci.yaml:4:5: pipeline[0]: a step does one thing, but this one has push and deploy; split it into steps`,
			},
		},
		{
			name: "unknown step field",
			yaml: "apiVersion: slipway/v1\npipeline:\n  - {deploy: dev, aprove: true}\n",
			want: []string{`ci.yaml:3:19: pipeline[0].aprove: unknown field "aprove"; did you mean "approve"?`},
		},
		{
			name: "promote to unknown registry, parallel",
			yaml: "apiVersion: slipway/v1\ntasks: {a: x, b: y}\npipeline:\n  - parallel: [a, b]\n  - promote: {from: dev, to: qa}\n",
			want: []string{`ci.yaml:5:30: pipeline[1].promote.to: unknown registry "qa"; valid: dev, rc, canary, prod;`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCI("ci.yaml", []byte(tc.yaml), p)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantProblems(t, err, tc.want)
		})
	}
}

func TestStepShapes(t *testing.T) {
	c, err := ParseCI("ci.yaml", []byte("apiVersion: slipway/v1\ntasks: {t: x}\npipeline:\n  - t\n  - release\n  - {build: true, name: image}\n  - {parallel: [t, {task: t}]}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []StepKind{StepTask, StepRelease, StepBuild, StepParallel}
	for i, k := range kinds {
		if c.Pipeline[i].Kind != k {
			t.Errorf("step %d: kind %q, want %q", i, c.Pipeline[i].Kind, k)
		}
	}
	if c.Pipeline[3].Parallel[1].Kind != StepTask || c.Pipeline[3].Parallel[1].Task != "t" {
		t.Errorf("parallel: %+v", c.Pipeline[3].Parallel)
	}
	if c.Pipeline[1].Line != 5 {
		t.Errorf("line: %d", c.Pipeline[1].Line)
	}
}

// TestExamples loads and validates every example project.
func TestExamples(t *testing.T) {
	dirs, err := filepath.Glob("../../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, ProjectFile)); err != nil {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			p, err := LoadProject(dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := LoadCI(dir, p); err != nil {
				t.Fatal(err)
			}
			ignore, err := os.ReadFile(filepath.Join(dir, ".gitignore"))
			if err != nil || !strings.Contains("\n"+string(ignore), "\n"+OutputIgnore+"\n") {
				t.Errorf("%s/.gitignore must ignore %s, so builds never dirty the tree: %v", dir, OutputIgnore, err)
			}
		})
	}
	if n == 0 {
		t.Fatal("no examples found")
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := LoadProject(t.TempDir())
	if r, _ := remedy.Of(err); !errors.Is(err, ErrNotFound) || r.Kind != remedy.RunInit {
		t.Fatalf("got %v (remedy %v), want ErrNotFound with RunInit", err, r.Kind)
	}
}

func TestSchema(t *testing.T) {
	for _, which := range []string{"", "slipway", "ci.yaml"} {
		out, err := Schema(which)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), `"tagPrefix"`) && which != "ci.yaml" {
			t.Errorf("%q: no tagPrefix", which)
		}
	}
	if _, err := Schema("nope"); err == nil {
		t.Error("want an error for an unknown file")
	}
}

func TestSuggest(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{"tagPrefx", "tagPrefix"}, {"PLATFORMS", "platforms"}, {"zzzzzz", ""},
	} {
		if s := suggest(tc.got, []string{"tagPrefix", "platforms", "bump"}); s != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.got, s, tc.want)
		}
	}
}

// TestReference keeps docs/config.md true to the types.
func TestReference(t *testing.T) {
	testutil.Golden(t, filepath.Join("..", "..", "docs", "config.md"), []byte(Reference()))
}
