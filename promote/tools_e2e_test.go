package promote

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/testenv"
)

// toolEnv is two plain-HTTP docker-registry processes, dev and rc, with an
// OCI index pushed to dev as hello:1.0.0, for tests that drive outside
// tools against what Slipway promotes.
type toolEnv struct {
	from, to *registry.Client
	digest   v1.Hash
	dir      string // the tools' working directory
	env      []string
}

func newToolEnv(t *testing.T) *toolEnv {
	t.Helper()
	isolate(t)
	e := &toolEnv{from: dockerRegistry(t, "dev"), to: dockerRegistry(t, "rc"), dir: t.TempDir()}
	e.digest = push(t, e.from, "hello", "1.0.0", ociIndex(t))
	// Only 127.0.0.1 may be reached: anything else goes to a proxy that is
	// not there, and fails at once.
	e.env = append(os.Environ(),
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost",
		"TUF_ROOT="+filepath.Join(e.dir, "tuf"), "COSIGN_PASSWORD=correct horse")
	return e
}

// ref is REGISTRY/team/hello@DIGEST in c.
func (e *toolEnv) ref(c *registry.Client) string {
	repo, _ := c.Repo("hello")
	return repo.Digest(e.digest.String()).String()
}

// run runs a tool in e.dir and returns its stdout; it fails the test on a
// non-zero exit unless fail is true, and then fails it on success.
func (e *toolEnv) run(t *testing.T, fail bool, tool string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir, cmd.Env = e.dir, e.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	switch {
	case err != nil && !fail:
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(tool), strings.Join(args, " "), err, stdout.String(), stderr.String())
	case err == nil && fail:
		t.Fatalf("%s %s succeeded, want a failure\n%s%s", filepath.Base(tool), strings.Join(args, " "), stdout.String(), stderr.String())
	}
	return stdout.String()
}

// promote promotes hello 1.0.0 from dev to rc with a record.
func (e *toolEnv) promote(t *testing.T) Result {
	t.Helper()
	res, err := Promote(context.Background(), Options{From: e.from, To: e.to, App: "hello", Version: "1.0.0", Record: &Record{Who: "e2e"}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCosignSignaturesFollow signs or attests at the source with cosign (a
// key pair of its own, no transparency log) and checks that cosign
// verifies the image at the target after promotion: a signature and an
// attestation under cosign's tags, and a signature as an OCI 1.1 referrer;
// each made before the first promotion, and after it, when the next
// promotion must bring it.
func TestCosignSignaturesFollow(t *testing.T) {
	cosign := testenv.Tool(t, "cosign")
	insecure := []string{"--allow-insecure-registry", "--allow-http-registry"}
	tests := []struct {
		name         string
		sign, verify []string // arguments before the flags for insecure registries and the reference
	}{
		{"signature tag",
			[]string{"sign", "--key", "cosign.key", "--tlog-upload=false", "--yes"},
			[]string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog"}},
		{"attestation tag",
			[]string{"attest", "--key", "cosign.key", "--tlog-upload=false", "--yes", "--type", "spdxjson", "--predicate", "sbom.spdx.json"},
			[]string{"verify-attestation", "--key", "cosign.pub", "--insecure-ignore-tlog", "--type", "spdxjson"}},
		{"OCI 1.1 referrer",
			[]string{"sign", "--key", "cosign.key", "--tlog-upload=false", "--yes", "--registry-referrers-mode=oci-1-1"},
			[]string{"verify", "--key", "cosign.pub", "--insecure-ignore-tlog", "--experimental-oci11"}},
	}
	for _, tt := range tests {
		for _, signFirst := range []bool{true, false} {
			t.Run(tt.name+map[bool]string{true: "/sign, then promote", false: "/promote, sign, promote again"}[signFirst], func(t *testing.T) {
				e := newToolEnv(t)
				e.env = append(e.env, "COSIGN_EXPERIMENTAL=1")
				sbom := `{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"hello"}`
				if err := os.WriteFile(filepath.Join(e.dir, "sbom.spdx.json"), []byte(sbom), 0o644); err != nil {
					t.Fatal(err)
				}
				e.run(t, false, cosign, "generate-key-pair")
				sign := func() {
					e.run(t, false, cosign, append(append(slices.Clone(tt.sign), insecure...), e.ref(e.from))...)
				}
				verify := func(c *registry.Client, fail bool) {
					e.run(t, fail, cosign, append(append(slices.Clone(tt.verify), insecure...), e.ref(c))...)
				}
				if signFirst {
					sign()
				}
				res := e.promote(t)
				if !signFirst {
					verify(e.to, true) // nothing signed yet: the test can tell
					sign()
					verify(e.from, false)
					res = e.promote(t)
					if res.UpToDate {
						t.Errorf("promotion after signing %+v; want the signature copied", res)
					}
				}
				if res.Referrers == 0 {
					t.Errorf("result %+v; want the signature among the referrers", res)
				}
				verify(e.to, false)
				again := e.promote(t)
				if !again.UpToDate || again.Referrers != 0 {
					t.Errorf("re-run %+v; want up to date", again)
				}
			})
		}
	}
}

// TestOrasArtifactsFollow attaches an SBOM-like artifact at the source
// with oras, before or after a promotion, and checks that oras discovers
// it at the target after the (next) promotion and pulls the same bytes.
func TestOrasArtifactsFollow(t *testing.T) {
	oras := testenv.Tool(t, "oras")
	const artifactType = "application/spdx+json"
	for _, attachFirst := range []bool{true, false} {
		t.Run(map[bool]string{true: "attach, then promote", false: "promote, attach, promote again"}[attachFirst], func(t *testing.T) {
			e := newToolEnv(t)
			sbom := `{"spdxVersion":"SPDX-2.3","name":"hello"}`
			if err := os.WriteFile(filepath.Join(e.dir, "sbom.spdx.json"), []byte(sbom), 0o644); err != nil {
				t.Fatal(err)
			}
			// discover lists the digests of the artifacts of artifactType
			// attached to the image in c.
			discover := func(c *registry.Client) []string {
				out := e.run(t, false, oras, "discover", "--plain-http", "--format", "json", "--artifact-type", artifactType, e.ref(c))
				var tree struct {
					Referrers []struct {
						Digest       string `json:"digest"`
						ArtifactType string `json:"artifactType"`
					} `json:"referrers"`
				}
				if err := json.Unmarshal([]byte(out), &tree); err != nil {
					t.Fatalf("oras discover output: %v\n%s", err, out)
				}
				var ds []string
				for _, r := range tree.Referrers {
					if r.ArtifactType == artifactType {
						ds = append(ds, r.Digest)
					}
				}
				return ds
			}
			var attached string
			attach := func() {
				out := e.run(t, false, oras, "attach", "--plain-http", "--format", "json", "--artifact-type", artifactType,
					e.ref(e.from), "sbom.spdx.json:"+artifactType)
				var d struct {
					Digest string `json:"digest"`
				}
				if err := json.Unmarshal([]byte(out), &d); err != nil || d.Digest == "" {
					t.Fatalf("oras attach output: %v\n%s", err, out)
				}
				attached = d.Digest
			}
			if attachFirst {
				attach()
			}
			res := e.promote(t)
			if !attachFirst {
				if got := discover(e.to); len(got) != 0 {
					t.Fatalf("rc has %v before anything was attached", got)
				}
				attach()
				res = e.promote(t)
				if res.UpToDate || res.Referrers == 0 {
					t.Errorf("promotion after attaching %+v; want the artifact copied", res)
				}
			}
			if got := discover(e.to); !slices.Contains(got, attached) {
				t.Fatalf("oras discovers %v at rc, want %s", got, attached)
			}
			repo, _ := e.to.Repo("hello")
			out := filepath.Join(e.dir, "pulled")
			e.run(t, false, oras, "pull", "--plain-http", "-o", out, repo.Digest(attached).String())
			if got, err := os.ReadFile(filepath.Join(out, "sbom.spdx.json")); err != nil || string(got) != sbom {
				t.Errorf("pulled %q, %v; want %q", got, err, sbom)
			}
			again := e.promote(t)
			if !again.UpToDate || again.Referrers != 0 {
				t.Errorf("re-run %+v; want up to date", again)
			}
		})
	}
}
