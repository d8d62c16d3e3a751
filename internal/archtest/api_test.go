package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// publicPackages are the packages other modules may import; their exported
// API speaks in standard-library, go-containerregistry and their own types,
// as go-containerregistry's pkg/crane does.
var publicPackages = []string{"promote", "pipeline"}

// TestPublicAPIHidesInternalTypes fails when an exported identifier of a
// public package (a function's parameters and results, an exported type,
// an exported field or method, a typed variable or constant) mentions a
// type of a package under internal/.
func TestPublicAPIHidesInternalTypes(t *testing.T) {
	for _, pkg := range publicPackages {
		found, err := internalTypesInAPI(filepath.Join("..", "..", pkg), pkg)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			t.Errorf("%s: the public API mentions an internal type; use a standard-library, go-containerregistry or the package's own type", f)
		}
	}
}

// internalTypesInAPI parses the non-test files of package pkg in dir and
// returns what its exported API mentions of internal packages.
func internalTypesInAPI(dir, pkg string) ([]string, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	var found []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", file, err)
		}
		internal := internalImports(f)
		for _, decl := range f.Decls {
			for ident, expr := range exportedTypeExprs(decl) {
				for _, typ := range internalRefs(expr, internal) {
					found = append(found, pkg+"."+ident+": "+typ)
				}
			}
		}
	}
	return found, nil
}

// internalImports maps the names file f imports internal packages by to
// their paths below the module, e.g. registry -> internal/registry.
func internalImports(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		rel, ok := strings.CutPrefix(p, module)
		if !ok || !strings.HasPrefix(rel, "internal/") {
			continue
		}
		name := path.Base(p)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		m[name] = rel
	}
	return m
}

// exportedTypeExprs yields, for each exported identifier decl declares, the
// type expressions that are part of the API: a function's signature (a
// method's only when its receiver type is exported), an exported type's
// definition (see visible), a variable's or constant's declared type.
func exportedTypeExprs(decl ast.Decl) func(yield func(string, ast.Expr) bool) {
	return func(yield func(string, ast.Expr) bool) {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() {
				return
			}
			name := d.Name.Name
			if d.Recv != nil && len(d.Recv.List) > 0 {
				recv := receiverName(d.Recv.List[0].Type)
				if !ast.IsExported(recv) {
					return
				}
				name = recv + "." + name
			}
			yield(name, d.Type)
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() && !yield(s.Name.Name, visible(s.Type)) {
						return
					}
					if s.TypeParams != nil && s.Name.IsExported() && !yield(s.Name.Name, &ast.FuncType{Params: s.TypeParams}) {
						return
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Type != nil && !yield(n.Name, s.Type) {
							return
						}
					}
				}
			}
		}
	}
}

// receiverName is the type name of a method receiver, without * or type
// parameters.
func receiverName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return receiverName(t.X)
	case *ast.IndexExpr:
		return receiverName(t.X)
	case *ast.IndexListExpr:
		return receiverName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return ""
}

// visible is the part of a type definition other packages see: e with
// the unexported, non-embedded fields and methods of its structs and
// interfaces (at any depth) left out.
func visible(e ast.Expr) ast.Expr {
	filter := func(fl *ast.FieldList) *ast.FieldList {
		if fl == nil {
			return nil
		}
		out := &ast.FieldList{}
		for _, f := range fl.List {
			var names []*ast.Ident
			for _, n := range f.Names {
				if n.IsExported() {
					names = append(names, n)
				}
			}
			if len(f.Names) > 0 && len(names) == 0 {
				continue
			}
			out.List = append(out.List, &ast.Field{Names: names, Type: visible(f.Type)})
		}
		return out
	}
	switch t := e.(type) {
	case *ast.StructType:
		return &ast.StructType{Fields: filter(t.Fields)}
	case *ast.InterfaceType:
		return &ast.InterfaceType{Methods: filter(t.Methods)}
	case *ast.StarExpr:
		return &ast.StarExpr{X: visible(t.X)}
	case *ast.ArrayType:
		return &ast.ArrayType{Len: t.Len, Elt: visible(t.Elt)}
	case *ast.MapType:
		return &ast.MapType{Key: visible(t.Key), Value: visible(t.Value)}
	case *ast.ChanType:
		return &ast.ChanType{Dir: t.Dir, Value: visible(t.Value)}
	}
	return e
}

// internalRefs lists the internal types expr mentions, as
// "internal/PKG.TYPE".
func internalRefs(expr ast.Expr, internal map[string]string) []string {
	var refs []string
	ast.Inspect(expr, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok {
			if p, ok := internal[x.Name]; ok {
				refs = append(refs, p+"."+sel.Sel.Name)
			}
		}
		return false
	})
	return refs
}
