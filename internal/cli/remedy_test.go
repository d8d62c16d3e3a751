package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/flow"
	"github.com/slipwayhq/slipway/internal/image"
	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/remedy"
	"github.com/slipwayhq/slipway/internal/sign"
)

// keyExists writes a key pair, then writes one again without force, and
// returns the private key's path and that error.
func keyExists(t *testing.T) (string, error) {
	t.Helper()
	dir := t.TempDir()
	kp := sign.KeyPair{Private: []byte("private"), Public: []byte("public")}
	private, _, err := sign.WriteKeyPair(dir, "cosign", kp, false)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = sign.WriteKeyPair(dir, "cosign", kp, false)
	return private, err
}

// TestRemedyWords checks that each next step a core error carries is
// worded where, and as, the message has always said it.
func TestRemedyWords(t *testing.T) {
	rc := registry.Target{Side: registry.SideTarget, Host: "registry.example.com", Name: "rc", Tried: "T", Anonymous: true}
	bare := registry.Target{Host: "registry.example.com", Tried: "T"}
	conflict := &registry.TagConflictError{Tag: "r/hello:1.2.3", Existing: sha("a"), New: sha("b")}
	locked := &deploy.LockedError{Env: "prod", Namespace: "hello", Lease: "slipway-lock", Expiry: 15 * time.Second}
	te := &transport.Error{StatusCode: http.StatusTooManyRequests}
	var kc, dir string
	empty := t.TempDir()
	_, noRecord := image.ReadRecord(empty)
	_, noProject := config.LoadProject(empty)
	_, noTask := flow.ParseTask(&config.Project{}, "nope")
	keyFile, keyErr := keyExists(t)
	timeout := &deadline.Error{Server: "registry", Host: "registry.example.com", Wait: deadline.WaitHeaders, Limit: 30 * time.Second, Doing: "pushing"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"login", &registry.AuthError{Target: rc, Status: http.StatusUnauthorized, Reason: "HTTP 401"},
			"target registry rc (registry.example.com) requires authentication; no credentials found (tried T): HTTP 401; " +
				"run `docker login registry.example.com` or set SLIPWAY_REGISTRY_RC_USERNAME and SLIPWAY_REGISTRY_RC_PASSWORD"},
		{"login as another", &registry.AuthError{Target: bare, Status: http.StatusForbidden, Reason: "HTTP 403"},
			"registry registry.example.com denied access with the credentials from T: HTTP 403; " +
				"check that the account may use this repository, or log in as one that may: run `docker login registry.example.com`"},
		{"rate limit", registry.Classify(te, bare),
			"registry registry.example.com is rate limiting requests (429) and retries ran out: " + te.Error() +
				"; wait and try again, or log in for a higher limit: run `docker login registry.example.com`"},
		{"registry timeout", registry.Classify(fmt.Errorf("pushing: %w", timeout), bare),
			"registry registry.example.com: no response headers within 30s while pushing; check that the registry is up and reachable from here; " +
				"if it is only slow, allow more with --network-timeout or SLIPWAY_NETWORK_TIMEOUT (e.g. headers=2m,idle=5m)"},
		{"tag conflict", fmt.Errorf("pushing hello: %w", conflict),
			"pushing hello: r/hello:1.2.3 already points at sha256:a, not at this build's sha256:b; versions are immutable: release a new version, or use --force to move the tag"},
		{"tag conflict, in the middle", fmt.Errorf("promoting: %w (and more)", &registry.TagConflictError{Tag: "r/hello:1.2.3", Existing: sha("a"), New: sha("b"), Concurrent: true}),
			"promoting: r/hello:1.2.3 was tagged by another run at the same time and points at sha256:a, not at this build's sha256:b; that run won and its image is complete; " +
				"versions are immutable: release a new version, or use --force to move the tag (and more)"},
		{"joined", errors.Join(conflict, &flow.DriftError{}),
			"r/hello:1.2.3 already points at sha256:a, not at this build's sha256:b; versions are immutable: release a new version, or use --force to move the tag\n" +
				"checking generated CI files: " + flow.ErrDrift.Error() + "; run `slipway pipeline generate` and commit the result"},
		{"lock", locked, locked.Error() + "\nwait for it with --wait-lock[=DURATION]; if that run is dead, its lock expires 15s after its last renewal; " +
			"to take it now: --break-lock --reason \"why\" (Lease hello/slipway-lock)"},
		{"interrupted deploy", &deploy.InterruptedError{Env: "prod", State: "S", Released: true, Next: remedy.Remedy{Kind: remedy.FollowDeploy, Env: "prod"}},
			"interrupted: S; released the lock of prod\nnext: run `slipway status prod` to follow it; `slipway deploy prod` again judges it (a no-op once it is healthy); `slipway rollback prod` undoes it"},
		{"push there first", &registry.Error{Target: bare, Kind: registry.ErrNotFound, Err: errors.New("r/hello:9.9.9 does not exist"), Next: remedy.Remedy{Kind: remedy.PushThere, Registry: "dev"}},
			"registry registry.example.com: not found: r/hello:9.9.9 does not exist; push it there first with `slipway push dev`"},
		{"key pair exists", keyErr,
			"writing " + keyFile + ": " + sign.ErrKeyExists.Error() + "; keep it, or pass --force to replace the pair"},
		{"interrupted early", &deploy.InterruptedError{Env: "dev", State: "nothing was changed in dev", Next: remedy.Remedy{Kind: remedy.DeployAgain, Env: "dev"}},
			"interrupted: nothing was changed in dev\nnext: run `slipway deploy dev` again"},
		{"interrupted rollback", &deploy.InterruptedError{Env: "dev", State: "S", Next: remedy.Remedy{Kind: remedy.RollbackAgain, Env: "dev"}},
			"interrupted: S\nnext: run `slipway rollback dev` again"},
		{"interrupted rollback under way", &deploy.InterruptedError{Env: "dev", State: "S", Next: remedy.Remedy{Kind: remedy.FollowRollback, Env: "dev"}},
			"interrupted: S\nnext: run `slipway status dev` to follow it"},
		{"gate", flow.Gate("prod", config.Requirement{Env: "canary"}, deploy.EnvStatus{Health: deploy.Missing}, "sha256:a", time.Now()),
			"gate refused: prod requires canary: nothing is deployed there; deploy it there first, or pass --skip-gate --reason \"...\""},
		{"no context", noContext(t, &kc),
			"connecting to dev: kubeconfig context not found: the kubeconfig (KUBECONFIG) has no context \"nowhere\"; valid: kind; " +
				"set environments.dev.context in slipway.yaml, pass --context, or point KUBECONFIG at the right file"},
		{"no build", noRecord, "reading build record in EMPTY: no build found; run `slipway build` first"},
		{"no project", noProject, "reading EMPTY/slipway.yaml: configuration file not found (create one with `slipway init`)"},
		{"unknown task", noTask, "unknown task \"nope\"; valid: buildImage, pushImageTo; `slipway tasks` lists them"},
		{"init", existing(t, &dir), "initialising DIR: files already exist: slipway.yaml, pod.yml, ci.yaml; use --force to overwrite"},
		{"missing source", missingSource("ciBuild"),
			"layer 1 (linux/amd64, from dist/linux_amd64/app): no such file or directory; the ci.yaml task ciBuild should make it: run `slipway ci ciBuild` first"},
		{"missing source, no task", missingSource(""),
			"layer 1 (linux/amd64, from dist/linux_amd64/app): no such file or directory; make it first: a task in ci.yaml that CI runs before build " +
				"(run one here with `slipway ci TASK`), or point the layer's from at what the build writes"},
	}
	// Temporary paths in messages, and what the table says instead.
	tmp := strings.NewReplacer(kc, "KUBECONFIG", dir, "DIR", empty, "EMPTY")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := remedy.Of(tt.err); !ok {
				t.Fatalf("%v carries no remedy", tt.err)
			}
			if got := tmp.Replace(message(tt.err)); got != tt.want {
				t.Errorf("message =\n%s\nwant\n%s", got, tt.want)
			}
			for _, flag := range []string{"--", "slipway ", "docker login"} {
				if strings.Contains(tt.err.Error(), flag) {
					t.Errorf("the core message says %q itself: %s", flag, tt.err)
				}
			}
		})
	}
}

// TestRemedyJSON checks that -o json carries the worded next step in its
// error, as before.
func TestRemedyJSON(t *testing.T) {
	err := fmt.Errorf("pushing hello: %w", &registry.TagConflictError{Tag: "r:1", Existing: sha("a"), New: sha("b")})
	var out bytes.Buffer
	if code := report(Stdio{Out: &out, Err: &out}, []string{"slipway", "-o", "json", "push"}, err); code != ExitRefused {
		t.Errorf("exit code %d, want %d", code, ExitRefused)
	}
	var j jsonError
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	if want := "pushing hello: r:1 already points at sha256:a, not at this build's sha256:b; versions are immutable: release a new version, or use --force to move the tag"; j.Error != want {
		t.Errorf("error = %q, want %q", j.Error, want)
	}
}

// noContext is the error of connecting through a kubeconfig (its path in
// *kc) without the environment's context.
func noContext(t *testing.T, kc *string) error {
	*kc = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters: [{name: kind, cluster: {server: 'https://127.0.0.1:1'}}]\n" +
		"users: [{name: kind, user: {}}]\ncontexts: [{name: kind, context: {cluster: kind, user: kind}}]\ncurrent-context: kind\n"
	if err := os.WriteFile(*kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", *kc)
	_, err := deploy.Connect(config.Environment{Name: "dev", Context: "nowhere"}, deploy.ClusterOptions{})
	if err == nil {
		t.Fatal("Connect found a context that is not there")
	}
	return err
}

// missingSource is the error of building without a layer's source, as
// flow words it when task should make it.
func missingSource(task string) error {
	err := fmt.Errorf("layer 1 (linux/amd64, from dist/linux_amd64/app): %w", &image.MissingSourceError{From: "dist/linux_amd64/app"})
	return remedy.With(err, remedy.Remedy{Kind: remedy.RunBuildTask, Task: task, File: config.CIFile})
}

// existing is the error of scaffolding over existing files in *dir.
func existing(t *testing.T, dir *string) error {
	*dir = t.TempDir()
	if _, err := config.Scaffold(*dir, config.ScaffoldOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := config.Scaffold(*dir, config.ScaffoldOptions{})
	if err == nil {
		t.Fatal("Scaffold wrote over existing files")
	}
	return err
}

// TestNextStepOnce checks that a failure prints its next step once, in
// the words of its remedy: a push without a build, as CI runs it, and an
// interrupt that says nothing of what it left.
func TestNextStepOnce(t *testing.T) {
	dir := t.TempDir()
	project := "apiVersion: slipway/v1\napp: hello\nimage:\n  layers: [{from: app.txt, to: /app/app.txt}]\n" +
		"registries:\n  dev: {url: 127.0.0.1:5000/team, insecure: true}\nenvironments:\n  dev: {registry: dev}\n"
	for name, content := range map[string]string{"slipway.yaml": project, "app.txt": "hello\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, step string
		run        func(out, errOut *bytes.Buffer) int
	}{
		{"no build", "slipway build", func(out, errOut *bytes.Buffer) int {
			return Main(context.Background(), []string{"slipway", "-C", dir, "--no-color", "push", "dev", "--no-deps"}, Stdio{Out: out, Err: errOut})
		}},
		{"no build, json", "slipway build", func(out, errOut *bytes.Buffer) int {
			return Main(context.Background(), []string{"slipway", "-C", dir, "-o", "json", "push", "dev", "--no-deps"}, Stdio{Out: out, Err: errOut})
		}},
		{"interrupted", "re-run the command", func(out, errOut *bytes.Buffer) int {
			return report(Stdio{Out: out, Err: errOut}, []string{"slipway", "--no-color"}, fmt.Errorf("pushing: %w", context.Canceled))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := tt.run(&out, &errOut)
			if code == ExitOK {
				t.Fatal("succeeded")
			}
			all := out.String() + errOut.String()
			if n := strings.Count(all, tt.step); n != 1 {
				t.Errorf("the next step %q is printed %d times, want once:\n%s", tt.step, n, all)
			}
		})
	}
}

// sha is a sha256 digest with hex h, short for a message's sake.
func sha(h string) v1.Hash { return v1.Hash{Algorithm: "sha256", Hex: h} }
