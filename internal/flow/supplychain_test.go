package flow

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/sign"
)

// TestVerifyImage checks the deploy-time gate of environments.NAME.verify
// against an in-process registry: only a signature by the environment's key
// for the deployed digest passes.
func TestVerifyImage(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ctx := context.Background()
	srv := httptest.NewServer(ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	dir := t.TempDir()
	key := func(prefix string) sign.Signer {
		kp, err := sign.GenerateKeyPair([]byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, prefix+".pub"), kp.Public, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := sign.LoadSigner(kp.Private, []byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ours, theirs := key("ours"), key("theirs")
	push := func(s sign.Signer) string {
		img, err := random.Image(128, 1)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		ref, err := name.NewDigest(host+"/team/hello@"+d.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		if s != nil {
			if _, err := sign.Image(ctx, ref, s, nil); err != nil {
				t.Fatal(err)
			}
		}
		return ref.String()
	}
	p := &config.Project{App: "hello", Dir: dir, Registries: config.Registries{{Name: "dev", URL: host + "/team", Insecure: true}}}
	env := func(key string) config.Environment {
		e := config.Environment{Name: "prod", Registry: "dev"}
		if key != "" {
			e.Verify = &config.Verify{Key: key}
		}
		return e
	}
	signed, byOther, unsigned := push(ours), push(theirs), push(nil)
	attested := push(ours)
	attestedRef, err := name.NewDigest(attested, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sign.Attest(ctx, attestedRef, ours, sign.SLSAProvenance, Provenance(testRecord()), nil); err != nil {
		t.Fatal(err)
	}
	requiring := func(key string, kinds ...string) config.Environment {
		e := env(key)
		e.Verify.Attestations = kinds
		return e
	}

	tests := []struct {
		name string
		env  config.Environment
		ref  string
		want error // nil passes
	}{
		{"signed by the key", env("ours.pub"), signed, nil},
		{"no verify key: anything goes", env(""), unsigned, nil},
		{"unsigned", env("ours.pub"), unsigned, sign.ErrUnverified},
		{"signed by another key", env("ours.pub"), byOther, sign.ErrUnverified},
		{"missing key file", env("nowhere.pub"), signed, sign.ErrKey},
		{"not a public key", env("junk.pub"), signed, sign.ErrKey},
		{"provenance required and there", requiring("ours.pub", "provenance"), attested, nil},
		{"provenance required, only signed", requiring("ours.pub", "provenance"), signed, sign.ErrUnverified},
		{"sbom required, only provenance", requiring("ours.pub", "provenance", "sbom"), attested, sign.ErrUnverified},
		{"signed and attested by another key", requiring("theirs.pub", "provenance"), attested, sign.ErrUnverified},
	}
	if err := os.WriteFile(filepath.Join(dir, "junk.pub"), []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verifyImage(ctx, p, tt.env, tt.ref, Options{})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if errors.Is(err, sign.ErrUnverified) && !strings.Contains(err.Error(), "deploying to prod") {
				t.Errorf("err = %v, want the environment named", err)
			}
		})
	}
}
