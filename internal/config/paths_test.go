package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/projfs"
)

// pathProject is a project whose file-valued settings the tests fill.
const pathProject = `apiVersion: slipway/v1
app: hello
registries:
  dev: {url: registry.example.com/team, ca: %s}
environments:
  dev: {registry: dev, kubeconfig: %s, verify: {key: %s}}
deploy: {pod: %s}
signing: {key: %s}
`

type pathValues struct{ ca, kubeconfig, verify, pod, signing string }

func projectWith(v pathValues) string {
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	vals := []string{or(v.ca, "ca.pem"), or(v.kubeconfig, "/etc/kube.conf"), or(v.verify, "cosign.pub"), or(v.pod, "pod.yml"), or(v.signing, "env://SIGNING_KEY")}
	out := pathProject
	for _, s := range vals {
		out = strings.Replace(out, "%s", `"`+s+`"`, 1)
	}
	return out
}

// TestPathSettingsAsText: config check refuses a file-valued setting that
// leaves the project by its text, naming the field and what is valid.
func TestPathSettingsAsText(t *testing.T) {
	tests := []struct {
		name string
		v    pathValues
		want string // "" for no problem
	}{
		{"defaults", pathValues{}, ""},
		{"absolute CA", pathValues{ca: "/etc/ssl/certs/company.pem"}, ""},
		{"CA out by ..", pathValues{ca: "../ca.pem"}, `registries.dev.ca: "../ca.pem": its .. leads outside the project; a relative path stays inside the project (an absolute one, such as /etc/ssl/certs/company.pem, may name a file elsewhere)`},
		{"kubeconfig out by ..", pathValues{kubeconfig: "certs/../../kube"}, `environments.dev.kubeconfig: "certs/../../kube": its .. leads outside`},
		{"verify key out", pathValues{verify: "../../home/ci/cosign.pub"}, `environments.dev.verify.key: "../../home/ci/cosign.pub": its .. leads outside`},
		{"signing key out", pathValues{signing: "../cosign.key"}, `signing.key: "../cosign.key": its .. leads outside`},
		{"absolute signing key", pathValues{signing: "/run/secrets/cosign.key"}, ""},
		{"pod absolute", pathValues{pod: "/run/secrets/token"}, `deploy.pod: "/run/secrets/token": an absolute path is outside the project; want a path relative to the project, e.g. dist/app; the file is part of the project, so name it by a path inside the project directory, e.g. token`},
		{"pod out by ..", pathValues{pod: "../other/pod.yml"}, `deploy.pod: "../other/pod.yml": its .. leads outside the project`},
		{"pod in .git", pathValues{pod: ".git/config"}, `deploy.pod: ".git/config": .git holds git's data or Slipway's output, not the project's files`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseProject(ProjectFile, []byte(projectWith(tt.v)))
			checkProblem(t, err, tt.want)
		})
	}
}

func checkProblem(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected problems:\n%v", err)
		}
		return
	}
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
		t.Fatalf("problems:\n%v\nwant one holding\n%s", err, want)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a problem quotes a file's content:\n%v", err)
	}
}

// TestPathSettingsOnDisk: config check follows each file-valued setting on
// disk: no symlink out of the project, nothing but a regular file within
// its size limit; a missing key or CA is no problem until it is needed.
func TestPathSettingsOnDisk(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, outside string)
		v     pathValues
		want  string
	}{
		{"missing files", nil, pathValues{signing: "cosign.key"}, ""},
		{"files inside", func(t *testing.T, dir, _ string) {
			for _, f := range []string{"ca.pem", "cosign.pub", "pod.yml"} {
				writeTestFile(t, filepath.Join(dir, f), "x")
			}
		}, pathValues{}, ""},
		{"a symlink inside the project", func(t *testing.T, dir, _ string) {
			writeTestFile(t, filepath.Join(dir, "keys", "cosign.pub"), "x")
			symlink(t, "keys/cosign.pub", filepath.Join(dir, "cosign.pub"))
		}, pathValues{}, ""},
		{"CA through a symlink out", func(t *testing.T, dir, outside string) {
			symlink(t, filepath.Join(outside, "secret"), filepath.Join(dir, "ca.pem"))
		}, pathValues{}, `registries.dev.ca: "ca.pem": ca.pem is a symlink to`},
		{"pod through a symlinked directory", func(t *testing.T, dir, outside string) {
			symlink(t, outside, filepath.Join(dir, "deploy"))
		}, pathValues{pod: "deploy/secret"}, `deploy.pod: "deploy/secret": deploy is a symlink to`},
		{"signing key as a directory", func(t *testing.T, dir, _ string) {
			if err := os.Mkdir(filepath.Join(dir, "cosign.key"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, pathValues{signing: "cosign.key"}, `signing.key: "cosign.key": it is a directory, not a regular file`},
		{"CA too large", func(t *testing.T, dir, _ string) {
			writeTestFile(t, filepath.Join(dir, "ca.pem"), strings.Repeat("x", 1<<20+1))
		}, pathValues{}, `registries.dev.ca: "ca.pem": the file is 1.0 MiB; Slipway reads files of at most 1.0 MiB here`},
		{"pod too large", func(t *testing.T, dir, _ string) {
			writeTestFile(t, filepath.Join(dir, "pod.yml"), strings.Repeat("#", DefaultLimits.MaxBytes+1))
		}, pathValues{}, `deploy.pod: "pod.yml": the file is 256 KiB; Slipway reads files of at most 256 KiB here`},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, []struct {
			name  string
			setup func(t *testing.T, dir, outside string)
			v     pathValues
			want  string
		}{
			{"absolute CA as a device", nil, pathValues{ca: "/dev/zero"}, `registries.dev.ca: "/dev/zero": it is a device, not a regular file`},
			{"absolute kubeconfig as a device", nil, pathValues{kubeconfig: "/dev/zero"}, `environments.dev.kubeconfig: "/dev/zero": it is a device, not a regular file`},
		}...)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir, outside := filepath.Join(base, "app"), filepath.Join(base, "outside")
			writeTestFile(t, filepath.Join(outside, "secret"), "TOKEN=hunter2")
			writeTestFile(t, filepath.Join(dir, ProjectFile), projectWith(tt.v))
			if tt.setup != nil {
				tt.setup(t, dir, outside)
			}
			_, err := LoadProject(dir)
			checkProblem(t, err, tt.want)
			if tt.want != "" && !strings.Contains(err.Error(), "slipway.yaml:") {
				t.Errorf("the problem is not positioned: %v", err)
			}
		})
	}
}

// TestRelativeFilesFollowTheProject: a relative CA or kubeconfig names a
// file beside slipway.yaml, wherever Slipway runs from.
func TestRelativeFilesFollowTheProject(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, ProjectFile), projectWith(pathValues{kubeconfig: "kube/config"}))
	p, err := LoadProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Registries[0].CA; got != filepath.Join(dir, "ca.pem") {
		t.Errorf("CA = %s", got)
	}
	if got := p.Environments[0].Kubeconfig; got != filepath.Join(dir, "kube", "config") {
		t.Errorf("kubeconfig = %s", got)
	}
}

func TestStabilityWithinTimeout(t *testing.T) {
	tests := []struct {
		deploy string
		want   string
	}{
		{"{timeout: 5m, stability: 30s}", ""},
		{"{timeout: 10s, stability: 9s}", ""},
		{"{timeout: 10s, stability: 9.9s}", ""},
		{"{timeout: 10s, stability: 10s}", `slipway.yaml:3:35: deploy.stability: deploy.stability (10s) must be shorter than deploy.timeout (10s): a rollout's deadline must leave time for a new pod to stay ready that long; make stability at most 9s, or timeout more than 10s`},
		{"{timeout: 1m, stability: 2m}", `deploy.stability: deploy.stability (2m0s) must be shorter than deploy.timeout (1m0s)`},
		{"{timeout: 10.5s, stability: 10.2s}", `make stability at most 9s, or timeout more than 10s`}, // whole seconds, as rendered
		{"{timeout: 2s}", `deploy.timeout: deploy.stability (3s) must be shorter than deploy.timeout (2s)`},
		{"{timeout: 500ms, stability: 0s}", ""},
		{"{timeout: 500ms, stability: 1s}", `make stability at most 0s, or timeout more than 1s`},
	}
	for _, tt := range tests {
		t.Run(tt.deploy, func(t *testing.T) {
			_, err := ParseProject(ProjectFile, []byte("apiVersion: slipway/v1\napp: hello\ndeploy: "+tt.deploy+"\n"))
			checkProblem(t, err, tt.want)
		})
	}
}

func TestSurge(t *testing.T) {
	tests := []struct {
		surge string
		want  string // a problem, "" for none; then the value
		value Surge
	}{
		{"", "", "25%"},
		{"2", "", "2"},
		{"1000", "", "1000"},
		{"100%", "", "100%"},
		{`"1%"`, "", "1%"},
		{"0", "slipway.yaml:3:17: deploy.surge: a number of pods must be 1 to 1000, got 0", ""},
		{"1001", "a number of pods must be 1 to 1000, got 1001", ""},
		{"0%", "a percentage must be 1% to 100%, got 0%", ""},
		{"101%", "a percentage must be 1% to 100%, got 101%", ""},
		{"-1", "a number of pods must be 1 to 1000, got -1", ""},
		{strings.Repeat("9", 200), `such as 25% or 100%, got "99999`, ""},
		{"007", `got "007"`, ""},
		{"half", `got "half"`, ""},
		{"25 %", `got "25 %"`, ""},
		{"[1]", "deploy.surge: expected a number of pods such as 2, or a percentage of the replicas such as 25% or 100%, got a list", ""},
	}
	for _, tt := range tests {
		t.Run(tt.surge, func(t *testing.T) {
			doc := "apiVersion: slipway/v1\napp: hello\ndeploy: {surge: " + tt.surge + "}\n"
			if tt.surge == "" {
				doc = "apiVersion: slipway/v1\napp: hello\n"
			}
			p, err := ParseProject(ProjectFile, []byte(doc))
			checkProblem(t, err, tt.want)
			if err == nil && p.Deploy.Surge != tt.value {
				t.Errorf("surge = %q, want %q", p.Deploy.Surge, tt.value)
			}
		})
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("cannot make symlinks here: %v", err)
	}
}

// TestConfigFilesAreOwnFiles: slipway.yaml and ci.yaml, and the module
// directories ci.yaml names, are read only as regular files inside the
// project: a committed symlink (to the process's environment, say) is a
// problem, and what it leads to is never read.
func TestConfigFilesAreOwnFiles(t *testing.T) {
	const ci = "apiVersion: slipway/v1\ntasks: {ciBuild: make}\npipeline: [ciBuild]\n"
	tests := []struct {
		name  string
		setup func(t *testing.T, dir, outside string)
		want  string
	}{
		{"slipway.yaml a symlink", func(t *testing.T, dir, outside string) {
			symlink(t, filepath.Join(outside, "secret"), filepath.Join(dir, ProjectFile))
		}, "slipway.yaml: slipway.yaml is a symlink"},
		{"ci.yaml a symlink", func(t *testing.T, dir, outside string) {
			writeTestFile(t, filepath.Join(dir, ProjectFile), "apiVersion: slipway/v1\napp: hello\n")
			symlink(t, filepath.Join(outside, "secret"), filepath.Join(dir, CIFile))
		}, "ci.yaml: ci.yaml is a symlink"},
		{"ci.yaml a directory", func(t *testing.T, dir, outside string) {
			writeTestFile(t, filepath.Join(dir, ProjectFile), "apiVersion: slipway/v1\napp: hello\n")
			writeTestFile(t, filepath.Join(dir, CIFile, "x"), "")
		}, "ci.yaml: it is a directory, not a regular file"},
		{"a module a symlink", func(t *testing.T, dir, outside string) {
			writeTestFile(t, filepath.Join(dir, ProjectFile), "apiVersion: slipway/v1\napp: hello\n")
			writeTestFile(t, filepath.Join(dir, CIFile), ci+"modules: [billing]\n")
			symlink(t, outside, filepath.Join(dir, "billing"))
		}, `ci.yaml:4:11: modules[0]: "billing": billing is a symlink`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir, outside := filepath.Join(base, "app"), filepath.Join(base, "outside")
			writeTestFile(t, filepath.Join(outside, "secret"), "apiVersion: slipway/v1\napp: hunter2\n")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, dir, outside)
			t.Chdir(dir) // problems name files relative to here
			p, err := LoadProject(dir)
			if err == nil {
				_, err = LoadCI(dir, p)
			}
			checkProblem(t, err, tt.want)
		})
	}
}

// TestScaffoldNeverWritesThroughLinks: init, forced or not, writes no file
// through a symlink a checkout holds in place of one it writes.
func TestScaffoldNeverWritesThroughLinks(t *testing.T) {
	tests := []struct {
		link    string
		force   bool
		wantErr error
	}{
		{ProjectFile, false, ErrExists},
		{ProjectFile, true, projfs.ErrSymlink},
		{PodFile, true, projfs.ErrSymlink},
		{".gitignore", false, projfs.ErrSymlink},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s force=%v", tt.link, tt.force), func(t *testing.T) {
			base := t.TempDir()
			dir, outside := filepath.Join(base, "app"), filepath.Join(base, "outside")
			writeTestFile(t, filepath.Join(outside, "secret"), "keep")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			symlink(t, filepath.Join(outside, "secret"), filepath.Join(dir, tt.link))
			_, err := Scaffold(dir, ScaffoldOptions{Force: tt.force})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Scaffold error = %v, want %v", err, tt.wantErr)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "keep" {
				t.Errorf("init wrote through the link: the file outside holds %q", b)
			}
		})
	}
}
