package templates

import (
	"io/fs"
	"os"
	"strings"
	"testing"
	"text/template"
)

func TestEveryTemplateParses(t *testing.T) {
	var n int
	err := fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".tmpl") {
			return err
		}
		n++
		src, err := fs.ReadFile(FS, path)
		if err != nil {
			return err
		}
		if _, err := template.New(path).Delims("[[", "]]").Parse(string(src)); err != nil {
			t.Errorf("parsing %s: %v", path, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"init", "pipeline"} {
		if m, _ := fs.Glob(FS, dir+"/*.tmpl"); len(m) == 0 {
			t.Errorf("no templates under %s", dir)
		}
	}
	if n == 0 {
		t.Fatal("no templates embedded")
	}
}

func TestRenderInit(t *testing.T) {
	b, err := Render("init/pod.yml.tmpl", map[string]any{"App": "hello", "Port": 8080, "Kind": "go", "JVM": false})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "8080") {
		t.Errorf("rendered pod.yml has no port:\n%s", b)
	}
}

// TestServeIsTheExample: the file server init gives a static site is
// examples/static-site's, which the real node runs.
func TestServeIsTheExample(t *testing.T) {
	got, err := fs.ReadFile(FS, "init/serve.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../examples/static-site/serve/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Error("templates/init/serve.go.txt differs from examples/static-site/serve/main.go; copy it over")
	}
}
