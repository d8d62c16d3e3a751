package sign

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipwayhq/slipway/internal/testenv"
)

// TestCosignCompatible checks both directions against the pinned cosign and
// Debian's docker-registry, offline (no transparency log): cosign verifies
// Slipway's signatures, Slipway verifies cosign's, and each refuses the
// other key.
func TestCosignCompatible(t *testing.T) {
	if testing.Short() {
		t.Skip("runs cosign and docker-registry")
	}
	cosign := testenv.Tool(t, "cosign")
	reg := testenv.StartRegistry(t, testenv.RegistryOptions{})
	ctx := context.Background()
	dir := t.TempDir()
	const password = "e2e-password"
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, cosign, args...)
		cmd.Dir = dir
		// Any request beyond 127.0.0.1 goes to a dead proxy: offline means offline.
		cmd.Env = append(os.Environ(), "HOME="+dir, "COSIGN_PASSWORD="+password, "COSIGN_YES=true",
			"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// Slipway's pair, and one made by cosign.
	if _, err := Generate(GenerateOptions{Dir: dir, Prefix: "slipway", Getenv: envOf(map[string]string{CosignPasswordEnv: password})}); err != nil {
		t.Fatal(err)
	}
	if out, err := run("generate-key-pair", "--output-key-prefix", "cosign"); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	load := func(prefix string) (Signer, Verifier) {
		t.Helper()
		key, err := os.ReadFile(filepath.Join(dir, prefix+".key"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := LoadSigner(key, []byte(password))
		if err != nil {
			t.Fatalf("loading %s.key: %v", prefix, err)
		}
		pub, err := os.ReadFile(filepath.Join(dir, prefix+".pub"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := LoadVerifier(pub)
		if err != nil {
			t.Fatalf("loading %s.pub: %v", prefix, err)
		}
		return s, v
	}
	slipwaySigner, slipwayVerifier := load("slipway")
	_, cosignVerifier := load("cosign")

	verify := func(ref name.Digest, pub string) error {
		out, err := run("verify", "--key", pub, "--insecure-ignore-tlog", "--allow-http-registry", ref.String())
		if err != nil {
			return errors.New(out)
		}
		return nil
	}

	t.Run("cosign verifies slipway", func(t *testing.T) {
		ref := pushRandom(t, reg.Host, "team/by-slipway")
		if _, err := Image(ctx, ref, slipwaySigner, nil); err != nil {
			t.Fatal(err)
		}
		if err := verify(ref, "slipway.pub"); err != nil {
			t.Errorf("cosign verify --key slipway.pub refused Slipway's signature:\n%v", err)
		}
		if err := verify(ref, "cosign.pub"); err == nil {
			t.Error("cosign verify --key cosign.pub accepted a signature by another key")
		}
	})

	t.Run("cosign verifies slipway's attestations", func(t *testing.T) {
		ref := pushRandom(t, reg.Host, "team/attested")
		predicates := []struct{ cosignType, predicateType string }{
			{"slsaprovenance1", SLSAProvenance},
			{"spdxjson", SPDX},
		}
		for _, p := range predicates {
			if _, err := Attest(ctx, ref, slipwaySigner, p.predicateType, map[string]any{"test": p.cosignType}, nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range predicates {
			out, err := run("verify-attestation", "--key", "slipway.pub", "--type", p.cosignType, "--insecure-ignore-tlog", "--allow-http-registry", ref.String())
			if err != nil {
				t.Errorf("cosign verify-attestation --type %s refused Slipway's attestation: %v\n%s", p.cosignType, err, out)
			}
			if _, err := run("verify-attestation", "--key", "cosign.pub", "--type", p.cosignType, "--insecure-ignore-tlog", "--allow-http-registry", ref.String()); err == nil {
				t.Errorf("cosign verify-attestation --type %s accepted another key", p.cosignType)
			}
		}
	})

	t.Run("slipway verifies cosign", func(t *testing.T) {
		ref := pushRandom(t, reg.Host, "team/by-cosign")
		if out, err := run("sign", "--key", "cosign.key", "--tlog-upload=false", "--allow-http-registry", ref.String()); err != nil {
			t.Fatalf("cosign sign: %v\n%s", err, out)
		}
		if err := Verify(ctx, ref, cosignVerifier, nil); err != nil {
			t.Errorf("Verify refused cosign's signature: %v", err)
		}
		if err := Verify(ctx, ref, slipwayVerifier, nil); !errors.Is(err, ErrUnverified) {
			t.Errorf("Verify with another key: %v, want ErrUnverified", err)
		}
		pred := filepath.Join(dir, "provenance.json")
		if err := os.WriteFile(pred, []byte(`{"buildDefinition":{"buildType":"https://example.com/test","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/builder"}}}`), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := run("attest", "--key", "cosign.key", "--type", "slsaprovenance1", "--predicate", pred, "--tlog-upload=false", "--allow-http-registry", ref.String()); err != nil {
			t.Fatalf("cosign attest: %v\n%s", err, out)
		}
		if _, err := VerifyAttestation(ctx, ref, cosignVerifier, SLSAProvenance, nil); err != nil {
			t.Errorf("VerifyAttestation refused cosign's attestation: %v", err)
		}
		if _, err := VerifyAttestation(ctx, ref, slipwayVerifier, SLSAProvenance, nil); !errors.Is(err, ErrUnverified) {
			t.Errorf("VerifyAttestation with another key: %v, want ErrUnverified", err)
		}
		// Signing again with Slipway adds its signature beside cosign's.
		if _, err := Image(ctx, ref, slipwaySigner, nil); err != nil {
			t.Fatal(err)
		}
		for _, pub := range []string{"cosign.pub", "slipway.pub"} {
			if err := verify(ref, pub); err != nil {
				t.Errorf("cosign verify --key %s after both signed:\n%v", pub, err)
			}
		}
	})
}
