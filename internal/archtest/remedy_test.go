package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// corePackages are the directories whose messages leave next steps to
// internal/cli.
var corePackages = []string{
	"internal/config", "internal/deadline", "internal/deploy", "internal/flow", "internal/image",
	"internal/progress", "internal/projfs", "internal/registry", "internal/release", "internal/remedy", "internal/sign", "promote",
}

// flagAllowed lists string literals in core packages that name a flag of
// the command line and are not a next step: a command a step runs, the
// value a message quotes, documentation of a field. Keyed by file, then
// the literal.
var flagAllowed = map[string][]string{
	// The commands of a step, as slipway tasks lists them and generated
	// pipelines run them.
	"internal/flow/graph.go": {"--no-deps"},
	// The option a bad value, or what was left, came from.
	"internal/flow/deploy.go":   {"deploying %s: --digest %q: %w: want sha256: and 64 hex digits"},
	"internal/flow/promote.go":  {"promoting with --sign: %w: %s has no signing section; add signing: {key: cosign.key}"},
	"internal/deploy/deploy.go": {"\nleft as it is (--no-rollback)"},
	// Other tools' command lines, whose flags share names with Slipway's.
	"internal/deploy/doctor.go": {
		"check the kubeconfig context with `kubectl --context ",
		"kubectl auth can-i %s %s/%s --context %s",
		"kubectl auth can-i %s %s -n %s --context %s",
	},
	"internal/flow/doctor_gitops.go": {
		"check the credentials of context %s with `kubectl auth can-i --list --context %s`",
		"kubectl auth can-i %s %s -n %s --context %s",
		"kubectl auth can-i %s %s --all-namespaces --context %s",
	},
	"internal/image/dockerfile.go": {"--platform", "--output", "--label", "--all"},
}

// TestNoCLIFlagsInCore keeps the command line's flags out of the core
// packages' strings: a core error carries its next step as a
// remedy.Remedy, and internal/cli words it (see cli.words).
func TestNoCLIFlagsInCore(t *testing.T) {
	flags := cliFlags(t)
	if len(flags) < 10 {
		t.Fatalf("found only %d flags in internal/cli: %v", len(flags), flags)
	}
	flag := regexp.MustCompile(`--([a-z][a-z0-9-]*)`)
	fset := token.NewFileSet()
	for _, dir := range corePackages {
		files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			rel := filepath.ToSlash(filepath.Join(dir, filepath.Base(path)))
			tags := map[*ast.BasicLit]bool{}
			ast.Inspect(f, func(n ast.Node) bool {
				if fl, ok := n.(*ast.Field); ok && fl.Tag != nil {
					tags[fl.Tag] = true // struct tags document fields
				}
				return true
			})
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING || tags[lit] {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil || slices.Contains(flagAllowed[rel], s) {
					return true
				}
				for _, m := range flag.FindAllStringSubmatch(s, -1) {
					if flags[m[1]] {
						t.Errorf("%s: %q names the flag --%s; carry a remedy.Remedy and word it in internal/cli",
							fset.Position(lit.Pos()), s, m[1])
					}
				}
				return true
			})
		}
	}
}

// cliFlags are the names of the flags internal/cli defines.
func cliFlags(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "cli", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			cl, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			sel, ok := cl.Type.(*ast.SelectorExpr)
			if !ok || !strings.HasSuffix(sel.Sel.Name, "Flag") {
				return true
			}
			for _, e := range cl.Elts {
				kv, ok := e.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); !ok || k.Name != "Name" {
					continue
				}
				if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					name, _ := strconv.Unquote(lit.Value)
					flags[name] = true
				}
			}
			return true
		})
	}
	return flags
}

// TestRemedyImportsNothing keeps internal/remedy a leaf that every core
// package may import: the standard library only.
func TestRemedyImportsNothing(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"internal/remedy").Output()
	if err != nil {
		t.Fatalf("listing the dependencies of internal/remedy: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != module+"internal/remedy" {
			t.Errorf("internal/remedy depends on %s; it must import the standard library only", dep)
		}
	}
}
