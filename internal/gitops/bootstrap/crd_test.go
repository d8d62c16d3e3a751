package bootstrap

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// crdFiles are the Flux CRDs under testdata/crds, by the kind they define.
var crdFiles = map[string]string{
	"GitRepository": "source.toolkit.fluxcd.io_gitrepositories.yaml",
	"Kustomization": "kustomize.toolkit.fluxcd.io_kustomizations.yaml",
}

// crdSchema compiles the openAPIV3Schema of the v1 version of the CRD in
// file as a JSON Schema that, as the API server with strict field
// validation does, refuses fields the schema does not name.
func crdSchema(t *testing.T, file string) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "crds", file))
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != "v1" {
			continue
		}
		s := v.Schema.OpenAPIV3Schema
		closeObjects(s)
		c := jsonschema.NewCompiler()
		if err := c.AddResource(file, s); err != nil {
			t.Fatal(err)
		}
		compiled, err := c.Compile(file)
		if err != nil {
			t.Fatalf("compiling the schema of %s: %v", file, err)
		}
		return compiled
	}
	t.Fatalf("%s has no version v1", file)
	return nil
}

// closeObjects sets additionalProperties: false on every object schema
// that lists its properties and neither keeps unknown fields nor says
// what other properties may be.
func closeObjects(s map[string]any) {
	_, props := s["properties"].(map[string]any)
	_, extra := s["additionalProperties"]
	if props && !extra && s["x-kubernetes-preserve-unknown-fields"] != true {
		s["additionalProperties"] = false
	}
	for _, k := range []string{"properties", "patternProperties"} {
		if m, ok := s[k].(map[string]any); ok {
			for _, sub := range m {
				if sm, ok := sub.(map[string]any); ok {
					closeObjects(sm)
				}
			}
		}
	}
	for _, k := range []string{"items", "additionalProperties"} {
		if sm, ok := s[k].(map[string]any); ok {
			closeObjects(sm)
		}
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		if l, ok := s[k].([]any); ok {
			for _, sub := range l {
				if sm, ok := sub.(map[string]any); ok {
					closeObjects(sm)
				}
			}
		}
	}
}

// TestFluxGoldenAgainstCRDs validates every Flux object of the golden
// files against the openAPIV3Schema of the Flux v1.9.6 CRD of its kind:
// field names (no unknown field), types, required fields and patterns
// (durations, the URL's scheme).
func TestFluxGoldenAgainstCRDs(t *testing.T) {
	schemas := map[string]*jsonschema.Schema{}
	for kind, f := range crdFiles {
		schemas[kind] = crdSchema(t, f)
	}
	golden, _ := filepath.Glob(filepath.Join("testdata", "flux-*.golden"))
	if len(golden) == 0 {
		t.Fatal("no Flux golden files")
	}
	for _, g := range golden {
		data, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for i, doc := range documents(data) {
			obj := jsonValue(t, doc)
			kind, _ := obj.(map[string]any)["kind"].(string)
			kinds[kind]++
			s, ok := schemas[kind]
			if !ok {
				t.Errorf("%s: document %d is a %q, not a Flux kind this test knows", g, i, kind)
				continue
			}
			if err := s.Validate(obj); err != nil {
				t.Errorf("%s: the %s does not validate against its CRD: %v", g, kind, err)
			}
		}
		if kinds["GitRepository"] != 1 || kinds["Kustomization"] != 1 {
			t.Errorf("%s holds %v, want one GitRepository and one Kustomization", g, kinds)
		}
	}
}

// TestCRDSchemaRefusesUnknownFields shows that the check above would
// catch a misspelt or made-up field.
func TestCRDSchemaRefusesUnknownFields(t *testing.T) {
	s := crdSchema(t, crdFiles["Kustomization"])
	for _, bad := range []string{
		`{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "x"}, "spec": {"interval": "10m", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "x"}, "healthCheckTimeout": "1m"}}`,
		`{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "x"}, "spec": {"interval": "ten minutes", "prune": true, "sourceRef": {"kind": "GitRepository", "name": "x"}}}`,
		`{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": {"name": "x"}, "spec": {"interval": "10m", "sourceRef": {"kind": "GitRepository", "name": "x"}}}`,
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); err == nil {
			t.Errorf("%s validates; want it refused", bad)
		}
	}
}

// documents splits a multi-document YAML stream, dropping documents that
// hold only comments.
func documents(data []byte) [][]byte {
	var out [][]byte
	for _, d := range bytes.Split(data, []byte("\n---\n")) {
		var body bool
		for _, l := range strings.Split(string(d), "\n") {
			if l != "" && l != "---" && !strings.HasPrefix(l, "#") {
				body = true
			}
		}
		if body {
			out = append(out, d)
		}
	}
	return out
}

// jsonValue decodes a YAML document as the validator wants it.
func jsonValue(t *testing.T, doc []byte) any {
	t.Helper()
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// argoApplication is the part of Argo CD's Application type
// (pkg/apis/application/v1alpha1, argoproj.io/v1alpha1) that an Application
// Slipway writes may use, with Argo CD's own field names; a strict decode
// into it refuses any other field.
type argoApplication struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Project string `json:"project"`
		Source  *struct {
			RepoURL        string `json:"repoURL"`
			Path           string `json:"path"`
			TargetRevision string `json:"targetRevision"`
		} `json:"source"`
		Destination struct {
			Server    string `json:"server"`
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"destination"`
		SyncPolicy *struct {
			Automated *struct {
				Prune      bool `json:"prune"`
				SelfHeal   bool `json:"selfHeal"`
				AllowEmpty bool `json:"allowEmpty"`
			} `json:"automated"`
			SyncOptions []string `json:"syncOptions"`
		} `json:"syncPolicy"`
	} `json:"spec"`
}

// TestArgoCDGoldenFields decodes every Application of the golden files
// strictly into Argo CD's field names, and checks what must be set.
func TestArgoCDGoldenFields(t *testing.T) {
	golden, _ := filepath.Glob(filepath.Join("testdata", "argocd-*.golden"))
	if len(golden) == 0 {
		t.Fatal("no Argo CD golden files")
	}
	for _, g := range golden {
		data, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		docs := documents(data)
		if len(docs) != 1 {
			t.Fatalf("%s holds %d documents, want one Application", g, len(docs))
		}
		var app argoApplication
		if err := yaml.UnmarshalStrict(docs[0], &app); err != nil {
			t.Fatalf("%s: %v", g, err)
		}
		s := app.Spec
		switch {
		case app.APIVersion != "argoproj.io/v1alpha1" || app.Kind != "Application" || app.Metadata.Name == "" || app.Metadata.Namespace == "":
			t.Errorf("%s: %s %s %s/%s is not a named Application", g, app.APIVersion, app.Kind, app.Metadata.Namespace, app.Metadata.Name)
		case s.Project == "" || s.Source == nil || s.Source.RepoURL == "" || s.Source.TargetRevision == "" || s.Source.Path == "":
			t.Errorf("%s: the Application's project or source is incomplete: %+v", g, s)
		case s.Destination.Server != InClusterServer || s.Destination.Namespace == "":
			t.Errorf("%s: destination %+v, want the in-cluster server and a namespace", g, s.Destination)
		case s.SyncPolicy == nil || s.SyncPolicy.Automated == nil || !s.SyncPolicy.Automated.Prune || !s.SyncPolicy.Automated.SelfHeal:
			t.Errorf("%s: syncPolicy is not automated with prune and selfHeal", g)
		}
	}
}
