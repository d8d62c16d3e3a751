package testenv

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// OCISchemas are the compiled OCI image-spec schemas.
type OCISchemas struct {
	Layout, Index, Manifest, Config *jsonschema.Schema
}

// schemaLoader loads every schema URL from dir by its last path element:
// the OCI schemas refer to each other by file name relative to ids under
// https://opencontainers.org/schema/, which are never fetched.
type schemaLoader string

func (dir schemaLoader) Load(u string) (any, error) {
	p, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("parsing schema URL %q: %w", u, err)
	}
	f, err := os.Open(filepath.Join(string(dir), path.Base(p.Path)))
	if err != nil {
		return nil, fmt.Errorf("loading schema %s: %w", u, err)
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

// LoadOCISchemas compiles the OCI image-spec schemas vendored in dir,
// asserting formats (date-time) too.
func LoadOCISchemas(t testing.TB, dir string) OCISchemas {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	c.AssertFormat()
	c.UseLoader(schemaLoader(dir))
	compile := func(file string) *jsonschema.Schema {
		s, err := c.Compile("https://opencontainers.org/schema/" + file)
		if err != nil {
			t.Fatalf("compiling %s: %v", file, err)
		}
		return s
	}
	return OCISchemas{
		Layout:   compile("image-layout-schema.json"),
		Index:    compile("image-index-schema.json"),
		Manifest: compile("image-manifest-schema.json"),
		Config:   compile("config-schema.json"),
	}
}
