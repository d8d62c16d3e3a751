package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestScaffoldKinds: init scaffolds, for what it finds, a ciBuild that
// writes what the image's layers take, and files that load.
func TestScaffoldKinds(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		kind  Kind
		// build are lines ciBuild must hold; from and entry the first
		// layer's source and the entrypoint.
		build       []string
		from, entry string
		base        string
		jvm         bool
		ignore      string // the build output's .gitignore line
		written     []string
		fillIn      int
	}{
		{name: "go, main at the root", files: []string{"go.mod", "main.go"}, kind: KindGo,
			build: []string{"set -e", "CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o dist/linux_amd64/app ."},
			from:  "dist/{{.OS}}_{{.Arch}}/app", entry: "/app/app", ignore: "dist/"},
		{name: "go, the command named after the app", files: []string{"go.mod", "main.go", "cmd/a/main.go", "cmd/app/main.go"}, kind: KindGo,
			build: []string{"go build -trimpath -o dist/linux_amd64/app ./cmd/app"},
			from:  "dist/{{.OS}}_{{.Arch}}/app", entry: "/app/app", ignore: "dist/"},
		{name: "go, the first command", files: []string{"go.mod", "cmd/b/main.go", "cmd/a/main.go"}, kind: KindGo,
			build: []string{"go build -trimpath -o dist/linux_amd64/app ./cmd/a"},
			from:  "dist/{{.OS}}_{{.Arch}}/app", entry: "/app/app", ignore: "dist/"},
		{name: "go, no main package", files: []string{"go.mod", "lib.go"}, kind: KindGo,
			build: []string{"go build -trimpath -o dist/linux_amd64/app ./cmd/app"},
			from:  "dist/{{.OS}}_{{.Arch}}/app", entry: "/app/app", ignore: "dist/", fillIn: 1},
		{name: "gradle wrapper", files: []string{"build.gradle.kts", "gradlew"}, kind: KindGradle,
			build: []string{"./gradlew assemble", "ls build/libs/*.jar", "cp \"$1\" dist/app.jar"},
			from:  "dist/app.jar", entry: "java", base: "eclipse-temurin:21-jre", jvm: true, ignore: "dist/"},
		{name: "gradle", files: []string{"build.gradle"}, kind: KindGradle,
			build: []string{"gradle assemble", "ls build/libs/*.jar"},
			from:  "dist/app.jar", entry: "java", base: "eclipse-temurin:21-jre", jvm: true, ignore: "dist/"},
		{name: "maven", files: []string{"pom.xml"}, kind: KindMaven,
			build: []string{"mvn -B -DskipTests package", "ls target/*.jar", "cp \"$1\" dist/app.jar"},
			from:  "dist/app.jar", entry: "java", base: "eclipse-temurin:21-jre", jvm: true, ignore: "dist/"},
		{name: "maven wrapper", files: []string{"pom.xml", "mvnw"}, kind: KindMaven,
			build: []string{"./mvnw -B -DskipTests package"},
			from:  "dist/app.jar", entry: "java", base: "eclipse-temurin:21-jre", jvm: true, ignore: "dist/"},
		{name: "site at the root", files: []string{"index.html"}, kind: KindStatic,
			build: []string{"go build -trimpath -o serve/bin/linux_amd64/serve ./serve/main.go"},
			from:  "serve/bin/{{.OS}}_{{.Arch}}/serve", entry: "/app/serve", ignore: "serve/bin/", written: []string{serveSource}},
		{name: "site in dist", files: []string{"dist/index.html"}, kind: KindStatic,
			build: []string{"go build -trimpath -o serve/bin/linux_amd64/serve ./serve/main.go"},
			from:  "serve/bin/{{.OS}}_{{.Arch}}/serve", entry: "/app/serve", ignore: "serve/bin/", written: []string{serveSource}},
		{name: "anything else", files: []string{"package.json"}, kind: KindOther,
			build: []string{"still to fill in", "exit 1"},
			from:  "dist/{{.OS}}_{{.Arch}}/app", entry: "/app/app", ignore: "dist/", fillIn: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "app")
			for _, f := range tt.files {
				writeTestFile(t, filepath.Join(dir, f), "")
			}
			res, err := Scaffold(dir, ScaffoldOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := append([]string{ProjectFile, PodFile, CIFile}, tt.written...)
			if want = append(want, ".gitignore"); !slices.Equal(res.Written, want) || res.Kind != tt.kind || len(res.FillIn) != tt.fillIn {
				t.Errorf("Scaffold = %+v; want kind %q, written %q, %d to fill in", res, tt.kind, want, tt.fillIn)
			}
			p, err := LoadProject(dir)
			if err != nil {
				t.Fatal(err)
			}
			c, err := LoadCI(dir, p)
			if err != nil {
				t.Fatal(err)
			}
			build, _ := c.Tasks.Get("ciBuild")
			for _, line := range tt.build {
				if !strings.Contains(build.Run, line) {
					t.Errorf("ciBuild lacks %q:\n%s", line, build.Run)
				}
			}
			if p.Image.Layers[0].From != tt.from || p.Image.Entrypoint[0] != tt.entry || p.Image.Base != cmpOr(tt.base, "scratch") || p.Deploy.JVM != tt.jvm {
				t.Errorf("image = %+v, jvm %v; want from %q, entrypoint %q, base %q, jvm %v", p.Image, p.Deploy.JVM, tt.from, tt.entry, tt.base, tt.jvm)
			}
			if got := c.Maker(p.Image.Layers[0].From); got != "ciBuild" {
				t.Errorf("the task that makes the first layer is %q, want ciBuild", got)
			}
			if ignore, _ := os.ReadFile(filepath.Join(dir, ".gitignore")); string(ignore) != ".slipway/\n"+tt.ignore+"\n" {
				t.Errorf(".gitignore = %q, want .slipway/ and %s", ignore, tt.ignore)
			}
			for _, f := range res.FillIn {
				if b, _ := os.ReadFile(filepath.Join(dir, f.File)); !strings.Contains(string(b), "FILL IN") {
					t.Errorf("%s has no FILL IN comment for %s", f.File, f.Field)
				}
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestScaffoldSiteAtTheRoot: a site at the root is served without the
// project's own files.
func TestScaffoldSiteAtTheRoot(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "index.html"), "<h1>hi</h1>")
	if _, err := Scaffold(dir, ScaffoldOptions{Port: 9000}); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	site := p.Image.Layers[1]
	for _, f := range []string{"/" + ProjectFile, "/" + CIFile, "/" + PodFile, "/serve/", "/.gitignore"} {
		if site.From != "." || !slices.Contains(site.Exclude, f) {
			t.Errorf("the site's layer %+v does not leave out %s", site, f)
		}
	}
	if got := strings.Join(p.Image.Entrypoint, " "); got != "/app/serve -dir /srv/www -addr :9000" {
		t.Errorf("entrypoint = %s", got)
	}
	serve, err := os.ReadFile(filepath.Join(dir, serveSource))
	if err != nil || !strings.HasPrefix(string(serve), "// Command serve") {
		t.Errorf("%s = %.40q, %v; want the file server", serveSource, serve, err)
	}
}

// TestScaffoldIgnores: init adds to .gitignore only the lines it lacks.
func TestScaffoldIgnores(t *testing.T) {
	tests := []struct{ before, after string }{
		{"", ".slipway/\ndist/\n"},
		{"node_modules", "node_modules\n.slipway/\ndist/\n"},
		{"/dist\n", "/dist\n.slipway/\n"},
		{".slipway\ndist/*\n", ".slipway\ndist/*\n"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeTestFile(t, filepath.Join(dir, "go.mod"), "")
		if tt.before != "" {
			writeTestFile(t, filepath.Join(dir, ".gitignore"), tt.before)
		}
		res, err := Scaffold(dir, ScaffoldOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
		if string(got) != tt.after || slices.Contains(res.Written, ".gitignore") != (tt.before != tt.after) {
			t.Errorf(".gitignore %q became %q (written: %q), want %q", tt.before, got, res.Written, tt.after)
		}
	}
}
