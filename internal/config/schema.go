package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Schema returns a JSON Schema (draft 2020-12) for slipway.yaml ("slipway"),
// ci.yaml ("ci"), or both ("", a schema matching either file).
func Schema(which string) ([]byte, error) {
	g := &schemaGen{defs: map[string]any{}}
	var root map[string]any
	switch strings.TrimSuffix(which, ".yaml") {
	case "slipway":
		root = g.ref(reflect.TypeOf(Project{}))
		root["title"] = ProjectFile
	case "ci":
		root = g.ref(reflect.TypeOf(CI{}))
		root["title"] = CIFile
	case "":
		root = map[string]any{
			"title": ProjectFile + " or " + CIFile,
			"anyOf": []any{g.ref(reflect.TypeOf(Project{})), g.ref(reflect.TypeOf(CI{}))},
		}
	default:
		return nil, fmt.Errorf("no schema for %q; valid: %s, %s", which, ProjectFile, CIFile)
	}
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$defs"] = g.defs
	out, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding schema: %w", err)
	}
	return append(out, '\n'), nil
}

// schemaGen turns Go types into JSON Schema, sharing struct definitions.
type schemaGen struct{ defs map[string]any }

var (
	registriesType   = reflect.TypeOf(Registries{})
	environmentsType = reflect.TypeOf(Environments{})
	tasksType        = reflect.TypeOf(Tasks{})
	requirementType  = reflect.TypeOf(Requirement{})
	stepType         = reflect.TypeOf(Step{})
	checkType        = reflect.TypeOf(Check{})
	surgeType        = reflect.TypeOf(Surge(""))
)

func (g *schemaGen) ref(t reflect.Type) map[string]any {
	name := t.Name()
	if _, ok := g.defs[name]; !ok {
		g.defs[name] = nil // reserve, for recursive types
		obj := g.object(t)
		if t == checkType { // one kind per check
			obj["minProperties"], obj["maxProperties"] = 1, 1
		}
		g.defs[name] = obj
	}
	return map[string]any{"$ref": "#/$defs/" + name}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for name, i := range yamlFields(t) {
		f := t.Field(i)
		s := g.schema(f.Type)
		if doc := f.Tag.Get("doc"); doc != "" {
			s["description"] = doc
		}
		if e := f.Tag.Get("enum"); e != "" {
			s["enum"] = strings.Split(e, ",")
		}
		props[name] = s
		if f.Tag.Get("required") == "true" {
			required = append(required, name)
		}
	}
	obj := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		obj["required"] = required
	}
	return obj
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case durationType:
		return map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`}
	case registriesType:
		return names(map[string]any{"anyOf": []any{
			map[string]any{"type": "string"}, g.ref(reflect.TypeOf(Registry{}))}})
	case environmentsType:
		return names(g.ref(reflect.TypeOf(Environment{})))
	case tasksType:
		return names(map[string]any{"anyOf": []any{
			map[string]any{"type": "string"}, g.ref(reflect.TypeOf(Task{}))}})
	case surgeType:
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "integer", "minimum": 1, "maximum": maxSurgeCount},
			map[string]any{"type": "string", "pattern": `^([1-9][0-9]?|100)%$`}}}
	case requirementType:
		return map[string]any{"anyOf": []any{map[string]any{"type": "string"}, g.ref(t)}}
	case stepType:
		return map[string]any{"anyOf": []any{map[string]any{"type": "string"}, g.ref(t)}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.Struct:
		return g.ref(t)
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return names(g.schema(t.Elem()))
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	}
	panic("config: no schema for " + t.String())
}

func names(item map[string]any) map[string]any {
	return map[string]any{"type": "object", "additionalProperties": item}
}
