package deploy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/slipwayhq/slipway/config"
)

// PodTemplate is what pod.yml contributes to the Deployment's pod template.
type PodTemplate struct {
	Labels      map[string]string
	Annotations map[string]string
	Spec        corev1.PodSpec
}

// ParsePod reads pod.yml: a Pod manifest whose metadata (labels,
// annotations) and spec become the pod template, or a bare PodSpec. Unknown
// fields are reported with their line and column, all at once.
func ParsePod(file string, data []byte) (PodTemplate, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return PodTemplate{}, config.Problems{{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(doc.Content) == 0 {
		return PodTemplate{}, nil
	}
	root := doc.Content[0]
	bare := hasKey(root, "containers")
	var probs config.Problems
	target := reflect.TypeOf(corev1.Pod{})
	if bare {
		target = reflect.TypeOf(corev1.PodSpec{})
	}
	checkFields(file, root, target, "", &probs)
	if len(probs) > 0 {
		return PodTemplate{}, probs
	}
	if bare {
		var spec corev1.PodSpec
		if err := sigsyaml.Unmarshal(data, &spec); err != nil {
			return PodTemplate{}, config.Problems{{File: file, Msg: typeError(err)}}
		}
		return PodTemplate{Spec: spec}, nil
	}
	var pod corev1.Pod
	if err := sigsyaml.Unmarshal(data, &pod); err != nil {
		return PodTemplate{}, config.Problems{{File: file, Msg: typeError(err)}}
	}
	if pod.Kind != "" && pod.Kind != "Pod" {
		return PodTemplate{}, config.Problems{{File: file, Line: root.Line, Field: "kind", Msg: fmt.Sprintf("%q: pod.yml holds a Pod (or a bare pod spec), not a %s", pod.Kind, pod.Kind)}}
	}
	return PodTemplate{Labels: pod.Labels, Annotations: pod.Annotations, Spec: pod.Spec}, nil
}

func typeError(err error) string {
	msg := err.Error()
	// "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal
	// string into Go struct field Container.spec.containers.ports of type ..."
	if i := strings.Index(msg, "json: "); i >= 0 {
		msg = msg[i+len("json: "):]
	}
	return msg
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

var jsonUnmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

// checkFields reports mapping keys that t has no field for, walking into
// structs, maps and lists. Values of types that decode themselves
// (quantities, int-or-string) are left to the decoder.
func checkFields(file string, n *yaml.Node, t reflect.Type, path string, probs *config.Problems) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // a type error; the decoder reports it
		}
		fields := jsonFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			field := join(path, k.Value)
			if !ok {
				*probs = append(*probs, config.Problem{File: file, Line: k.Line, Col: k.Column, Field: field,
					Msg: unknownField(k.Value, fields)})
				continue
			}
			checkFields(file, v, ft, field, probs)
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				checkFields(file, n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), probs)
			}
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for i, item := range n.Content {
				checkFields(file, item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), probs)
			}
		}
	}
}

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
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func unknownField(got string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	msg := fmt.Sprintf("unknown field %q", got)
	if s := config.Suggest(got, names); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	if len(names) <= 12 {
		msg += "; valid fields: " + strings.Join(names, ", ")
	}
	return msg
}
