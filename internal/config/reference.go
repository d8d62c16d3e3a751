package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Reference returns a Markdown reference of both files, generated from the
// same types and field docs the loader and Schema use.
func Reference() string {
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("Generated from Slipway's own types by `go test ./internal/config -update`; do not edit by hand.\n")
	b.WriteString("Both files are strict: an unknown field, a wrong type or a duplicate key is an error\n")
	b.WriteString("with its file, line and column. `slipway config check` reports every problem at once;\n")
	b.WriteString("`slipway schema` prints a JSON Schema for editors.\n")
	for _, f := range []struct {
		title string
		t     reflect.Type
	}{{ProjectFile, reflect.TypeOf(Project{})}, {CIFile, reflect.TypeOf(CI{})}} {
		fmt.Fprintf(&b, "\n## %s\n", f.title)
		seen := map[reflect.Type]bool{}
		refSection(&b, f.t, "", seen)
	}
	return b.String()
}

// refSection writes one table for struct t, then one for each struct it holds.
func refSection(b *strings.Builder, t reflect.Type, path string, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	if path != "" {
		fmt.Fprintf(b, "\n### `%s`\n", path)
	}
	b.WriteString("\n| field | type | description |\n| --- | --- | --- |\n")
	type child struct {
		t    reflect.Type
		path string
	}
	var children []child
	for name, i := range yamlFields(t) {
		f := t.Field(i)
		doc := f.Tag.Get("doc")
		if e := f.Tag.Get("enum"); e != "" {
			doc += " (one of: " + strings.ReplaceAll(e, ",", ", ") + ")"
		}
		if f.Tag.Get("required") == "true" {
			doc = "**required** " + doc
		}
		typ, inner, sub := typeName(f.Type)
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", name, typ, doc)
		if inner != nil {
			children = append(children, child{inner, join(path, name) + sub})
		}
	}
	for _, c := range children {
		refSection(b, c.t, c.path, seen)
	}
}

// typeName describes t for people, returning any struct it holds and the
// path suffix that reaches it.
func typeName(t reflect.Type) (string, reflect.Type, string) {
	switch t {
	case durationType:
		return "duration", nil, ""
	case registriesType:
		return "map of name to registry (or address)", reflect.TypeOf(Registry{}), ".NAME"
	case environmentsType:
		return "map of name to environment", reflect.TypeOf(Environment{}), ".NAME"
	case tasksType:
		return "map of name to task (or command)", reflect.TypeOf(Task{}), ".NAME"
	case surgeType:
		return "integer, or percentage", nil, ""
	case requirementType:
		return "environment name, or mapping", t, ""
	case stepType:
		return "step", t, ""
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Struct:
		return "mapping", t, ""
	case reflect.Slice:
		n, inner, sub := typeName(t.Elem())
		return "list of " + n, inner, "[]" + sub
	case reflect.Map:
		n, inner, sub := typeName(t.Elem())
		return "map of name to " + n, inner, ".NAME" + sub
	case reflect.Int:
		return "integer", nil, ""
	case reflect.Bool:
		return "boolean", nil, ""
	}
	return t.Kind().String(), nil, ""
}
