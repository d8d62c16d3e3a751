package pipeline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slipwayhq/slipway/internal/config"
)

// writeFiles writes files (path: content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// aliasedEnv writes n variables that all alias one value of size bytes:
// a small file whose env is large.
func aliasedEnv(indent string, n, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%sV0: &big %s\n", indent, strings.Repeat("v", size))
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "%sV%d: *big\n", indent, i)
	}
	return b.String()
}

// taskSteps is a pipeline of n steps running task t.
func taskSteps(n int) string {
	return "pipeline: [" + strings.TrimSuffix(strings.Repeat("t, ", n), ", ") + "]\n"
}

const sizeProject = "apiVersion: slipway/v1\napp: hello\n"

// TestSharedEnvIsWrittenOnce holds every target to writing ci.yaml's env
// once, not into every step: 1 MB of env and 80 steps made an 80 MB
// .drone.yml, and generating it allocated several times that.
func TestSharedEnvIsWrittenOnce(t *testing.T) {
	const envBytes = 20 * 50 << 10
	in := loadText(t, sizeProject, "apiVersion: slipway/v1\ntasks: {t: x}\nenv:\n"+aliasedEnv("  ", 20, 50<<10)+taskSteps(80))
	for _, tg := range Targets {
		t.Run(string(tg), func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			files, err := Generate(tg, in)
			runtime.ReadMemStats(&after)
			if err != nil {
				t.Fatal(err)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			size := 0
			for _, f := range files {
				size += len(f.Content)
			}
			t.Logf("%d bytes written, %.1f MB allocated", size, float64(alloc)/(1<<20))
			if size > 2*envBytes {
				t.Errorf("wrote %d bytes for %d bytes of env; want it written once", size, envBytes)
			}
			if alloc > 64<<20 {
				t.Errorf("allocated %.1f MB; want under 64 MB", float64(alloc)/(1<<20))
			}
			if tg == Drone {
				checkDroneEnv(t, files[0].Content, 80)
			}
		})
	}
}

// checkDroneEnv checks that each of the steps of the .drone.yml gets all 20
// variables of the shared env, as a YAML parser reads it.
func checkDroneEnv(t *testing.T, content []byte, steps int) {
	t.Helper()
	var doc struct {
		Steps []struct {
			Name        string
			Environment map[string]string
		}
	}
	if err := yaml.Unmarshal(content, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Steps) != steps+1 {
		t.Fatalf("%d steps, want %d and the tag fetch", len(doc.Steps), steps)
	}
	for _, st := range doc.Steps[1:] {
		if len(st.Environment) != 20 || len(st.Environment["V19"]) != 50<<10 {
			t.Fatalf("step %s gets %d variables, want the 20 of ci.yaml env", st.Name, len(st.Environment))
		}
	}
}

// TestGenerateRefusesOversizedModules holds the bound across a project and
// its modules, which config check sees one at a time but Drone and GitLab
// write into one file.
func TestGenerateRefusesOversizedModules(t *testing.T) {
	ci := "apiVersion: slipway/v1\ntasks:\n  t:\n    run: x\n    env:\n" + aliasedEnv("      ", 20, 50<<10) + taskSteps(2)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"slipway.yaml": sizeProject, "ci.yaml": strings.Replace(ci, "tasks:", "modules: [a, b]\ntasks:", 1),
		"a/slipway.yaml": sizeProject, "a/ci.yaml": ci, "b/slipway.yaml": sizeProject, "b/ci.yaml": ci,
	})
	in := load(t, dir)
	for _, tg := range Targets {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Generate(tg, in)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "modules: the generated CI files would hold about") {
			t.Fatalf("%s: want a problem at modules, got %v", tg, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("%s: allocated %d bytes before refusing", tg, alloc)
		}
	}
}

// TestOutputEstimateBoundsGeneratedSize holds config's estimate above what
// every target writes for the examples and test projects, so the bound
// config check enforces bounds the files.
func TestOutputEstimateBoundsGeneratedSize(t *testing.T) {
	for _, c := range cases(t) {
		estimate := c.in.ci.OutputEstimate()
		for _, m := range c.in.Modules {
			estimate += m.ci.OutputEstimate()
		}
		for _, tg := range Targets {
			files, err := Generate(tg, c.in)
			if err != nil {
				t.Fatalf("%s/%s: %v", c.name, tg, err)
			}
			size := 0
			for _, f := range files {
				size += len(f.Content)
			}
			if int64(size) > estimate {
				t.Errorf("%s/%s: wrote %d bytes, more than the estimate of %d", c.name, tg, size, estimate)
			}
		}
	}
}
