package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// NodeEnv, when "1", runs the tests that need a real node (containerd,
// runc, kubelet and kube-proxy from hack/testenv/node.sh); make test sets
// it when run as root, make test-node always. They are skipped otherwise,
// so that go test ./... needs no node.
const NodeEnv = "SLIPWAY_REALNODE"

// ErrNoNode is returned by StartNode when NodeEnv is not "1" or the
// process is not root.
var ErrNoNode = errors.New("the real node is off; run make test as root (" + NodeEnv + "=1)")

// NodeClusterPorts are the ports of the control plane a real node joins in
// tests, apart from make demo's (k8s.sh defaults) and make test's
// (ClusterPorts), so that the three can run side by side; all below the
// kernel's ephemeral range (32768-60999), where an outgoing connection
// could hold one.
var NodeClusterPorts = map[string]string{
	"SLIPWAY_APISERVER_PORT": "27443", "SLIPWAY_ETCD_PORT": "27379", "SLIPWAY_ETCD_PEER_PORT": "27380",
	"SLIPWAY_KCM_PORT": "27457", "SLIPWAY_SCHEDULER_PORT": "27459", "SLIPWAY_KWOK_PORT": "27250",
}

// NodeRegistryPort is the port of the docker-registry the test node pulls
// from (plain HTTP on 127.0.0.1).
const NodeRegistryPort = "27050"

// NodeAuthRegistryPort is a port on the host's 127.0.0.1 the node may pull
// from too (relayed into its namespace), for a registry that needs
// credentials; a test starts one there when it needs it.
const NodeAuthRegistryPort = "27052"

// Node is a control plane with one real node and no simulated ones.
type Node struct {
	// Cluster is the control plane; its Kubeconfig and Kubectl drive the node.
	*Cluster
	// Name is the node's name in the cluster.
	Name string
	// Registry is 127.0.0.1:PORT, the registry the node pulls from.
	Registry string

	script string
}

// RequireNode skips the test unless NodeEnv is "1" and the test runs as root.
func RequireNode(t testing.TB) {
	t.Helper()
	if os.Getenv(NodeEnv) != "1" {
		t.Skipf("needs a real node: run make test as root (sets %s=1)", NodeEnv)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s=1 needs root (network namespace, cgroups, mounts)", NodeEnv)
	}
}

// StartNode starts, with its state in dir, a control plane without
// simulated nodes, then a real node joined to it (hack/testenv/node.sh),
// building what is missing. Stop both with Stop.
func StartNode(dir string) (*Node, error) {
	if os.Getenv(NodeEnv) != "1" || os.Geteuid() != 0 {
		return nil, ErrNoNode
	}
	k8s, err := findScript("hack/testenv/k8s.sh")
	if err != nil {
		return nil, err
	}
	script, err := findScript("hack/testenv/node.sh")
	if err != nil {
		return nil, err
	}
	c := &Cluster{script: k8s, Context: "slipway-local", Kubeconfig: filepath.Join(dir, "kubeconfig")}
	c.env = append(os.Environ(), "SLIPWAY_TESTENV="+dir, "SLIPWAY_NODES=0", "SLIPWAY_NODE_REGISTRY_PORT="+NodeRegistryPort,
		"SLIPWAY_NODE_PULL_PORTS="+NodeAuthRegistryPort)
	for k, v := range NodeClusterPorts {
		c.env = append(c.env, k+"="+v)
	}
	n := &Node{Cluster: c, Name: "slipway-real-node", Registry: "127.0.0.1:" + NodeRegistryPort, script: script}
	if out, err := n.run(k8s, "install-node"); err != nil {
		return nil, fmt.Errorf("installing the node's binaries: %w\n%s", err, out)
	}
	if out, err := n.run(k8s, "start"); err != nil {
		// A start that failed part way can leave some components running:
		// stop whatever it started, by the PIDs it recorded.
		_ = c.Stop()
		return nil, fmt.Errorf("starting the control plane: %w\n%s", err, out)
	}
	bin, err := n.run(k8s, "bin")
	if err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("finding kubectl: %w", err)
	}
	c.Kubectl = filepath.Join(strings.TrimSpace(string(bin)), "kubectl")
	if out, err := n.run(script, "start"); err != nil {
		_ = c.Stop()
		return nil, fmt.Errorf("starting the node: %w\n%s", err, out)
	}
	return n, nil
}

// Stop stops the node, undoing what it did to the host, then the control
// plane.
func (n *Node) Stop() error {
	out, err := n.run(n.script, "stop")
	if err != nil {
		err = fmt.Errorf("stopping the node: %w\n%s", err, out)
	}
	return errors.Join(err, n.Cluster.Stop())
}

// StopProxy stops kube-proxy and removes its rules; StartProxy starts it again.
func (n *Node) StopProxy() error {
	if out, err := n.run(n.script, "proxy-stop"); err != nil {
		return fmt.Errorf("stopping kube-proxy: %w\n%s", err, out)
	}
	return nil
}

// StartProxy starts kube-proxy and waits until it is healthy.
func (n *Node) StartProxy() error {
	if out, err := n.run(n.script, "proxy-start"); err != nil {
		return fmt.Errorf("starting kube-proxy: %w\n%s", err, out)
	}
	return nil
}

// Exec runs a command inside the node's network namespace.
func (n *Node) Exec(args ...string) ([]byte, error) {
	return n.run(n.script, append([]string{"exec"}, args...)...)
}

// Script runs hack/testenv/node.sh with the node's environment.
func (n *Node) Script(args ...string) ([]byte, error) {
	return n.run(n.script, args...)
}

func (n *Node) run(script string, args ...string) ([]byte, error) {
	cmd := exec.Command(script, args...)
	cmd.Env = n.env
	return cmd.CombinedOutput()
}

// HostSnapshot is what hack/testenv/node.sh snapshot prints: the host state
// (sysctls, links, addresses, routes, iptables, mounts, host paths, cgroups,
// processes of the node's binaries) that stopping a node must restore.
func HostSnapshot() (string, error) {
	script, err := findScript("hack/testenv/node.sh")
	if err != nil {
		return "", err
	}
	out, err := exec.Command(script, "snapshot").Output()
	if err != nil {
		return "", fmt.Errorf("taking a host snapshot: %w", err)
	}
	return string(out), nil
}
