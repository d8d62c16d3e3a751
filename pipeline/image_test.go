package pipeline

import (
	"errors"
	"strings"
	"testing"
)

// TestSlipwayImage checks that with agent.slipwayImage GitHub runs push,
// promote and deploy steps in Slipway's image tagged with the generating
// version, that jobs of those steps only install nothing, that a deploy
// whose kubeconfig is written to a file stays on the runner, and that the
// targets whose steps need a shell say they do not use it.
func TestSlipwayImage(t *testing.T) {
	const proj = `apiVersion: slipway/v1
app: shop
registries: {dev: registry.example.com/team, rc: registry.example.com/rc}
environments:
  dev: {registry: dev}
  prod: {registry: rc}
`
	const ci = `apiVersion: slipway/v1
agent: {slipwayImage: registry.example.com/ci/slipway}
credentials: {registry-rc: shop-rc}
tasks: {ciBuild: make}
pipeline: [ciBuild, release, build, {push: dev}, {deploy: dev}, {promote: {from: dev, to: rc}}, {deploy: prod, approve: true}]
`
	in := loadText(t, proj, ci)
	in.Dir = "services/shop"
	in.Slipway = testInstall()
	files, err := Generate(GitHub, in)
	if err != nil {
		t.Fatal(err)
	}
	text := string(files[0].Content)
	for _, want := range []string{
		"      - name: push dev\n        uses: docker://registry.example.com/ci/slipway:1.4.0\n        with:\n          args: -C services/shop push dev --no-deps\n",
		"        with:\n          args: -C services/shop deploy dev --no-deps --wait-lock=5m\n",
		"        env:\n          SLIPWAY_REGISTRY_RC_USERNAME: ${{ secrets.SHOP_RC_USERNAME }}\n          SLIPWAY_REGISTRY_RC_PASSWORD: ${{ secrets.SHOP_RC_PASSWORD }}\n        with:\n          args: -C services/shop promote dev rc --no-deps\n",
		"#   registry.example.com/ci/slipway:1.4.0\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the workflow lacks\n%s\n in:\n%s", want, text)
		}
	}
	// The steps on the runner install Slipway; the job of deploy prod alone
	// (all in the image) does not.
	if n := strings.Count(text, "name: Install Slipway"); n != 1 {
		t.Errorf("%d install steps, want 1, in the job from ciBuild to promote:\n%s", n, text)
	}
	prod := text[strings.Index(text, "  deploy-prod:"):]
	if strings.Contains(prod, "Install Slipway") || !strings.Contains(prod, "uses: docker://registry.example.com/ci/slipway:1.4.0") {
		t.Errorf("deploy prod should run in the image without installing:\n%s", prod)
	}

	// A kubeconfig written to a file needs a shell: deploy stays a run step.
	withKube := loadText(t, proj, strings.Replace(ci, "credentials: {", "credentials: {kubeconfig: shop-kube, ", 1))
	withKube.Slipway = &Install{Version: "1.4.0"}
	files, err = Generate(GitHub, withKube)
	if err != nil {
		t.Fatal(err)
	}
	text = string(files[0].Content)
	if strings.Count(text, "uses: docker://") != 2 || !strings.Contains(text, "run: |\n          export KUBECONFIG=") ||
		!strings.Contains(text, "# Deploy steps whose kubeconfig is written to a file run on the runner.") {
		t.Errorf("with a kubeconfig file, push and promote run in the image and deploy on the runner:\n%s", text)
	}

	// Without the generating version there is nothing to pin.
	noVersion := loadText(t, proj, ci)
	if _, err := Generate(GitHub, noVersion); !errors.Is(err, errNoSlipwayVersion) {
		t.Errorf("without a version: got %v, want errNoSlipwayVersion", err)
	}
	// Steps that need a shell: the image is not used, and the header says so.
	for _, target := range []Target{GitLab, Drone, Jenkinsfile} {
		files, err := Generate(target, noVersion)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		text := string(files[0].Content)
		if !strings.Contains(text, "agent.slipwayImage is not used here") || strings.Contains(text, "registry.example.com/ci/slipway") {
			t.Errorf("%s: want the header to say the image is not used, and no image:\n%s", target, text)
		}
	}
}

// TestSlipwayImageUnchecked: a repository no config check saw never
// reaches a file.
func TestSlipwayImageUnchecked(t *testing.T) {
	for _, repo := range []string{"x}} ${{ secrets.A", "reg.example.com/slipway:1.0", "a b", "a\nuses: evil", "$(id)", "reg/slipway@sha256:00"} {
		in := load(t, "../examples/hello-go")
		in.ci.Agent.SlipwayImage = repo
		in.Slipway = &Install{Version: "1.4.0"}
		for _, target := range Targets {
			if _, err := Generate(target, in); err == nil || !strings.Contains(err.Error(), "agent.slipwayImage") {
				t.Errorf("%s with agent.slipwayImage %q: err %v, want one naming agent.slipwayImage", target, repo, err)
			}
		}
	}
}
