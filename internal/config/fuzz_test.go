package config

import (
	"errors"
	"gopkg.in/yaml.v3"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSeeds adds every example project's file called name, and the hostile
// files, to f's corpus (on top of the committed testdata/fuzz corpus).
func fuzzSeeds(f *testing.F, name string, ci bool) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*", name))
	more, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*", "*", name))
	for _, p := range append(paths, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	for _, h := range hostileFiles() {
		if h.ci == ci && len(h.data) <= 64<<10 {
			f.Add([]byte(h.data))
		}
	}
}

// fuzzLimits makes each input cheap under the fuzzer's instrumentation,
// which makes a file near DefaultLimits take a second or more; the bounds
// themselves are held by TestHostileInputIsBounded.
func fuzzLimits(f *testing.F) {
	saved := DefaultLimits
	DefaultLimits = Limits{MaxBytes: 32 << 10, MaxNodes: 5_000}
	f.Cleanup(func() { DefaultLimits = saved })
}

// checkParsed holds what any input must give: a project or a bounded report
// of problems, never a panic.
func checkParsed(t *testing.T, data []byte, err error) {
	if err == nil {
		return
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("an error that is not Problems: %T %v", err, err)
	}
	if len(ps) == 0 {
		t.Fatal("empty Problems as an error")
	}
	if len(ps) > maxProblems+1 {
		t.Fatalf("%d problems collected; the most is %d", len(ps), maxProblems+1)
	}
	if msg := err.Error(); len(msg) > 64<<10 || (len(data) < 100 && strings.Count(msg, "\n") > 100) {
		t.Fatalf("a %d-byte report", len(msg))
	}
}

func FuzzParseProject(f *testing.F) {
	fuzzLimits(f)
	fuzzSeeds(f, ProjectFile, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProject(ProjectFile, data)
		if p == nil {
			t.Fatal("ParseProject returned no project")
		}
		checkParsed(t, data, err)
	})
}

func FuzzParseCI(f *testing.F) {
	fuzzLimits(f)
	fuzzSeeds(f, CIFile, true)
	project, err := ParseProject(ProjectFile, []byte(projectHead+"registries: {dev: example.com/x, rc: example.com/y}\nenvironments: {dev: {registry: dev}, prod: {registry: rc}}\n"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCI(CIFile, data, project)
		if c == nil {
			t.Fatal("ParseCI returned nothing")
		}
		checkParsed(t, data, err)
	})
}

func FuzzParseYAML(f *testing.F) {
	fuzzSeeds(f, ProjectFile, false)
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("a: 1\n---\nb: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		root, probs := ParseYAML("f.yaml", data, Limits{MaxBytes: 64 << 10, MaxNodes: 10_000})
		if root != nil && len(probs) > 0 {
			t.Fatal("both a document and problems")
		}
		if root != nil {
			c := nodeCounter{memo: map[*yaml.Node]int{}, limit: 10_000}
			if n := c.count(root); n > 10_000 {
				t.Fatalf("accepted a document of %d values", n)
			}
		}
	})
}

func FuzzExpandFrom(f *testing.F) {
	for _, s := range []string{"dist/{{.OS}}_{{.Arch}}/app", "{{if .Variant}}{{.Variant}}{{else}}x{{end}}", "{{range 5}}x{{end}}", `{{printf "%s" .OS}}`, "../x", "a/../../b", "{{if eq .Arch \"arm\"}}arm{{end}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, from string) {
		out, err := ExpandFrom(from, "linux", "arm", "v7")
		if err != nil {
			return
		}
		if len(out) > len(from)+3*len("linux")*strings.Count(from, "{{")+16 {
			t.Fatalf("a %d-byte from expanded to %d bytes", len(from), len(out))
		}
		clean, err := CheckFrom(out)
		if err != nil {
			return
		}
		if strings.HasPrefix(clean, "/") || clean == ".." || strings.HasPrefix(clean, "../") {
			t.Fatalf("CheckFrom accepted %q as %q", out, clean)
		}
		for _, seg := range strings.Split(clean, "/") {
			if seg == ".git" || seg == ".slipway" {
				t.Fatalf("CheckFrom accepted %q", clean)
			}
		}
	})
}
