package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/slipwayhq/slipway/"

var (
	cliLibs     = []string{"github.com/urfave/cli", "github.com/charmbracelet/lipgloss", module + "internal/cli", module + "internal/ui"}
	gitLibs     = []string{"github.com/go-git/"}
	registryLib = []string{"github.com/google/go-containerregistry"}
	kubeLibs    = []string{"k8s.io/"}
	netLibs     = []string{"net/http"}
)

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// TestImportsFlowOneWay checks what each core package may depend on, directly
// or through others.
func TestImportsFlowOneWay(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	rules := map[string][]string{
		"internal/progress": concat(cliLibs, gitLibs, registryLib, kubeLibs, netLibs),
		"internal/config":   concat(cliLibs, gitLibs, registryLib, kubeLibs, netLibs),
		"templates":         concat(cliLibs, gitLibs, registryLib, kubeLibs, netLibs),
		"pipeline":          concat(cliLibs, gitLibs, registryLib, kubeLibs, netLibs),
		"internal/release":  concat(cliLibs, registryLib, kubeLibs),
		// Talking to git remotes (credentials, bounded transports) is
		// shared by release and gitops, and needs neither registries nor
		// clusters.
		"internal/gitremote": concat(cliLibs, registryLib, kubeLibs),
		// The environment repository is git only: the engine adapters,
		// which read clusters, belong in a package of their own.
		"internal/gitops": concat(cliLibs, registryLib, kubeLibs),
		// The engine adapters read and nudge an engine's objects through
		// client-go; what git says (is a commit newer?) the caller answers.
		"internal/gitops/engine": concat(cliLibs, gitLibs, registryLib),
		// The engine's objects are rendered from configuration alone:
		// no git, no cluster, no network.
		"internal/gitops/bootstrap": concat(cliLibs, gitLibs, registryLib, kubeLibs, netLibs),
		"internal/registry":         concat(cliLibs, gitLibs, kubeLibs),
		"internal/image":            concat(cliLibs, gitLibs, kubeLibs),
		"promote":                   concat(cliLibs, gitLibs, kubeLibs, []string{module + "internal/image"}),
		"internal/deploy":           concat(cliLibs, gitLibs, registryLib),
		// After-rollout checks reach the cluster (the pod proxy, port
		// forwards) and run tasks; never git or registries.
		"internal/check": concat(cliLibs, gitLibs, registryLib),
		// Notifications are HTTP requests of a verdict the caller made:
		// no git, registries or clusters.
		"internal/notify": concat(cliLibs, gitLibs, registryLib, kubeLibs),
		"internal/flow":   cliLibs,
		// The fleet is read from clusters alone, its page fetches
		// nothing and its Handler only answers: no git, no registry.
		"internal/fleet": concat(cliLibs, gitLibs, registryLib),
		// Signing reads and writes registries, never git or clusters;
		// deadlines are the standard library's only.
		"internal/sign":     concat(cliLibs, gitLibs, kubeLibs),
		"internal/deadline": concat(cliLibs, gitLibs, registryLib, kubeLibs),
		// The one terminal sanitizer: a leaf that both ui and the core
		// packages (deploy's crash-loop lines) use.
		"internal/termtext": concat(cliLibs, gitLibs, registryLib, kubeLibs, netLibs, []string{module + "internal/"}),
		// The one short form of a digest: a leaf of the standard library
		// that the core packages and the command line all write with.
		"internal/short": concat(cliLibs, gitLibs, registryLib, kubeLibs, netLibs, []string{module + "internal/"}),
		// Project file access needs the standard library only, so that
		// every package can use it.
		"internal/projfs": concat(cliLibs, gitLibs, registryLib, kubeLibs, netLibs),
		// The test git server is the standard library's only, so that
		// any package's tests (and hack/testenv) can serve repositories.
		"internal/testenv/githttp": concat(cliLibs, gitLibs, registryLib, kubeLibs, []string{module + "internal/"}),
		"internal/ui": concat([]string{"github.com/urfave/cli", module + "internal/cli"},
			gitLibs, registryLib, kubeLibs),
	}
	for pkg, banned := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+pkg).Output()
		if err != nil {
			t.Errorf("listing the dependencies of %s: %v", pkg, err)
			continue
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == module+pkg {
				continue
			}
			for _, b := range banned {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s depends on %s, which it must not", pkg, dep)
				}
			}
		}
	}
}

// TestTestutilOnlyInTests keeps the shared test helpers (and the -update
// flag they define) out of every binary: only _test.go files import
// internal/testutil, and it imports no package of this module, so that
// any package's tests can use it.
func TestTestutilOnlyInTests(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	const testutil = module + "internal/testutil"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("listing the imports of the module: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		for _, imp := range f[1:] {
			switch {
			case f[0] != testutil && imp == testutil:
				t.Errorf("%s imports %s outside its tests", f[0], testutil)
			case f[0] == testutil && strings.HasPrefix(imp, module):
				t.Errorf("%s imports %s; it must import no package of the module", testutil, imp)
			}
		}
	}
}

// TestOneYAMLEngine keeps strict YAML reading in internal/config (slipway.yaml,
// ci.yaml, and JSON-shaped files such as pod.yml through DecodeJSON):
// besides it, only pipeline, which writes YAML, imports yaml.v3 (deploy
// writes its manifests with sigs.k8s.io/yaml).
func TestOneYAMLEngine(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	allowed := map[string]bool{module + "internal/config": true, module + "pipeline": true}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("listing the imports of the module: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || allowed[f[0]] {
			continue
		}
		for _, imp := range f[1:] {
			if imp == "gopkg.in/yaml.v3" || strings.HasPrefix(imp, "github.com/goccy/go-yaml") {
				t.Errorf("%s imports %s; read YAML through internal/config", f[0], imp)
			}
		}
	}
}
