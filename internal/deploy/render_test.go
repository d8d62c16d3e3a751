package deploy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/testutil"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func example(t *testing.T) (*config.Project, PodTemplate) {
	t.Helper()
	return exampleAt(t, "hello-go")
}

func exampleAt(t *testing.T, name string) (*config.Project, PodTemplate) {
	t.Helper()
	dir := filepath.Join("..", "..", "examples", name)
	p, err := config.LoadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, p.Deploy.Pod))
	if err != nil {
		t.Fatal(err)
	}
	pod, err := ParsePod("pod.yml", data)
	if err != nil {
		t.Fatal(err)
	}
	return p, pod
}

// TestRenderGolden renders every environment of examples/hello-go, and
// examples/hello-jvm for the JVM preset.
func TestRenderGolden(t *testing.T) {
	for _, ex := range []string{"hello-go", "hello-jvm"} {
		renderGolden(t, ex)
	}
}

func renderGolden(t *testing.T, ex string) {
	p, pod := exampleAt(t, ex)
	prefix := ""
	if ex != "hello-go" {
		prefix = ex + "-"
	}
	for _, env := range p.Environments {
		t.Run(prefix+env.Name, func(t *testing.T) {
			m, err := Render(RenderInput{
				Project: p, Env: env, Pod: pod, Version: "1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567",
				Image: p.RegistryOf(env).URL + "/hello@" + digest,
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.YAML()
			if err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, filepath.Join("testdata", "render", prefix+env.Name+".golden"), got)
		})
	}
}

func TestRenderRules(t *testing.T) {
	p, pod := example(t)
	prod, _ := p.Environments.Get("prod")
	dev, _ := p.Environments.Get("dev")
	canary, _ := p.Environments.Get("canary")
	in := func(env config.Environment, pod PodTemplate) RenderInput {
		return RenderInput{Project: p, Env: env, Pod: pod, Version: "1.2.3", Image: "r.example.com/hello@" + digest}
	}
	noProbe := PodTemplate{}

	if _, err := Render(in(prod, noProbe)); err == nil || !strings.Contains(err.Error(), "readinessProbe") {
		t.Errorf("prod without a readiness probe: %v", err)
	}
	m, err := Render(in(dev, noProbe))
	if err != nil || len(m.Warnings) != 2 || !strings.Contains(m.Warnings[0], "readinessProbe") || !strings.Contains(m.Warnings[1], "no resource requests") {
		t.Errorf("dev without a readiness probe or requests: %v %v", err, m.Warnings)
	}
	if c := m.Deployment.Spec.Template.Spec.Containers[0]; c.Name != "app" || !strings.HasSuffix(c.Image, digest) {
		t.Errorf("a container is made for an empty pod.yml: %+v", c)
	}
	if _, err := Render(RenderInput{Project: p, Env: dev, Image: "r.example.com/hello:1.2.3"}); err == nil {
		t.Error("an image by tag must be refused")
	}

	m, err = Render(in(canary, pod))
	if err != nil {
		t.Fatal(err)
	}
	if m.Deployment.Name != "hello-canary" || m.Service != nil || m.Ingress != nil {
		t.Errorf("canary: deployment %s, service %v, ingress %v", m.Deployment.Name, m.Service, m.Ingress)
	}
	if got := m.Deployment.Spec.Template.Labels[LabelService]; got != "prod" {
		t.Errorf("canary pods must be selected by prod's service, label %q", got)
	}

	// pod.yml wins over every default.
	custom := pod
	custom.Spec = *pod.Spec.DeepCopy()
	custom.Spec.AutomountServiceAccountToken = new(true)
	grace := int64(2)
	custom.Spec.TerminationGracePeriodSeconds = &grace
	m, err = Render(in(dev, custom))
	if err != nil {
		t.Fatal(err)
	}
	if !*m.Deployment.Spec.Template.Spec.AutomountServiceAccountToken || *m.Deployment.Spec.Template.Spec.TerminationGracePeriodSeconds != 2 {
		t.Error("pod.yml's own values must be kept")
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "does not cover") {
		t.Errorf("warnings: %v", m.Warnings)
	}

	m, err = Render(RenderInput{Project: p, Env: dev, Pod: pod, Image: "r.example.com/hello@" + digest, PullSecret: []byte(`{"auths":{"r.example.com":{"auth":"c2VjcmV0"}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	y, _ := m.YAML()
	if strings.Contains(string(y), "c2VjcmV0") || !strings.Contains(string(y), "hello-pull") {
		t.Errorf("the rendered YAML must name the pull secret but never hold it:\n%s", y)
	}
}

func TestParsePod(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"bare spec", "containers:\n  - name: web\n    image: x\n", nil},
		{"pod", "metadata:\n  labels: {a: b}\nspec:\n  containers: [{name: web}]\n", nil},
		{"unknown fields", "metadata:\n  lables: {a: b}\nspec:\n  containers:\n    - name: web\n      readinesProbe: {}\n",
			[]string{`pod.yml:2:3: metadata.lables: unknown field "lables"; did you mean "labels"?`,
				`pod.yml:6:7: spec.containers[0].readinesProbe: unknown field "readinesProbe"; did you mean "readinessProbe"?`}},
		{"wrong type", "spec:\n  containers:\n    - name: web\n      ports: [{containerPort: http}]\n",
			[]string{`pod.yml:4:31: spec.containers[0].ports[0].containerPort: expected a whole number, got "http"`}},
		{"another kind", "kind: Deployment\nspec: {}\n", []string{`"Deployment": pod.yml holds a Pod`}},
		{"YAML 1.2: no, on and y stay strings", "metadata:\n  labels: {canary: no, debug: on, x: y}\nspec:\n  containers: [{name: web}]\n", nil},
		{"a bool field is true or false", "spec:\n  containers: [{name: web, tty: yes}]\n",
			[]string{`pod.yml:2:33: spec.containers[0].tty: expected true or false, got "yes"`}},
		{"a number where a string goes", "metadata:\n  labels: {version: 1.10}\n",
			[]string{`pod.yml:2:21: metadata.labels.version: expected a string, got "1.10" (quote it to make it a string)`}},
		{"duplicate keys", "spec:\n  containers: [{name: web}]\n  containers: [{name: db}]\n",
			[]string{`pod.yml:3:3: spec.containers: duplicate key "containers" (first defined on line 2)`}},
		{"quantities are checked where they are", "spec:\n  containers:\n    - name: web\n      resources: {limits: {memory: lots}}\n",
			[]string{`pod.yml:4:36: spec.containers[0].resources.limits.memory: "lots" is not a valid Quantity`}},
		{"int-or-string ports", "spec:\n  containers:\n    - name: web\n      readinessProbe: {httpGet: {port: http}}\n", nil},
		{"a second document", "spec: {}\n---\nspec: {}\n", []string{`pod.yml:2:1: a second YAML document`}},
		{"aliases are bounded", podBomb(), []string{`expands to more than`}},
		{"size is bounded", "metadata: {annotations: {a: '" + strings.Repeat("x", 300<<10) + "'}}\n", []string{`at most 256 KiB`}},
		// A file that is no pod manifest is never quoted: it may be a
		// token or a .env file.
		{"a token file", "ghp_SECRET0123456789\n", []string{`pod.yml:1:1: not a pod manifest: want a mapping with apiVersion, kind, metadata or spec (a Pod), or containers (a bare pod spec); its content is not shown`}},
		{"a .env file", "TOKEN: SECRET0123\nOTHER: SECRET4567\n", []string{`pod.yml:1:1: not a pod manifest`}},
		{"a list", "- SECRET0123\n", []string{`pod.yml:1:1: not a pod manifest`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePod("pod.yml", []byte(tc.yaml))
			if err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the problem quotes the file: %v", err)
			}
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ps config.Problems
			if !errors.As(err, &ps) || len(ps) != len(tc.want) {
				t.Fatalf("got %v", err)
			}
			for i, w := range tc.want {
				if !strings.Contains(ps[i].Error(), w) {
					t.Errorf("problem %d: %s\nwant %s", i, ps[i].Error(), w)
				}
			}
		})
	}
}

func TestRenderRefusesRootImages(t *testing.T) {
	p, pod := example(t)
	dev, _ := p.Environments.Get("dev")
	user := func(u string) *string { return &u }
	uid := func(n int64) *int64 { return &n }
	tests := []struct {
		name      string
		imageUser *string
		runAsUser *int64
		want      string
	}{
		{"unknown user", nil, nil, ""},
		{"non-root uid", user("65532"), nil, ""},
		{"non-root uid and group", user("1000:1000"), nil, ""},
		{"root by default", user(""), nil, `runs as root (user "")`},
		{"root by number", user("0:0"), nil, `runs as root (user "0:0")`},
		{"root by name", user("root"), nil, `runs as root`},
		{"a name the kubelet cannot check", user("nobody"), nil, `the user name "nobody"`},
		{"runAsUser fixes a root image", user("root"), uid(1000), ""},
		{"runAsUser 0", user("1000"), uid(0), "runs as uid 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt := pod
			pt.Spec = *pod.Spec.DeepCopy()
			if tt.runAsUser != nil {
				pt.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: tt.runAsUser}
			}
			m, err := Render(RenderInput{Project: p, Env: dev, Pod: pt, Image: "r.example.com/hello@" + digest, ImageUser: tt.imageUser})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(m.Refusals, "\n")
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("refusals %q, want %q", got, tt.want)
			}
			if tt.want != "" && !strings.Contains(got, "image.user") {
				t.Errorf("the refusal does not say what to do: %s", got)
			}
		})
	}
}

// podBomb is a small pod.yml whose aliases expand to a billion values.
func podBomb() string {
	var b strings.Builder
	b.WriteString("metadata:\n  annotations: {}\nx0: &a0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("spec: {containers: [{name: web, args: *a8}]}\n")
	return b.String()
}

func TestParsePodYAML12(t *testing.T) {
	pod, err := ParsePod("pod.yml", []byte("metadata:\n  labels: {canary: no}\nspec:\n  containers: [{name: web, args: [on, off, y]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if pod.Labels["canary"] != "no" || strings.Join(pod.Spec.Containers[0].Args, ",") != "on,off,y" {
		t.Errorf("YAML 1.2 keeps no, on, off and y as strings: %v %v", pod.Labels, pod.Spec.Containers[0].Args)
	}
}

func TestRenderJVMPreset(t *testing.T) {
	p, _ := example(t)
	dev, _ := p.Environments.Get("dev")
	on := true
	dev.JVM = &on
	pod, err := ParsePod("pod.yml", []byte(`spec:
  containers:
    - name: app
      readinessProbe: {httpGet: {path: /, port: 8080}}
      resources: {limits: {memory: 1Gi, cpu: "2"}, requests: {cpu: 500m}}
`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Render(RenderInput{Project: p, Env: dev, Pod: pod, Image: "r.example.com/hello@" + digest})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Deployment.Spec.Template.Spec.Containers[0]
	if _, ok := c.Resources.Limits["cpu"]; ok {
		t.Error("the CPU limit must go")
	}
	if len(c.Env) != 1 || c.Env[0].Value != "-Xmx512m -XX:+AlwaysPreTouch" {
		t.Errorf("env: %+v", c.Env)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "removed the CPU limit 2") {
		t.Errorf("warnings: %v", m.Warnings)
	}
}

func TestRenderCanaryWeight(t *testing.T) {
	p, pod := example(t)
	canary, _ := p.Environments.Get("canary")
	canary.Canary = &config.Canary{Weight: 10}
	m, err := Render(RenderInput{Project: p, Env: canary, Pod: pod, Image: "r.example.com/hello@" + digest})
	if err != nil {
		t.Fatal(err)
	}
	ing := m.CanaryIngress
	if ing == nil || ing.Name != "hello-canary" || ing.Annotations["nginx.ingress.kubernetes.io/canary-weight"] != "10" ||
		ing.Spec.Rules[0].Host != "hello.localtest.me" || m.CanaryService.Spec.Selector[LabelEnv] != "canary" {
		t.Errorf("canary ingress %+v, service %+v", ing, m.CanaryService)
	}
}

func TestRenderBudgetAndSpread(t *testing.T) {
	p, pod := example(t)
	prod, _ := p.Environments.Get("prod")
	off := false
	one, three := 1, 3
	tests := []struct {
		name           string
		replicas       *int
		budget, spread *bool
		wantBudget     bool
		wantSpread     bool
	}{
		{"3 replicas", &three, nil, nil, true, true},
		{"1 replica", &one, nil, nil, false, false},
		{"turned off", &three, &off, &off, false, false},
	}
	for _, tt := range tests {
		pp := *p
		pp.Deploy.DisruptionBudget, pp.Deploy.Spread = tt.budget, tt.spread
		env := prod
		env.Replicas = tt.replicas
		m, err := Render(RenderInput{Project: &pp, Env: env, Pod: pod, Image: "r.example.com/hello@" + digest})
		if err != nil {
			t.Fatal(err)
		}
		if (m.Budget != nil) != tt.wantBudget {
			t.Errorf("%s: budget %v", tt.name, m.Budget)
		}
		if got := len(m.Deployment.Spec.Template.Spec.TopologySpreadConstraints) > 0; got != tt.wantSpread {
			t.Errorf("%s: spread %v", tt.name, got)
		}
		if m.Budget != nil && (m.Budget.Spec.MaxUnavailable.IntValue() != 1 || m.Budget.Spec.Selector.MatchLabels[LabelEnv] != "prod") {
			t.Errorf("%s: budget %+v", tt.name, m.Budget.Spec)
		}
	}
}

// TestRenderSurge: deploy.surge is the Deployment's maxSurge, a count as a
// number and a percentage as a string, Kubernetes' 25% when unset; no pod
// is ever taken away before its replacement is available.
func TestRenderSurge(t *testing.T) {
	p, pod := example(t)
	prod, _ := p.Environments.Get("prod")
	tests := []struct {
		surge config.Surge
		want  string
		isInt bool
	}{
		{"", "25%", false},
		{"100%", "100%", false},
		{"2", "2", true},
	}
	for _, tt := range tests {
		pp := *p
		pp.Deploy.Surge = tt.surge
		m, err := Render(RenderInput{Project: &pp, Env: prod, Pod: pod, Image: "r.example.com/hello@" + digest})
		if err != nil {
			t.Fatal(err)
		}
		ru := m.Deployment.Spec.Strategy.RollingUpdate
		if got := ru.MaxSurge.String(); got != tt.want || (ru.MaxSurge.Type == 0) != tt.isInt {
			t.Errorf("surge %q: maxSurge %s (type %d), want %s", tt.surge, got, ru.MaxSurge.Type, tt.want)
		}
		if ru.MaxUnavailable.String() != "0" {
			t.Errorf("surge %q: maxUnavailable %s, want 0", tt.surge, ru.MaxUnavailable.String())
		}
	}
}
