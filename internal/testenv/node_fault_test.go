package testenv_test

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testutil"
)

// TestFaultRealNode injects faults into the real node while Slipway waits
// for a rollout of hello-go: the kubelet, then containerd, killed (SIGKILL)
// and started again; and Slipway itself killed mid-rollout, then run again.
// Each try is correct when the deploy that saw the fault (or the next one)
// ends in success with the new version ready on every replica; data is
// lost when Slipway reports success for a version that does not run. Rows
// go to hack/faults.sh's table.
func TestFaultRealNode(t *testing.T) {
	n := startNode(t)
	const ns, tries = "faults", 2
	envs := fmt.Sprintf("  dev: {registry: dev, context: slipway-local, namespace: %s, replicas: 3}\n", ns)
	p := newHelloProject(t, n, helloConfig("hello", n.Registry, "1s", envs), nil)
	p.ship(t, "feat: hello")
	p.run(t, p.slipway, "deploy", "dev")

	// runs reports whether every replica of the Deployment is ready and
	// runs version.
	runs := func(version string) bool {
		out, err := exec.Command(n.Kubectl, "--kubeconfig", n.Kubeconfig, "-n", ns, "get", "deploy", "hello", "-o",
			`jsonpath={.status.readyReplicas}/{.status.updatedReplicas}/{.status.replicas} {.metadata.annotations.slipway\.dev/version}`).Output()
		return err == nil && strings.TrimSpace(string(out)) == "3/3/3 "+version
	}
	// deploy starts `slipway deploy dev` and returns a function that waits
	// for it and reports its exit code.
	deploy := func(args ...string) (*exec.Cmd, func() int) {
		cmd := exec.Command(p.slipway, append([]string{"deploy", "dev"}, args...)...)
		cmd.Dir, cmd.Env = p.dir, p.env
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, func() int {
			err := cmd.Wait()
			t.Logf("slipway deploy dev %s: %v\n%s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
			return testutil.ExitCode(err)
		}
	}
	// rolling waits until the rollout of the Deployment's new template has
	// begun (a second ReplicaSet with pods), or 20 s.
	rolling := func() {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			out, _ := exec.Command(n.Kubectl, "--kubeconfig", n.Kubeconfig, "-n", ns, "get", "rs", "-o",
				"jsonpath={range .items[*]}{.status.replicas}{' '}{end}").Output()
			if len(strings.Fields(string(out))) >= 2 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	node := func(args ...string) {
		if out, err := n.Script(args...); err != nil {
			t.Fatalf("node.sh %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	for _, component := range []string{"kubelet", "containerd"} {
		var f testutil.FaultTally
		for i := 0; i < tries; i++ {
			version := p.ship(t, fmt.Sprintf("fix: %s fault %d", component, i))
			t0 := time.Now()
			_, wait := deploy()
			rolling()
			node("kill", component)
			time.Sleep(2 * time.Second)
			node("revive", component)
			code := wait()
			f.Tries++
			ok := runs(version)
			switch {
			case code == 0 && ok:
				f.Correct++
				f.Recovered(time.Since(t0))
			case code == 0:
				f.Lost++
				t.Errorf("%s killed: slipway deploy succeeded, but %s does not run on every replica", component, version)
			default:
				t.Errorf("%s killed and started again during the rollout of %s: slipway deploy exited %d; want 0", component, version, code)
			}
		}
		f.Row(t, component+" killed (SIGKILL) and restarted during a rollout (real node)")
	}

	var f testutil.FaultTally
	for i := 0; i < tries; i++ {
		version := p.ship(t, fmt.Sprintf("fix: slipway killed %d", i))
		cmd, wait := deploy()
		rolling()
		t0 := time.Now()
		_ = cmd.Process.Signal(syscall.SIGKILL)
		wait()
		// The killed run's lock expires 30 s after its last renewal: the
		// next run waits for it.
		_, again := deploy("--wait-lock")
		code := again()
		f.Tries++
		switch ok := runs(version); {
		case code == 0 && ok:
			f.Correct++
			f.Recovered(time.Since(t0))
		case code == 0:
			f.Lost++
			t.Errorf("after slipway was killed, the next deploy succeeded, but %s does not run on every replica", version)
		default:
			t.Errorf("after slipway was killed mid-rollout, the next deploy of %s exited %d; want 0", version, code)
		}
	}
	f.Row(t, "slipway deploy killed (SIGKILL) mid-rollout, run again (real node)")
}
