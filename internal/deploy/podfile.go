package deploy

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
	corev1 "k8s.io/api/core/v1"

	"github.com/slipwayhq/slipway/internal/config"
)

// PodTemplate is what pod.yml contributes to the Deployment's pod template.
type PodTemplate struct {
	Labels      map[string]string
	Annotations map[string]string
	Spec        corev1.PodSpec
}

// ParsePod reads pod.yml: a Pod manifest whose metadata (labels,
// annotations) and spec become the pod template, or a bare PodSpec. It is
// read like slipway.yaml (config.ParseYAML: YAML 1.2, so `no` stays a string;
// one document; size and aliases bounded), and unknown fields, duplicate keys
// and values of the wrong type are reported with their line and column, all
// at once.
func ParsePod(file string, data []byte) (PodTemplate, error) {
	root, probs := config.ParseYAML(file, data, config.DefaultLimits)
	if len(probs) > 0 {
		return PodTemplate{}, probs
	}
	if root == nil {
		return PodTemplate{}, nil
	}
	bare := hasKey(root, "containers")
	target := reflect.TypeOf(corev1.Pod{})
	if bare {
		target = reflect.TypeOf(corev1.PodSpec{})
	}
	c := podChecker{file: file}
	c.check(root, target, "")
	if len(c.probs) > 0 {
		return PodTemplate{}, c.probs
	}
	doc, err := json.Marshal(toJSON(root))
	if err != nil {
		return PodTemplate{}, config.Problems{{File: file, Msg: fmt.Sprintf("converting to JSON: %v", err)}}
	}
	if bare {
		var spec corev1.PodSpec
		if err := json.Unmarshal(doc, &spec); err != nil {
			return PodTemplate{}, config.Problems{{File: file, Msg: typeError(err)}}
		}
		return PodTemplate{Spec: spec}, nil
	}
	var pod corev1.Pod
	if err := json.Unmarshal(doc, &pod); err != nil {
		return PodTemplate{}, config.Problems{{File: file, Msg: typeError(err)}}
	}
	if pod.Kind != "" && pod.Kind != "Pod" {
		return PodTemplate{}, config.Problems{{File: file, Line: root.Line, Field: "kind", Msg: fmt.Sprintf("%q: pod.yml holds a Pod (or a bare pod spec), not a %s", clip(pod.Kind), clip(pod.Kind))}}
	}
	return PodTemplate{Labels: pod.Labels, Annotations: pod.Annotations, Spec: pod.Spec}, nil
}

func typeError(err error) string {
	msg := err.Error()
	// "json: cannot unmarshal string into Go struct field ..."
	if i := strings.Index(msg, "json: "); i >= 0 {
		msg = msg[i+len("json: "):]
	}
	return msg
}

// clip shortens a value quoted in a problem.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	return s[:most] + "…"
}

func hasKey(n *yaml.Node, key string) bool {
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

// podChecker reports what the JSON decoder would refuse, with positions:
// unknown fields, duplicate keys, non-string keys and scalars of the wrong
// type. Values of types that decode themselves (quantities, int-or-string)
// are tried with their own decoder.
type podChecker struct {
	file  string
	probs config.Problems
}

// maxPodProblems bounds the report for a hostile file.
const maxPodProblems = 200

func (c *podChecker) add(n *yaml.Node, field, format string, args ...any) {
	if len(c.probs) >= maxPodProblems {
		return
	}
	if len(field) > 160 {
		field = field[:160] + "…"
	}
	c.probs = append(c.probs, config.Problem{File: c.file, Line: n.Line, Col: n.Column, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *podChecker) check(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if len(c.probs) >= maxPodProblems {
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
func (c *podChecker) structure(n *yaml.Node, t reflect.Type, path string) {
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
func (c *podChecker) pairs(n *yaml.Node, path string, each func(k, v *yaml.Node, field string)) {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			c.add(k, path, "keys must be plain strings, got %s", kindName(k))
			continue
		}
		field := join(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			c.add(k, field, "duplicate key %q (first defined on line %d)", clip(k.Value), line)
			continue
		}
		seen[k.Value] = k.Line
		each(k, v, field)
	}
}

// scalar checks that n is a scalar whose YAML 1.2 tag is one of tags.
func (c *podChecker) scalar(n *yaml.Node, path, tags, what string) {
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
func (c *podChecker) selfDecoding(n *yaml.Node, t reflect.Type, path string) {
	data, err := json.Marshal(toJSON(n))
	if err == nil {
		err = json.Unmarshal(data, reflect.New(t).Interface())
	}
	if err != nil {
		c.add(n, path, "%s is not a valid %s: %s", kindName(n), t.Name(), typeError(err))
	}
}

func kindName(n *yaml.Node) string { return config.Describe(n) }

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
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
	msg := fmt.Sprintf("unknown field %q", clip(got))
	if s := config.Suggest(got, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	if len(names) <= 12 {
		msg += "; valid fields: " + strings.Join(names, ", ")
	}
	return msg
}
