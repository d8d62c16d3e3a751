package deploy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
)

func FuzzParsePod(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*", "pod.yml"))
	for _, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"containers: [{name: web, image: x}]\n",
		"metadata: {labels: {a: no}}\nspec: {containers: [{name: web, tty: yes}]}\n",
		"spec:\n  containers:\n    - name: web\n      resources: {limits: {memory: 1Gi, cpu: .5}}\n      ports: [{containerPort: 1e3}]\n",
		"spec: {containers: [{name: web, readinessProbe: {httpGet: {port: http}}}]}\n",
		"spec: {}\n---\nspec: {}\n", "kind: Deployment\n", "? [a]\n: b\n", "spec: {containers: [{name: web, args: [.inf, .nan, 0x1F, 0o17]}]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParsePod("pod.yml", data)
		if err == nil {
			return
		}
		var ps config.Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("an error that is not Problems: %T %v", err, err)
		}
		if len(ps) > 200 { // the most config.DecodeJSON reports
			t.Fatalf("%d problems", len(ps))
		}
		if len(err.Error()) > 64<<10 {
			t.Fatalf("a %d-byte report", len(err.Error()))
		}
		// A file naming no key of a Pod is refused whole, never decoded
		// into problems that quote it.
		if !slices.ContainsFunc(podKeys, func(k string) bool { return bytes.Contains(data, []byte(k)) }) &&
			(len(ps) != 1 || ps[0].Field != "") {
			t.Fatalf("a file that is no pod manifest was decoded: %v", err)
		}
	})
}
