package config

import (
	"fmt"
	"iter"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Pos is a position in a configuration file.
type Pos struct{ Line, Col int }

// Source remembers where each field of a loaded file was written, and
// the file's content, so that what reads it next (a generator, say) is
// handed the bytes that were validated rather than the file again.
type Source struct {
	File string
	Data []byte
	pos  map[string]Pos
}

// Pos returns where path (e.g. "environments.prod.registry") was written,
// falling back to its closest written parent, then to the top of the file.
func (s *Source) Pos(path string) Pos {
	if s == nil {
		return Pos{}
	}
	for {
		if p, ok := s.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return Pos{Line: 1, Col: 1}
		}
		path = path[:i]
	}
}

// Has reports whether path was written in the file.
func (s *Source) Has(path string) bool {
	if s == nil {
		return false
	}
	_, ok := s.pos[path]
	return ok
}

// problem makes a Problem at path.
func (s *Source) problem(path, format string, args ...any) Problem {
	p := s.Pos(path)
	return Problem{File: s.File, Line: p.Line, Col: p.Col, Field: clipField(path), Msg: fmt.Sprintf(format, clipArgs(format, args)...)}
}

// nodeDecoder is implemented by types with a YAML shape of their own, such
// as shorthands that accept a string or a mapping.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

// decoder strictly decodes YAML nodes into Go values, collecting problems.
type decoder struct {
	src   *Source
	probs Problems
}

func newDecoder(file string) *decoder {
	return &decoder{src: &Source{File: file, pos: map[string]Pos{}}}
}

func (d *decoder) addf(n *yaml.Node, path, format string, args ...any) {
	d.add(n, false, path, format, args...)
}

// add records a problem; a soft one leaves the value readable.
func (d *decoder) add(n *yaml.Node, soft bool, path, format string, args ...any) {
	if d.probs.full() {
		return
	}
	p := Problem{File: d.src.File, Field: clipField(path), Msg: fmt.Sprintf(format, clipArgs(format, args)...), soft: soft}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	d.probs.push(p)
}

// parse decodes a whole YAML document into out, which must be a pointer.
func (d *decoder) parse(data []byte, out any) {
	d.src.Data = data
	root, probs := ParseYAML(d.src.File, data, DefaultLimits)
	if len(probs) > 0 {
		d.probs = append(d.probs, probs...)
		return
	}
	if root == nil {
		d.addf(nil, "", "the file is empty; start with apiVersion: %s", APIVersion)
		return
	}
	d.decode(root, reflect.ValueOf(out).Elem(), "")
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func syntaxProblem(file string, err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: file, Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return Problem{File: file, Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func kindName(n *yaml.Node) string { return Describe(n) }

// Describe says what a YAML node holds, for a problem: "a mapping", "a
// list", "nothing", or its value quoted (at most 64 bytes of it).
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.ShortTag() == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q", clip(n.Value, maxQuoted))
}

var durationType = reflect.TypeOf(Duration{})

// maxPath bounds the depth of decoding (the path to a value grows with its
// depth), so recursive fields such as parallel steps cannot be nested until
// the paths alone cost gigabytes.
const maxPath = 1024

// decode decodes n into v, recording positions under path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if d.probs.full() {
		return // the report is full; decoding on would only cost memory
	}
	if len(path) > maxPath {
		d.addf(n, path, "nested too deeply (the path to here is %d characters long)", len(path))
		return
	}
	if path != "" {
		d.src.pos[path] = Pos{n.Line, n.Column}
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // leave the zero value; required fields are checked by the parent
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}
	if v.CanAddr() {
		if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
			nd.decodeNode(d, n, path)
			return
		}
	}
	if v.Type() == durationType {
		d.duration(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.String, reflect.Int, reflect.Bool:
		d.scalar(n, v, path)
	default:
		panic(fmt.Sprintf("config: cannot decode into %s", v.Type()))
	}
}

// scalar decodes a string, a whole number or a boolean, each only from a
// YAML scalar of that type (YAML 1.2: only true and false are booleans).
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.addf(n, path, "expected a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		i, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			d.addf(n, path, "expected a whole number, got %s", kindName(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.addf(n, path, "expected true or false, got %s", kindName(n))
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	}
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	dur, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || dur < 0 {
		d.addf(n, path, "expected a duration such as 30s, 5m or 1h30m, got %s", kindName(n))
		return
	}
	v.Set(reflect.ValueOf(Duration{dur}))
}

// fieldInfo describes one YAML field of a struct.
type fieldInfo struct {
	name     string
	index    int
	required bool
	enum     []string
}

// yamlFields yields the fields of struct type t that slipway.yaml and
// ci.yaml write, by their YAML name, with their index: what the decoder,
// the JSON Schema and the reference read.
func yamlFields(t reflect.Type) iter.Seq2[string, int] {
	return func(yield func(string, int) bool) {
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			if !yield(name, i) {
				return
			}
		}
	}
}

func fieldsOf(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for name, i := range yamlFields(t) {
		f := t.Field(i)
		fi := fieldInfo{name: name, index: i, required: f.Tag.Get("required") == "true"}
		if e := f.Tag.Get("enum"); e != "" {
			fi.enum = strings.Split(e, ",")
		}
		out = append(out, fi)
	}
	return out
}

func fieldNames(fs []fieldInfo) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return names
}

// keys walks the key/value pairs of a mapping, reporting duplicate and
// non-scalar keys.
func (d *decoder) keys(n *yaml.Node, path string, each func(key string, k, val *yaml.Node)) {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.addf(k, path, "keys must be plain strings")
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.add(k, true, join(path, k.Value), "duplicate key %q (first defined on line %d)", k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		each(k.Value, k, val)
	}
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := fieldsOf(v.Type())
	present := map[string]bool{}
	d.keys(n, path, func(key string, k, val *yaml.Node) {
		var fi *fieldInfo
		for i := range fields {
			if fields[i].name == key {
				fi = &fields[i]
			}
		}
		if fi == nil {
			msg := fmt.Sprintf("unknown field %q", clip(key, maxQuoted))
			if s := suggest(key, fieldNames(fields)); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.addf(k, join(path, key), "%s; valid fields: %s", msg, choices(fieldNames(fields)))
			return
		}
		present[key] = val.Tag != "!!null"
		d.decode(val, v.Field(fi.index), join(path, key))
		if fi.enum != nil && val.Kind == yaml.ScalarNode && val.Tag != "!!null" && !slices.Contains(fi.enum, val.Value) {
			d.addf(val, join(path, key), "%s", notValid(val.Value, fi.enum))
		}
	})
	for _, f := range fields {
		if f.required && !present[f.name] {
			d.addf(n, join(path, f.name), "missing required field %q", f.name)
		}
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "expected a mapping of names to values, got %s", kindName(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	d.keys(n, path, func(key string, _, val *yaml.Node) {
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, join(path, key))
		v.SetMapIndex(reflect.ValueOf(key), elem)
	})
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.addf(n, path, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(s)
}

// named decodes a mapping of names to T into an ordered slice, calling
// short for scalar values (a shorthand) when it is non-nil.
func named[T any](d *decoder, n *yaml.Node, path string, short func(string) T, setName func(*T, string)) []T {
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "expected a mapping of names to values, got %s", kindName(n))
		return nil
	}
	var out []T
	d.keys(n, path, func(key string, _, val *yaml.Node) {
		var item T
		p := join(path, key)
		if short != nil && val.Kind == yaml.ScalarNode && val.Tag != "!!null" {
			d.src.pos[p] = Pos{val.Line, val.Column}
			item = short(val.Value)
		} else {
			d.decode(val, reflect.ValueOf(&item).Elem(), p)
		}
		setName(&item, key)
		out = append(out, item)
	})
	return out
}

func (rs *Registries) decodeNode(d *decoder, n *yaml.Node, path string) {
	*rs = named(d, n, path, func(s string) Registry { return Registry{URL: s} },
		func(r *Registry, name string) { r.Name = name })
}

func (es *Environments) decodeNode(d *decoder, n *yaml.Node, path string) {
	*es = named(d, n, path, nil, func(e *Environment, name string) { e.Name = name })
}

func (ts *Tasks) decodeNode(d *decoder, n *yaml.Node, path string) {
	*ts = named(d, n, path, func(s string) Task { return Task{Run: s} },
		func(t *Task, name string) { t.Name = name })
}

func (s *Surge) decodeNode(d *decoder, n *yaml.Node, path string) {
	problem := surgeExpected
	if n.Kind == yaml.ScalarNode {
		problem = surgeProblem(n.Value)
	}
	switch problem {
	case "":
		*s = Surge(n.Value)
	case surgeExpected:
		d.addf(n, path, "%s, got %s", problem, kindName(n))
	default:
		d.addf(n, path, "%s", problem)
	}
}

func (r *Requirement) decodeNode(d *decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		r.Env = n.Value
		return
	}
	d.structure(n, reflect.ValueOf(r).Elem(), path)
}

// stepKinds are the keys of which a mapping step has exactly one.
var stepKinds = []string{"task", "release", "build", "push", "deploy", "promote", "parallel"}

func (s *Step) decodeNode(d *decoder, n *yaml.Node, path string) {
	s.Line, s.Column = n.Line, n.Column
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "release":
			s.Kind, s.Release = StepRelease, true
		case "build":
			s.Kind, s.Build = StepBuild, true
		default:
			s.Kind, s.Task = StepTask, n.Value
		}
		return
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "expected a step: a task name, release, build, or a mapping with one of %s", choices(stepKinds))
		return
	}
	d.structure(n, reflect.ValueOf(s).Elem(), path)
	var kinds []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		if slices.Contains(stepKinds, n.Content[i].Value) {
			kinds = append(kinds, n.Content[i].Value)
		}
	}
	switch len(kinds) {
	case 0:
		d.addf(n, path, "a step needs one of %s", choices(stepKinds))
	case 1:
		s.Kind = StepKind(kinds[0])
	default:
		d.addf(n, path, "a step does one thing, but this one has %s; split it into steps", strings.Join(kinds, " and "))
	}
	if (s.Kind == StepRelease && !s.Release) || (s.Kind == StepBuild && !s.Build) {
		d.addf(n, join(path, string(s.Kind)), "write the step as %q or %s: true", s.Kind, s.Kind)
	}
}
