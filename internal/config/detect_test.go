package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"testing"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  Detected
	}{
		{"empty", nil, Detected{Kind: KindOther}},
		{"go, main at the root", []string{"go.mod", "main.go"}, Detected{Kind: KindGo, Mains: []string{"."}}},
		{"go, commands", []string{"cmd/", "cmd/web/", "cmd/web/main.go", "cmd/cli/", "cmd/cli/run.go", "go.mod", "go.sum"},
			Detected{Kind: KindGo, Mains: []string{"cmd/cli", "cmd/web"}}},
		{"go, root first", []string{"cmd/a/main.go", "go.mod", "main.go"}, Detected{Kind: KindGo, Mains: []string{".", "cmd/a"}}},
		{"go, tests and nesting are no command", []string{"cmd/t/x_test.go", "cmd/deep/pkg/x.go", "cmd/doc.md", "cmd/main.go", "go.mod"},
			Detected{Kind: KindGo}},
		{"go, names a shell would read are no command", []string{"cmd/$(id)/main.go", "cmd/a b/main.go", "cmd/-x/main.go", "cmd/ok.v2/main.go", "go.mod"},
			Detected{Kind: KindGo, Mains: []string{"cmd/ok.v2"}}},
		{"go, a library", []string{"go.mod", "lib.go"}, Detected{Kind: KindGo}},
		{"go wins over a site", []string{"go.mod", "main.go", "site/", "site/index.html"}, Detected{Kind: KindGo, Mains: []string{"."}}},
		{"gradle kts with wrapper", []string{"build.gradle.kts", "gradlew", "src/"}, Detected{Kind: KindGradle, Wrapper: true}},
		{"gradle groovy", []string{"build.gradle"}, Detected{Kind: KindGradle}},
		{"gradle settings only", []string{"settings.gradle.kts"}, Detected{Kind: KindGradle}},
		{"gradle wins over maven", []string{"build.gradle", "pom.xml"}, Detected{Kind: KindGradle}},
		{"maven", []string{"pom.xml", "src/"}, Detected{Kind: KindMaven}},
		{"maven wrapper", []string{"mvnw", "pom.xml"}, Detected{Kind: KindMaven, Wrapper: true}},
		{"site at the root", []string{"index.html", "style.css"}, Detected{Kind: KindStatic, Site: "."}},
		{"site in public", []string{"public/", "public/index.html"}, Detected{Kind: KindStatic, Site: "public"}},
		{"site in dist", []string{"dist/", "dist/index.html"}, Detected{Kind: KindStatic, Site: "dist"}},
		{"site in site", []string{"site/", "site/index.html"}, Detected{Kind: KindStatic, Site: "site"}},
		{"public before site", []string{"public/index.html", "site/index.html"}, Detected{Kind: KindStatic, Site: "public"}},
		{"a directory named index.html is no page", []string{"index.html/"}, Detected{Kind: KindOther}},
		{"elsewhere is no site", []string{"docs/index.html", "package.json"}, Detected{Kind: KindOther}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect(tt.files); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Detect(%q) = %+v, want %+v", tt.files, got, tt.want)
			}
		})
	}
}

// TestListProject: the listing holds what Detect needs, marks
// directories, and never follows a symlink into a directory.
func TestListProject(t *testing.T) {
	base := t.TempDir()
	dir, outside := filepath.Join(base, "app"), filepath.Join(base, "outside")
	for _, f := range []string{"go.mod", "cmd/web/main.go", "cmd/web/x/deep.go", "site/index.html", "src/other.go"} {
		writeTestFile(t, filepath.Join(dir, f), "x")
	}
	writeTestFile(t, filepath.Join(outside, "index.html"), "x")
	for _, link := range []string{"cmd/linked", "public"} {
		symlink(t, outside, filepath.Join(dir, link))
	}
	got, err := ListProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cmd/", "go.mod", "public", "site/", "src/", "cmd/linked", "cmd/web/", "site/index.html", "cmd/web/main.go", "cmd/web/x/"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListProject =\n%q\nwant\n%q", got, want)
	}
	if _, err := ListProject(filepath.Join(base, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ListProject of a missing directory: %v, want not exist", err)
	}
}
