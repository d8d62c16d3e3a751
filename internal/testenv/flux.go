package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ErrNoFlux is returned by LaunchFlux when the controllers are not built.
var ErrNoFlux = errors.New("the Flux controllers are not built; run make flux-deps (hack/testenv/flux.sh install; a cold build takes 8 to 14 minutes)")

// FluxClusterPorts are the ports of the control plane the Flux tests of
// internal/testenv start, apart from the other test control planes' so that
// make test can run them side by side; below the kernel's ephemeral range,
// where flux.sh picks the controllers' own ports.
var FluxClusterPorts = map[string]string{
	"SLIPWAY_APISERVER_PORT": "25443", "SLIPWAY_ETCD_PORT": "25379", "SLIPWAY_ETCD_PEER_PORT": "25380",
	"SLIPWAY_KCM_PORT": "25457", "SLIPWAY_SCHEDULER_PORT": "25459", "SLIPWAY_KWOK_PORT": "25250",
}

// FluxOptions configure the controllers.
type FluxOptions struct {
	// SourceArgs and KustomizeArgs are extra flags for source-controller
	// and kustomize-controller (FLUX_SC_ARGS, FLUX_KC_ARGS of flux.sh); no
	// flag may hold a space. GitOps mode wants kustomize-controller with
	// "--feature-gates=CancelHealthCheckOnNewRevision=true", so that a
	// revert is not held behind a crash-looping revision's health check.
	SourceArgs, KustomizeArgs []string
}

// Flux is Flux CD's source-controller and kustomize-controller, started by
// hack/testenv/flux.sh out of cluster against a Cluster, with the admin
// kubeconfig, every port on 127.0.0.1.
type Flux struct {
	// Namespace holds the controllers' objects (flux-system).
	Namespace string
	// StorageURL is source-controller's artifact server.
	StorageURL string
	// Env is flux.sh's env file: the ports (SC_METRICS, SC_HEALTH,
	// SC_STORAGE, KC_METRICS, KC_HEALTH) and the rest.
	Env map[string]string
	// Dir holds the controllers' logs (NAME.log) and artifacts.
	Dir string

	script string
	env    []string
}

// FluxInstalled reports whether both controllers are built.
func FluxInstalled() bool {
	script, err := findScript("hack/testenv/flux.sh")
	if err != nil {
		return false
	}
	out, err := exec.Command(script, "bin").Output()
	if err != nil {
		return false
	}
	for _, name := range []string{"source-controller", "kustomize-controller"} {
		if _, err := os.Stat(filepath.Join(strings.TrimSpace(string(out)), name)); err != nil {
			return false
		}
	}
	return true
}

// RequireFlux skips the test unless SLIPWAY_E2E=1, and fails it when the
// controllers are not built then; make test builds them (make flux-deps).
// Call it before starting the control plane the controllers need.
func RequireFlux(t testing.TB) {
	t.Helper()
	if os.Getenv(E2EEnv) != "1" {
		t.Skipf("runs Flux's controllers against a control plane: set %s=1 (make test does)", E2EEnv)
	}
	if !FluxInstalled() {
		t.Fatalf("%v (%s=1 requires it)", ErrNoFlux, E2EEnv)
	}
}

// LaunchFlux applies Flux's CRDs to c, creates the namespace and starts both
// controllers, waiting until they are ready. Stop them with Stop; stopping
// c's control plane does not.
func LaunchFlux(c *Cluster, opts FluxOptions) (*Flux, error) {
	if !FluxInstalled() {
		return nil, ErrNoFlux
	}
	script, err := findScript("hack/testenv/flux.sh")
	if err != nil {
		return nil, err
	}
	for _, a := range append(append([]string{}, opts.SourceArgs...), opts.KustomizeArgs...) {
		if strings.ContainsAny(a, " \t\n") {
			return nil, fmt.Errorf("starting Flux: flag %.64q holds a space", a)
		}
	}
	f := &Flux{script: script, Dir: filepath.Join(filepath.Dir(c.Kubeconfig), "flux")}
	// flux.sh finds the kubeconfig and keeps its state under SLIPWAY_TESTENV,
	// the cluster's directory.
	f.env = append(append([]string{}, c.env...),
		"FLUX_SC_ARGS="+strings.Join(opts.SourceArgs, " "), "FLUX_KC_ARGS="+strings.Join(opts.KustomizeArgs, " "))
	out, err := f.run("start")
	if err != nil {
		return nil, fmt.Errorf("starting Flux: %w\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	envFile := lines[len(lines)-1]
	if f.Env, err = readEnvFile(envFile); err != nil {
		_ = f.Stop()
		return nil, err
	}
	f.Namespace = f.Env["FLUX_NS"]
	f.StorageURL = f.Env["FLUX_STORAGE_URL"]
	return f, nil
}

// StartFlux starts the controllers against c for a test (see RequireFlux
// for when it skips) and stops them when the test ends, after logging the
// end of their logs if the test failed.
func StartFlux(t testing.TB, c *Cluster, opts FluxOptions) *Flux {
	t.Helper()
	RequireFlux(t)
	f, err := LaunchFlux(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"source-controller", "kustomize-controller"} {
				t.Logf("last lines of %s's log:\n%s", name, f.LogTail(name, 40))
			}
		}
		if err := f.Stop(); err != nil {
			t.Errorf("stopping Flux: %v", err)
		}
	})
	return f
}

// Stop stops the controllers LaunchFlux started.
func (f *Flux) Stop() error {
	if out, err := f.run("stop"); err != nil {
		return fmt.Errorf("stopping Flux: %w\n%s", err, out)
	}
	return nil
}

// LogTail returns the last n lines of a controller's log
// ("source-controller" or "kustomize-controller").
func (f *Flux) LogTail(name string, n int) string {
	b, err := os.ReadFile(filepath.Join(f.Dir, name+".log"))
	if err != nil {
		return fmt.Sprintf("(reading the log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (f *Flux) run(args ...string) ([]byte, error) {
	cmd := exec.Command(f.script, args...)
	cmd.Env = f.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(stderr.Bytes(), out...), err
	}
	return out, nil
}

// readEnvFile reads flux.sh's KEY=VALUE lines.
func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading Flux's env file: %w", err)
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			env[k] = v
		}
	}
	if env["FLUX_NS"] == "" || env["SC_STORAGE"] == "" {
		return nil, fmt.Errorf("reading Flux's env file %s: no FLUX_NS or SC_STORAGE", path)
	}
	return env, nil
}
