package config

// Strict decoding of YAML files shaped as JSON documents, such as pod.yml
// (a Kubernetes Pod): ParseYAML reads them as it reads slipway.yaml, and
// DecodeJSON checks and decodes them by their Go type's JSON fields.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// DecodeJSON decodes root, a document ParseYAML read from file, into out
// (a pointer) as encoding/json decodes its JSON form, strictly: unknown
// fields, duplicate keys, non-string keys and values of the wrong type are
// reported with their line and column, all at once. Types that decode
// JSON themselves (quantities, int-or-string) are tried with their own
// decoder.
func DecodeJSON(file string, root *yaml.Node, out any) Problems {
	c := jsonChecker{file: file}
	c.check(root, reflect.TypeOf(out).Elem(), "")
	if len(c.probs) > 0 {
		return c.probs
	}
	doc, err := json.Marshal(toJSON(root))
	if err != nil {
		return Problems{{File: file, Msg: fmt.Sprintf("converting to JSON: %v", err)}}
	}
	if err := json.Unmarshal(doc, out); err != nil {
		return Problems{{File: file, Msg: typeError(err)}}
	}
	return nil
}

// toJSON turns a checked YAML node into the value encoding/json writes,
// resolving scalars by YAML 1.2's core schema as yaml.v3 tags them: only
// true and false are booleans, so `no`, `on` and `y` stay strings, unlike
// the YAML 1.1 that Kubernetes' own YAML reader follows.
func toJSON(n *yaml.Node) any {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = toJSON(n.Content[i+1])
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, c := range n.Content {
			l[i] = toJSON(c)
		}
		return l
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		return n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
	case "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err == nil {
			if f, ok := v.(float64); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
				return n.Value
			}
			return v
		}
	}
	return n.Value
}

var jsonUnmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

// jsonChecker reports what the JSON decoder would refuse, with positions:
// unknown fields, duplicate keys, non-string keys and scalars of the wrong
// type. Values of types that decode themselves (quantities, int-or-string)
// are tried with their own decoder.
type jsonChecker struct {
	file  string
	probs Problems
}

// maxJSONProblems bounds the report for a hostile file.
const maxJSONProblems = 200

func (c *jsonChecker) add(n *yaml.Node, field, format string, args ...any) {
	if len(c.probs) >= maxJSONProblems {
		return
	}
	if len(field) > 160 {
		field = field[:160] + "…"
	}
	c.probs = append(c.probs, Problem{File: c.file, Line: n.Line, Col: n.Column, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *jsonChecker) check(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if len(c.probs) >= maxJSONProblems {
		return
	}
	if len(path) > 1024 {
		c.add(n, path, "nested too deeply")
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		c.selfDecoding(n, t, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		c.structure(n, t, path)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.add(n, path, "expected a mapping, got %s", kindName(n))
			return
		}
		c.pairs(n, path, func(_, v *yaml.Node, field string) { c.check(v, t.Elem(), field) })
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // []byte: base64 text
			c.scalar(n, path, "!!str", "a base64 string")
			return
		}
		if n.Kind != yaml.SequenceNode {
			c.add(n, path, "expected a list, got %s", kindName(n))
			return
		}
		for i, item := range n.Content {
			c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.String:
		c.scalar(n, path, "!!str", "a string")
	case reflect.Bool:
		c.scalar(n, path, "!!bool", "true or false")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		c.scalar(n, path, "!!int", "a whole number")
	case reflect.Float32, reflect.Float64:
		c.scalar(n, path, "!!int !!float", "a number")
	}
}

// structure checks a mapping against struct type t's JSON fields.
func (c *jsonChecker) structure(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		c.add(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := jsonFields(t)
	c.pairs(n, path, func(k, v *yaml.Node, field string) {
		ft, ok := fields[k.Value]
		if !ok {
			c.add(k, field, "%s", unknownField(k.Value, fields))
			return
		}
		c.check(v, ft, field)
	})
}

// pairs walks a mapping's keys, reporting duplicates and keys that are not
// strings.
func (c *jsonChecker) pairs(n *yaml.Node, path string, each func(k, v *yaml.Node, field string)) {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			c.add(k, path, "keys must be plain strings, got %s", kindName(k))
			continue
		}
		field := join(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			c.add(k, field, "duplicate key %q (first defined on line %d)", clipValue(k.Value), line)
			continue
		}
		seen[k.Value] = k.Line
		each(k, v, field)
	}
}

// scalar checks that n is a scalar whose YAML 1.2 tag is one of tags.
func (c *jsonChecker) scalar(n *yaml.Node, path, tags, what string) {
	if n.Kind != yaml.ScalarNode {
		c.add(n, path, "expected %s, got %s", what, kindName(n))
		return
	}
	if !strings.Contains(" "+tags+" ", " "+n.ShortTag()+" ") {
		msg := fmt.Sprintf("expected %s, got %s", what, kindName(n))
		if tags == "!!str" {
			msg += " (quote it to make it a string)"
		}
		c.add(n, path, "%s", msg)
	}
}

// selfDecoding tries a value on the type's own JSON decoder.
func (c *jsonChecker) selfDecoding(n *yaml.Node, t reflect.Type, path string) {
	data, err := json.Marshal(toJSON(n))
	if err == nil {
		err = json.Unmarshal(data, reflect.New(t).Interface())
	}
	if err != nil {
		c.add(n, path, "%s is not a valid %s: %s", kindName(n), t.Name(), typeError(err))
	}
}

// jsonFields maps a struct's JSON field names to their types, including
// inlined embedded structs.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
			maps.Copy(out, jsonFields(f.Type))
			continue
		}
		name = cmp.Or(name, f.Name)
		out[name] = f.Type
	}
	return out
}

func unknownField(got string, fields map[string]reflect.Type) string {
	names := slices.Sorted(maps.Keys(fields))
	msg := fmt.Sprintf("unknown field %q", clipValue(got))
	if s := Suggest(got, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	if len(names) <= 12 {
		msg += "; valid fields: " + strings.Join(names, ", ")
	}
	return msg
}

func typeError(err error) string {
	msg := err.Error()
	// "json: cannot unmarshal string into Go struct field ..."
	if i := strings.Index(msg, "json: "); i >= 0 {
		msg = msg[i+len("json: "):]
	}
	return msg
}

// clipValue shortens a value quoted in a problem about a JSON-shaped file.
func clipValue(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	return s[:most] + "…"
}

// HasKey reports whether mapping n has key.
func HasKey(n *yaml.Node, key string) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}
