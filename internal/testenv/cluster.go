package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoCluster is returned by StartCluster when the control plane's
// binaries are not built yet and SLIPWAY_E2E is not set.
var ErrNoCluster = errors.New("the local control plane is not installed; run hack/testenv/k8s.sh install (make test does)")

// Cluster is a local control plane started by hack/testenv/k8s.sh.
type Cluster struct {
	// Kubeconfig is the file to point KUBECONFIG at; its context is Context.
	Kubeconfig string
	Context    string
	// Kubectl is the kubectl built with the control plane.
	Kubectl string

	script string
	env    []string
}

// ClusterPorts are the ports a test control plane listens on, apart from
// the ones hack/testenv/k8s.sh uses by default (for make demo).
var ClusterPorts = map[string]string{
	"SLIPWAY_APISERVER_PORT": "26443", "SLIPWAY_ETCD_PORT": "22379", "SLIPWAY_ETCD_PEER_PORT": "22380",
	"SLIPWAY_KCM_PORT": "26457", "SLIPWAY_SCHEDULER_PORT": "26459", "SLIPWAY_KWOK_PORT": "26250",
}

// ClusterInstalled reports whether the control plane's binaries are built.
func ClusterInstalled() bool {
	script, err := findScript("hack/testenv/k8s.sh")
	if err != nil {
		return false
	}
	out, err := exec.Command(script, "bin").Output()
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(strings.TrimSpace(string(out)), "kube-apiserver"))
	return err == nil
}

// StartCluster starts a control plane with its state in dir, installing it
// first when SLIPWAY_E2E=1 (a cold build takes minutes). Stop it with Stop.
func StartCluster(dir string) (*Cluster, error) {
	return StartClusterOn(dir, ClusterPorts)
}

// StartClusterOn is StartCluster on other ports (keys as in ClusterPorts),
// for a package whose tests run beside make test's other control planes.
func StartClusterOn(dir string, ports map[string]string) (*Cluster, error) {
	script, err := findScript("hack/testenv/k8s.sh")
	if err != nil {
		return nil, err
	}
	if !ClusterInstalled() && os.Getenv(E2EEnv) != "1" {
		return nil, ErrNoCluster
	}
	c := &Cluster{script: script, Context: "slipway-local", Kubeconfig: filepath.Join(dir, "kubeconfig")}
	c.env = append(os.Environ(), "SLIPWAY_TESTENV="+dir)
	for k, v := range ports {
		c.env = append(c.env, k+"="+v)
	}
	cmd := exec.Command(script, "start")
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = c.Stop() // what a failed start left running, by its recorded PIDs
		return nil, fmt.Errorf("starting the control plane: %w\n%s", err, out)
	}
	bin, err := exec.Command(script, "bin").Output()
	if err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("finding kubectl: %w", err)
	}
	c.Kubectl = filepath.Join(strings.TrimSpace(string(bin)), "kubectl")
	return c, nil
}

// Stop stops the processes StartCluster started.
func (c *Cluster) Stop() error {
	cmd := exec.Command(c.script, "stop")
	cmd.Env = c.env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("stopping the control plane: %w\n%s", err, out)
	}
	return nil
}

// findScript finds path relative to the module root, searching upward from
// the working directory.
func findScript(path string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, path), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("finding %s: no go.mod above the working directory", path)
		}
		dir = parent
	}
}
