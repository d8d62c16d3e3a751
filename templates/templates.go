package templates

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"text/template"
)

//go:embed init pipeline
var files embed.FS

// FS is every template, by path (e.g. "init/slipway.yaml.tmpl").
var FS fs.FS = files

// Render executes the template at path with data.
func Render(path string, data any) ([]byte, error) {
	src, err := fs.ReadFile(files, path)
	if err != nil {
		return nil, fmt.Errorf("reading template %s: %w", path, err)
	}
	t, err := template.New(path).Option("missingkey=error").Delims("[[", "]]").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("parsing template %s: %w", path, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("rendering template %s: %w", path, err)
	}
	return b.Bytes(), nil
}
