package pipeline

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slipwayhq/slipway/internal/testutil"
)

// testInstall is a Slipway release for the tests, with made-up sums.
func testInstall() *Install {
	return &Install{Version: "1.4.0", Checksums: map[string]string{
		"amd64": strings.Repeat("a1", 32),
		"arm64": strings.Repeat("b2", 32),
	}}
}

// TestGenerateInstallGolden generates every target of hello-go with an
// Install: each job installs the pinned Slipway before its steps, the
// files still match their schemas, and the same input gives the same bytes.
func TestGenerateInstallGolden(t *testing.T) {
	ss, err := schemas()
	if err != nil {
		t.Fatalf("compiling the schemas: %v", err)
	}
	in := load(t, "../examples/hello-go")
	in.Slipway = testInstall()
	for _, target := range Targets {
		t.Run(string(target), func(t *testing.T) {
			files, err := Generate(target, in)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Generate(target, in)
			if !bytes.Equal(joinFiles(files), joinFiles(again)) {
				t.Error("two runs differ")
			}
			testutil.Golden(t, filepath.Join("testdata", "install", string(target)+".golden"), joinFiles(files))
			if s := ss[target]; s != nil {
				for _, f := range files {
					checkSchema(t, s, f)
				}
			}
			text := string(files[0].Content)
			if target != JenkinsJobDSL && !strings.Contains(text, ".slipway/1.4.0/slipway release --push") {
				t.Errorf("the steps do not run the installed Slipway")
			}
		})
	}
}

// TestInstallChecksAndErrors shows what Generate refuses of an Install.
func TestInstallChecksAndErrors(t *testing.T) {
	in := load(t, "../examples/hello-go")
	for _, c := range []struct {
		name string
		edit func(*Install)
		want string
	}{
		{"version with a shell word", func(i *Install) { i.Version = "1.0.0;id" }, "is not one such as 1.4.0"},
		{"dev build", func(i *Install) { i.Version = "dev" }, "is not one such as 1.4.0"},
		{"short sum", func(i *Install) { i.Checksums["amd64"] = "abc" }, "64 lower-case hex"},
		{"unknown arch", func(i *Install) { i.Checksums["riscv64"] = strings.Repeat("0", 64) }, "want amd64 or arm64"},
		{"url with a quote", func(i *Install) { i.URL = `https://x/"$(id)"` }, "not a plain http(s) URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			i := testInstall()
			c.edit(i)
			in.Slipway = i
			_, err := Generate(GitHub, in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
}

// TestInstallVersionOnly: an Install without checksums names the version
// and installs nothing.
func TestInstallVersionOnly(t *testing.T) {
	in := load(t, "../examples/hello-go")
	plain, err := Generate(GitLab, in)
	if err != nil {
		t.Fatal(err)
	}
	in.Slipway = &Install{Version: "1.4.0"}
	got, err := Generate(GitLab, in)
	if err != nil {
		t.Fatal(err)
	}
	if string(got[0].Content) != string(plain[0].Content) {
		t.Errorf("a version without checksums changed the file:\n%s", got[0].Content)
	}
}

// TestParseChecksums reads goreleaser's checksums.txt.
func TestParseChecksums(t *testing.T) {
	a, b := strings.Repeat("0a", 32), strings.Repeat("1b", 32)
	text := a + "  slipway_1.4.0_linux_amd64.tar.gz\n" + b + "  slipway_1.4.0_linux_arm64.tar.gz\n" +
		strings.Repeat("2c", 32) + "  slipway_1.4.0_darwin_arm64.tar.gz\n"
	in, err := ParseChecksums("v1.4.0", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if in.Version != "1.4.0" || in.Checksums["amd64"] != a || in.Checksums["arm64"] != b || len(in.Checksums) != 2 {
		t.Errorf("got %+v", in)
	}
	if _, err := ParseChecksums("1.5.0", []byte(text)); err == nil {
		t.Error("checksums of another version are accepted")
	}
}

// TestInstallScriptRuns runs the install script under sh against a release
// served on 127.0.0.1: it installs the archive whose SHA-256 matches, and
// refuses, installing nothing, one that does not.
func TestInstallScriptRuns(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the install script is for Linux agents")
	}
	for _, tool := range []string{"sh", "curl", "sha256sum", "tar", "uname"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	arch := map[string]string{"amd64": "amd64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		t.Skipf("no Slipway archive for %s", runtime.GOARCH)
	}
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	body := []byte("#!/bin/sh\necho slipway 1.4.0 \"$@\"\n")
	for _, name := range []string{"README.md", "slipway"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(tgz.Bytes())
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Path)
		if r.URL.Path != "/v1.4.0/"+archive("1.4.0", arch) {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(tgz.Bytes())
	}))
	defer srv.Close()
	for _, c := range []struct {
		name string
		sum  string
		ok   bool
	}{
		{"matching sum", hex.EncodeToString(sum[:]), true},
		{"other sum", strings.Repeat("0", 64), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := &Install{Version: "1.4.0", URL: srv.URL + "/v1.4.0", Checksums: map[string]string{arch: c.sum}}
			if err := in.check(); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			cmd := exec.Command("sh", "-c", in.script()+"\n"+in.command()+" version")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			_, statErr := os.Stat(filepath.Join(dir, in.command()))
			if c.ok {
				if err != nil || !strings.Contains(string(out), "slipway 1.4.0 version") {
					t.Fatalf("install: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("an archive with another SHA-256 installs:\n%s", out)
			}
			if statErr == nil {
				t.Error("slipway was unpacked from an archive whose SHA-256 does not match")
			}
		})
	}
}

// TestGoreleaserNamesMatchInstall checks .goreleaser.yml publishes the
// archives and checksums under the names install steps download.
func TestGoreleaserNamesMatchInstall(t *testing.T) {
	b, err := os.ReadFile("../.goreleaser.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ProjectName string `yaml:"project_name"`
		Builds      []struct {
			Binary string
			Goos   []string
			Goarch []string
		}
		Archives []struct {
			NameTemplate string `yaml:"name_template"`
			Formats      []string
		}
		Checksum struct {
			NameTemplate string `yaml:"name_template"`
			Algorithm    string
		}
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Archives) != 1 || len(cfg.Builds) != 1 {
		t.Fatalf("want one build and one archive, got %+v", cfg)
	}
	// Render the name template for one archive as goreleaser would.
	name := strings.NewReplacer("{{ .ProjectName }}", cfg.ProjectName, "{{ .Version }}", "1.4.0", "{{ .Os }}", "linux", "{{ .Arch }}", "arm64").
		Replace(cfg.Archives[0].NameTemplate) + "." + cfg.Archives[0].Formats[0]
	if want := archive("1.4.0", "arm64"); name != want {
		t.Errorf("goreleaser names the archive %s, install steps download %s", name, want)
	}
	if cfg.Builds[0].Binary != "slipway" || !slices.Contains(cfg.Builds[0].Goos, "linux") ||
		!slices.Contains(cfg.Builds[0].Goarch, "amd64") || !slices.Contains(cfg.Builds[0].Goarch, "arm64") {
		t.Errorf("the build is not slipway for linux amd64 and arm64: %+v", cfg.Builds[0])
	}
	if cfg.Checksum.NameTemplate != "checksums.txt" || cfg.Checksum.Algorithm != "sha256" {
		t.Errorf("checksums are %+v, want checksums.txt with sha256", cfg.Checksum)
	}
}

// goInstallInput is examples/static-site as Slipway 1.4.0 generates it
// without checksums: its jobs run on ubuntu-latest with no agent.image.
func goInstallInput(t testing.TB) Input {
	in := load(t, "../examples/static-site")
	in.Slipway = &Install{Version: "1.4.0"}
	return in
}

// TestGenerateGoInstallGolden: a workflow whose jobs run on the runner,
// generated by a Slipway with a version and no checksums, installs that
// version with go install, cached by version, unless the runner has slipway
// on its PATH; the steps run slipway from the PATH. With agent.image or
// agent.slipway, or without a version, nothing is installed.
func TestGenerateGoInstallGolden(t *testing.T) {
	ss, err := schemas()
	if err != nil {
		t.Fatalf("compiling the schemas: %v", err)
	}
	in := goInstallInput(t)
	files, err := Generate(GitHub, in)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Generate(GitHub, in)
	if !bytes.Equal(joinFiles(files), joinFiles(again)) {
		t.Error("two runs differ")
	}
	testutil.Golden(t, filepath.Join("testdata", "goinstall", "github.golden"), joinFiles(files))
	for _, f := range files {
		checkSchema(t, ss[GitHub], f)
	}
	text := string(files[0].Content)
	for _, want := range []string{
		"go install " + goInstallPackage + "@v1.4.0",
		"key: slipway-1.4.0-${{ runner.os }}-${{ runner.arch }}",
		"run: slipway release --push",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the workflow has no %q", want)
		}
	}
	// Every job that runs slipway installs it.
	if n := strings.Count(text, "- name: Find Slipway"); n != 2 {
		t.Errorf("%d jobs find Slipway, want 2", n)
	}
	for name, edit := range map[string]func(*Input){
		"agent.image":   func(in *Input) { in.ci.Agent.Image = "golang:1.26" },
		"agent.slipway": func(in *Input) { in.ci.Agent.Slipway = "slipway" },
		"no version":    func(in *Input) { in.Slipway = nil },
	} {
		t.Run(name, func(t *testing.T) {
			in := goInstallInput(t)
			ci := *in.ci
			in.ci = &ci
			edit(&in)
			files, err := Generate(GitHub, in)
			if err != nil {
				t.Fatal(err)
			}
			if text := string(files[0].Content); strings.Contains(text, "go install") || strings.Contains(text, "actions/cache") {
				t.Errorf("the workflow installs Slipway:\n%s", text)
			}
		})
	}
}

// TestGoInstallScriptRuns runs the find and install steps' scripts under
// sh as GitHub would, with a go that records its arguments and environment
// and writes a slipway: a cold run builds Slipway into the tool cache and
// puts it on the PATH; a warm one (the cache restored) builds nothing; with
// no go it fails saying what to do; and slipway on the PATH is found.
func TestGoInstallScriptRuns(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the install script is for Linux runners")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("sh is not installed")
	}
	bin := t.TempDir()
	// Only what the scripts use, and no go or slipway.
	for _, tool := range []string{"mkdir", "cat"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s is not installed", tool)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	goLog := filepath.Join(t.TempDir(), "go.log")
	fakeGo := "#!" + sh + "\necho \"$* GOFLAGS=$GOFLAGS CGO_ENABLED=$CGO_ENABLED\" >>" + goLog +
		"\nmkdir -p \"$GOBIN\" && printf '#!/bin/sh\\necho built\\n' >\"$GOBIN/slipway\" && chmod +x \"$GOBIN/slipway\"\n"
	goDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(goDir, "go"), []byte(fakeGo), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/bin/chmod", filepath.Join(goDir, "chmod")); err != nil {
		t.Fatal(err)
	}
	tools := t.TempDir()
	run := func(script, path string) (string, string, error) {
		ghPath := filepath.Join(t.TempDir(), "path")
		ghOut := filepath.Join(t.TempDir(), "output")
		cmd := exec.Command(sh, "-e", "-c", script)
		cmd.Env = []string{"PATH=" + path, "RUNNER_TOOL_CACHE=" + tools, "GITHUB_PATH=" + ghPath, "GITHUB_OUTPUT=" + ghOut, "GOFLAGS=-mod=vendor"}
		out, err := cmd.CombinedOutput()
		b, _ := os.ReadFile(ghPath)
		o, _ := os.ReadFile(ghOut)
		return string(out), string(b) + string(o), err
	}
	want := filepath.Join(tools, "slipway", "1.4.0") + "\n"

	out, files, err := run(ghFindScript, bin)
	if err != nil || files != "" {
		t.Fatalf("find without slipway: %v, outputs %q\n%s", err, files, out)
	}
	out, _, err = run(ghGoInstallScript("1.4.0"), bin)
	if err == nil || !strings.Contains(out, "::error::Installing Slipway 1.4.0 needs Go on the runner") {
		t.Fatalf("no go: %v\n%s", err, out)
	}
	if _, err := os.Stat(goLog); err == nil {
		t.Fatal("go ran")
	}
	for i, calls := range []int{1, 1} { // cold, then warm
		out, files, err = run(ghGoInstallScript("1.4.0"), bin+":"+goDir)
		if err != nil || files != want {
			t.Fatalf("run %d: %v, GITHUB_PATH %q\n%s", i, err, files, out)
		}
		b, _ := os.ReadFile(goLog)
		if got := strings.Count(string(b), "\n"); got != calls {
			t.Errorf("run %d: go ran %d times, want %d", i, got, calls)
		}
		if want := "install " + goInstallPackage + "@v1.4.0 GOFLAGS= CGO_ENABLED=0\n"; string(b) != want {
			t.Errorf("go ran as %q, want %q", b, want)
		}
	}
	out, files, err = run(ghFindScript, filepath.Join(tools, "slipway", "1.4.0")+":"+bin)
	if err != nil || files != "found=true\n" || !strings.Contains(out, "slipway on the PATH: ") {
		t.Errorf("find with slipway: %v, outputs %q\n%s", err, files, out)
	}
}
