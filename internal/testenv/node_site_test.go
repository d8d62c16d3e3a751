package testenv_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRealNodeStaticSite runs examples/static-site on the real node: its
// own file server and the site's files in one image; the page answers
// through the Service.
func TestRealNodeStaticSite(t *testing.T) {
	n := startNode(t)
	const ns = "docs"
	files := exampleFiles(t, "static-site", "Makefile", "go.mod", "pod.yml", "serve/main.go", "site/index.html")
	files[".gitignore"] = []byte("dist/\n.slipway/\n")
	// The example's slipway.yaml, aimed at the node: one platform, the
	// node's registry, one environment.
	files["slipway.yaml"] = []byte(fmt.Sprintf(`apiVersion: slipway/v1
app: docs
image:
  base: scratch
  platforms: [linux/%s]
  layers:
    - {from: "dist/{{.OS}}_{{.Arch}}/serve", to: /app/serve, mode: "0755"}
    - {from: site, to: /srv/www}
  entrypoint: [/app/serve, -dir, /srv/www, -addr, ":8080"]
  ports: [8080]
registries:
  dev: {url: %s/web, insecure: true}
environments:
  dev: {registry: dev, context: slipway-local, namespace: %s, replicas: 2}
deploy:
  drain: 1s
`, runtime.GOARCH, n.Registry, ns))
	p := newProject(t, n, files)
	p.ship(t, "feat: the site")
	p.run(t, p.slipway, "deploy", "dev")
	page := get(t, "http://"+p.service(t, ns, "docs")+"/", 10*time.Second)
	want, err := os.ReadFile("../../examples/static-site/site/index.html")
	if err != nil {
		t.Fatal(err)
	}
	if page != string(want) {
		t.Fatalf("GET / via the ClusterIP = %q; want site/index.html", page)
	}
	t.Logf("the site answered: %s", strings.SplitN(page, "\n", 2)[0])
}
