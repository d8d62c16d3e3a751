package testenv_test

import (
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRealNodeJVM runs examples/hello-jvm on the real node: a Java 17
// runtime base image made from Debian's packages (hack/jre-base.sh), the
// example's jar on top, the JVM preset sizing the heap from the memory
// limit; the greeter answers through its Service.
func TestRealNodeJVM(t *testing.T) {
	n := startNode(t)
	if _, err := exec.LookPath("apt-get"); err != nil {
		t.Skip("the JRE base is made from Debian's packages: needs apt-get")
	}
	base := n.Registry + "/base/jre:17"
	t0 := time.Now()
	out, err := exec.Command("../../hack/jre-base.sh", base).CombinedOutput()
	if err != nil {
		t.Fatalf("hack/jre-base.sh: %v\n%s", err, out)
	}
	t.Logf("timing: JRE base %s in %.1fs", strings.TrimSpace(string(out)), time.Since(t0).Seconds())

	const ns = "greeter"
	files := exampleFiles(t, "hello-jvm", "Makefile", "build/libs/greeter.jar", ".gitignore")
	// The example's slipway.yaml, with the base just built, the node's
	// registry, and one environment.
	files["slipway.yaml"] = []byte(fmt.Sprintf(`apiVersion: slipway/v1
app: greeter
release: {tagPrefix: v}
image:
  base: %s
  platforms: [linux/%s]
  layers:
    - {from: build/libs/greeter.jar, to: /app/greeter.jar}
  entrypoint: [java, -jar, /app/greeter.jar]
  ports: [8080]
registries:
  dev: {url: %s/team, insecure: true}
environments:
  dev: {registry: dev, context: slipway-local, namespace: %s, replicas: 2}
deploy:
  jvm: true
  port: 8080
  drain: 2s
  timeout: 2m
`, base, runtime.GOARCH, n.Registry, ns))
	// The example's pod.yml, with a smaller memory limit (the preset gives
	// the heap half of it and touches it all at start).
	pod, err := exampleFile("hello-jvm", "pod.yml")
	if err != nil {
		t.Fatal(err)
	}
	files["pod.yml"] = []byte(strings.ReplaceAll(strings.ReplaceAll(string(pod), "memory: 1Gi", "memory: 256Mi"), "cpu: 500m", "cpu: 100m"))
	p := newProject(t, n, files)
	p.ship(t, "feat: greeter")
	p.run(t, p.slipway, "deploy", "dev")
	body := get(t, "http://"+p.service(t, ns, "greeter")+"/", 10*time.Second)
	if want := "hello from greeter on Java 17"; !strings.HasPrefix(body, want) {
		t.Fatalf("GET via the ClusterIP = %q; want %s", body, want)
	}
	logs := kubectl(t, n, "", "-n", ns, "logs", "deploy/greeter")
	t.Logf("greeter: %s", logs)
}
