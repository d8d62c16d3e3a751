package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// schemaFiles are the SchemaStore schemas under testdata/schemas, by the
// target whose files they validate.
var schemaFiles = map[Target]string{
	GitHub: "github-workflow.json",
	Drone:  "drone.json",
	GitLab: "gitlab-ci-2021.json",
}

// schemas compiles the schemas once; it reads only the files under
// testdata/schemas, never the network.
var schemas = sync.OnceValues(func() (map[Target]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	// drone.json refers to SchemaStore's Kubernetes definitions for its
	// kubernetes pipeline type, which Slipway never writes: they stand
	// in here as schemas that accept anything.
	defs := map[string]any{}
	for _, d := range []string{
		"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.api.core.v1.Toleration",
		"io.k8s.api.core.v1.PodDNSConfig", "io.k8s.api.core.v1.HostAlias",
		"io.k8s.api.core.v1.NodeSelectorTerm", "io.k8s.api.core.v1.ResourceRequirements",
	} {
		defs[d] = map[string]any{}
	}
	if err := c.AddResource("https://json.schemastore.org/kubernetes-definitions.json", map[string]any{"definitions": defs}); err != nil {
		return nil, err
	}
	out := map[Target]*jsonschema.Schema{}
	for t, f := range schemaFiles {
		s, err := c.Compile(filepath.Join("testdata", "schemas", f))
		if err != nil {
			return nil, err
		}
		out[t] = s
	}
	return out, nil
})

// yamlToJSONValues decodes every document of b into values as
// encoding/json would give them, which the validator expects.
func yamlToJSONValues(b []byte) ([]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var out []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		jv, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
		if err != nil {
			return nil, err
		}
		out = append(out, jv)
	}
}

// TestGeneratedFilesMatchSchemas checks every generated GitHub workflow,
// .drone.yml and .gitlab-ci.yml against the field's own JSON schema.
func TestGeneratedFilesMatchSchemas(t *testing.T) {
	ss, err := schemas()
	if err != nil {
		t.Fatalf("compiling the schemas: %v", err)
	}
	for _, c := range cases(t) {
		for _, target := range []Target{GitHub, Drone, GitLab} {
			t.Run(c.name+"/"+string(target), func(t *testing.T) {
				files, err := Generate(target, c.in)
				if err != nil {
					t.Fatalf("Generate: %v", err)
				}
				for _, f := range files {
					checkSchema(t, ss[target], f)
				}
			})
		}
	}
}

// checkSchema validates every YAML document of f against s.
func checkSchema(t *testing.T, s *jsonschema.Schema, f File) {
	t.Helper()
	docs, err := yamlToJSONValues(f.Content)
	if err != nil {
		t.Fatalf("%s: decoding: %v", f.Path, err)
	}
	for i, d := range docs {
		if err := s.Validate(d); err != nil {
			t.Errorf("%s: document %d does not match %s:\n%v", f.Path, i+1, path.Base(s.Location), indent(err.Error()))
		}
	}
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// TestSchemasRejectWrongFiles shows the schemas are strict enough to catch
// the mistakes a generator could make.
func TestSchemasRejectWrongFiles(t *testing.T) {
	ss, err := schemas()
	if err != nil {
		t.Fatalf("compiling the schemas: %v", err)
	}
	for _, c := range []struct {
		name   string
		target Target
		yaml   string
	}{
		{"github job without runs-on", GitHub, "on: push\njobs:\n  a:\n    steps: [{run: x}]\n"},
		{"github unknown permission", GitHub, "on: push\npermissions: {tags: write}\njobs:\n  a:\n    runs-on: x\n    steps: [{run: x}]\n"},
		{"drone unknown pipeline type", Drone, "kind: pipeline\ntype: shell\nname: a\nsteps: [{name: a, commands: [x]}]\n"},
		{"drone environment list", Drone, "kind: pipeline\ntype: exec\nname: a\nsteps: [{name: a, commands: [x], environment: [A]}]\n"},
		{"gitlab when typo", GitLab, "a:\n  script: [x]\n  when: manually\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			docs, err := yamlToJSONValues([]byte(c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if err := ss[c.target].Validate(docs[0]); err == nil {
				t.Errorf("the %s schema accepts:\n%s", c.target, c.yaml)
			}
		})
	}
}
