package pipeline

import (
	"bytes"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/config"
)

// contentInput is the Input a caller builds from the content of dir's
// slipway.yaml and ci.yaml, and its modules', without Load.
func contentInput(t *testing.T, dir string, modules ...string) Input {
	t.Helper()
	read := func(rel string) File {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return File{Path: rel, Content: data}
	}
	in := Input{SlipwayYAML: read("slipway.yaml"), CIYAML: read("ci.yaml")}
	for _, m := range modules {
		if in.Modules == nil {
			in.Modules = map[string]Input{}
		}
		in.Modules[m] = Input{SlipwayYAML: read(path.Join(m, "slipway.yaml")), CIYAML: read(path.Join(m, "ci.yaml"))}
	}
	return in
}

// TestGenerateFromContent checks that an Input built from the files'
// content, by a caller that reads them as it likes, generates what Load's
// does, target by target, and that Parse decodes it once for all of them.
func TestGenerateFromContent(t *testing.T) {
	tests := []struct {
		dir     string
		modules []string
	}{
		{"../examples/hello-go", nil},
		{"../examples/monorepo", []string{"services/billing", "web"}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.dir), func(t *testing.T) {
			loaded := load(t, tt.dir)
			built := contentInput(t, tt.dir, tt.modules...)
			parsed, err := Parse(built)
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if parsed.ci == nil || parsed.project == nil || len(parsed.Modules) != len(tt.modules) {
				t.Fatalf("Parse left the input undecoded")
			}
			for _, target := range Targets {
				want, err := Generate(target, loaded)
				if err != nil {
					t.Fatal(err)
				}
				for name, in := range map[string]Input{"built": built, "parsed": parsed} {
					got, err := Generate(target, in)
					if err != nil {
						t.Fatalf("%s: Generate(%s) = %v", name, target, err)
					}
					if !bytes.Equal(joinFiles(got), joinFiles(want)) {
						t.Errorf("%s: Generate(%s) differs from Load's", name, target)
					}
				}
			}
		})
	}
}

// TestParseProblems checks that content that does not validate is
// refused with every problem, as Load refuses the file.
func TestParseProblems(t *testing.T) {
	in := contentInput(t, "../examples/hello-go")
	in.CIYAML.Content = []byte("apiVersion: slipway/v1\npipeline: [deploy: nowhere]\n")
	_, err := Generate(GitHub, in)
	var probs config.Problems
	if !errors.As(err, &probs) || !strings.Contains(err.Error(), "ci.yaml:2") {
		t.Errorf("Generate = %v, want the problems of ci.yaml", err)
	}
	bad := contentInput(t, "../examples/monorepo", "web")
	bad.Modules["web"] = Input{SlipwayYAML: File{Path: "web/slipway.yaml", Content: []byte("app: [\n")}, CIYAML: bad.Modules["web"].CIYAML}
	if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "module web: web/slipway.yaml") {
		t.Errorf("Parse = %v, want the module's problem", err)
	}
}
