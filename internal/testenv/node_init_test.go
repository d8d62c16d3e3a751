package testenv_test

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestRealNodeInit is a newcomer's first deploy: in a Go module with a
// main package that serves HTTP, `slipway init` (told only the registry),
// then `slipway run deployToDev` with no edits (its build runs
// ciBuild first); the app answers
// through its Service.
func TestRealNodeInit(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("init scaffolds linux/amd64; this node is linux/%s", runtime.GOARCH)
	}
	n := startNode(t)
	p := newProject(t, n, map[string][]byte{
		"go.mod": []byte("module example.com/first\n\ngo 1.22\n"),
		"main.go": []byte(`package main

import (
	"log"
	"net/http"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello from my first app\n")) })
	log.Fatal(http.ListenAndServe(":8080", nil))
}
`),
	})
	out := p.run(t, p.slipway, "init", "--registry", n.Registry+"/team")
	if !strings.Contains(out, "Found a Go module") {
		t.Fatalf("init did not find the Go module:\n%s", out)
	}
	p.run(t, p.slipway, "config", "check")
	p.run(t, "git", "add", "-A")
	p.run(t, "git", "commit", "-q", "-m", "feat: my first app")
	p.run(t, p.slipway, "run", "deployToDev")
	// The app is named after its directory, app; its namespace is app-dev.
	page := get(t, "http://"+p.service(t, "app-dev", "app")+"/", 10*time.Second)
	if page != "hello from my first app\n" {
		t.Fatalf("GET / via the ClusterIP = %q", page)
	}
}
