package examples

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/cli"
	"github.com/slipwayhq/slipway/internal/testenv"
)

// project is one Slipway project among the examples: a directory holding a
// slipway.yaml whose image has layers (the monorepo's root has none).
type project struct {
	repo string // the example, a git repository of its own
	dir  string // the project inside it
}

func projects(t *testing.T) []project {
	var out []project
	roots, err := filepath.Glob("*/slipway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, root := range roots {
		repo := filepath.Dir(root)
		err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Name() != "slipway.yaml" {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.Contains(string(data), "layers:") {
				rel, _ := filepath.Rel(repo, filepath.Dir(p))
				out = append(out, project{repo: repo, dir: rel})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 5 {
		t.Fatalf("found %d example projects, want every one: %v", len(out), out)
	}
	return out
}

// TestExamplesBuildAndPush builds every example project the way its
// ci.yaml does (make dist, then slipway build) in a fresh git repository,
// checks that each image runs as non-root and has a command, and, when
// docker-registry is installed, pushes each to local registries standing in
// for 127.0.0.1:5000 and :5001.
func TestExamplesBuildAndPush(t *testing.T) {
	for _, tool := range []string{"git", "make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv(testenv.E2EEnv) == "1" {
				t.Fatalf("%s is needed", tool)
			}
			t.Skipf("needs %s", tool)
		}
	}
	var dev, rc *testenv.Registry
	if os.Getenv(testenv.E2EEnv) == "1" {
		dev = testenv.StartRegistry(t, testenv.RegistryOptions{})
		rc = testenv.StartRegistry(t, testenv.RegistryOptions{})
	}
	copied, work := map[string]string{}, t.TempDir()
	for _, pr := range projects(t) {
		t.Run(filepath.Join(pr.repo, pr.dir), func(t *testing.T) {
			repo, ok := copied[pr.repo]
			if !ok {
				repo = filepath.Join(work, pr.repo)
				copyTree(t, pr.repo, repo)
				if dev != nil {
					retarget(t, repo, map[string]string{"127.0.0.1:5000": dev.Host, "127.0.0.1:5001": rc.Host})
				}
				run(t, repo, "git", "init", "-q", "-b", "main")
				run(t, repo, "git", "add", "-A")
				run(t, repo, "git", "-c", "user.name=Ada", "-c", "user.email=ada@example.com", "commit", "-q", "-m", "feat: example")
				copied[pr.repo] = repo
			}
			dir := filepath.Join(repo, pr.dir)
			if _, err := os.Stat(filepath.Join(dir, "Makefile")); err == nil {
				run(t, dir, "make", "-s", "dist")
			}
			out := slipway(t, "-C", dir, "build", "--no-deps", "-o", "json")
			var rec struct {
				Platforms []struct {
					User      string `json:"user"`
					NoCommand bool   `json:"noCommand"`
				} `json:"platforms"`
				Warnings []string `json:"warnings"`
			}
			if err := json.Unmarshal([]byte(out), &rec); err != nil {
				t.Fatalf("build output: %v\n%s", err, out)
			}
			if len(rec.Warnings) > 0 {
				t.Errorf("build warnings: %q", rec.Warnings)
			}
			for _, p := range rec.Platforms {
				if p.User == "" || p.User == "0" || p.User == "root" || p.NoCommand {
					t.Errorf("platform image runs as %q, no command %v", p.User, p.NoCommand)
				}
			}
			if git := run(t, dir, "git", "status", "--porcelain"); strings.TrimSpace(git) != "" {
				t.Errorf("the build dirtied the tree:\n%s", git)
			}
			if dev == nil {
				return
			}
			out = slipway(t, "-C", dir, "push", "dev", "--no-deps")
			if !strings.Contains(out, dev.Host+"/") || !strings.Contains(out, "@sha256:") {
				t.Errorf("push dev printed %q", out)
			}
		})
	}
}

// slipway runs the CLI in process and returns its stdout, failing the test
// on a non-zero exit.
func slipway(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), append([]string{"slipway"}, args...), cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	if code != 0 {
		t.Fatalf("slipway %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// copyTree copies the files of an example, leaving out build output.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() && (d.Name() == "dist" || d.Name() == ".slipway") {
			return filepath.SkipDir
		}
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// retarget points every slipway.yaml under dir at the test's registries.
func retarget(t *testing.T, dir string, hosts map[string]string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "slipway.yaml" {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(data)
		for from, to := range hosts {
			s = strings.ReplaceAll(s, from, to)
		}
		return os.WriteFile(p, []byte(s), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestExampleModules runs the tests of each example that is a Go module of
// its own (hello-go's handlers and metrics), which go test ./... at the
// repository's root does not reach.
func TestExampleModules(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command")
	}
	mods, err := filepath.Glob("*/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, mod := range mods {
		dir := filepath.Dir(mod)
		t.Run(dir, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), goBin, "test", "./...")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOWORK=off")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go test ./... in examples/%s: %v\n%s", dir, err, out)
			}
		})
	}
}
