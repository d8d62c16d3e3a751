package release

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports holds the layering rules: release reads git, not registries,
// clusters or the command line.
func TestImports(t *testing.T) {
	forbidden := []string{
		"github.com/google/go-containerregistry",
		"k8s.io/",
		"sigs.k8s.io/",
		"github.com/urfave/cli",
		"github.com/charmbracelet/",
		"github.com/slipwayhq/slipway/internal/cli",
		"github.com/slipwayhq/slipway/internal/ui",
		"github.com/slipwayhq/slipway/internal/testenv",
		"github.com/slipwayhq/slipway/internal/image",
		"github.com/slipwayhq/slipway/internal/registry",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if strings.HasPrefix(path, bad) {
					t.Errorf("%s imports %s", name, path)
				}
			}
		}
	}
}
