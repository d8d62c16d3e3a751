package flow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/config"
	"github.com/slipwayhq/slipway/internal/sign"
	"github.com/slipwayhq/slipway/internal/testutil"
	"github.com/slipwayhq/slipway/promote"
)

// verifySetup keeps Docker's credentials out, serves an in-process
// registry until the test ends, and returns its host and a project
// directory.
func verifySetup(t *testing.T) (host, dir string) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	return testutil.Host(testutil.Registry(t)), t.TempDir()
}

// writeKey makes a key pair, writes its public half to dir/PREFIX.pub and
// returns a signer with its private half.
func writeKey(t *testing.T, dir, prefix string) sign.Signer {
	t.Helper()
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

// TestVerifyImage checks the deploy-time gate of environments.NAME.verify
// against an in-process registry: only a signature by the environment's key
// for the deployed digest passes.
func TestVerifyImage(t *testing.T) {
	ctx := context.Background()
	host, dir := verifySetup(t)
	ours, theirs := writeKey(t, dir, "ours"), writeKey(t, dir, "theirs")
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
	prov, err := Provenance(testRecord())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sign.Attest(ctx, attestedRef, ours, sign.SLSAProvenance, prov, nil); err != nil {
		t.Fatal(err)
	}
	// Tampering: a signature and attestations copied to another digest's
	// tags (as when the image changed after it was signed) name the digest
	// they were made for, not this one.
	tampered, attestedElsewhere := push(nil), push(ours)
	copyTag := func(from, to string, tagOf func(name.Digest) (name.Tag, error)) {
		f, _ := name.NewDigest(from, name.Insecure)
		g, _ := name.NewDigest(to, name.Insecure)
		ft, _ := tagOf(f)
		gt, _ := tagOf(g)
		img, err := remote.Image(ft)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(gt, img); err != nil {
			t.Fatal(err)
		}
	}
	copyTag(signed, tampered, sign.SignatureTag)
	copyTag(attested, attestedElsewhere, sign.AttestationTag)
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
		{"digest changed after signing", env("ours.pub"), tampered, sign.ErrUnverified},
		{"an attestation for another digest", requiring("ours.pub", "provenance"), attestedElsewhere, sign.ErrUnverified},
	}
	if err := os.WriteFile(filepath.Join(dir, "junk.pub"), []byte("not a key"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewRunner(p, Factory{}).verifyImage(ctx, tt.env, tt.ref, Options{})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if errors.Is(err, sign.ErrUnverified) && !strings.Contains(err.Error(), "deploying to prod") {
				t.Errorf("err = %v, want the environment named", err)
			}
		})
	}
}

// TestVerifyPromotedFrom checks environments.NAME.verify.promotedFrom: the
// digest must carry a promotion attestation, signed by the verify key,
// saying it came into the environment's registry from the named
// environment.
func TestVerifyPromotedFrom(t *testing.T) {
	ctx := context.Background()
	host, dir := verifySetup(t)
	ours, theirs := writeKey(t, dir, "ours"), writeKey(t, dir, "theirs")
	p := &config.Project{App: "hello", Dir: dir,
		Registries: config.Registries{{Name: "dev", URL: host + "/dev", Insecure: true}, {Name: "rc", URL: host + "/rc", Insecure: true}},
		Environments: config.Environments{{Name: "dev", Registry: "dev"}, {Name: "test", Registry: "dev"}, {Name: "showcase", Registry: "rc"},
			{Name: "prod", Registry: "rc", Verify: &config.Verify{Key: "ours.pub", PromotedFrom: "dev"}}},
	}
	prod, _ := p.Environments.Get("prod")
	// image pushes a signed image to rc and attests each promotion with s.
	type promotion struct {
		s                sign.Signer
		fromReg, fromEnv string
		toReg            string
		otherDigest      bool
	}
	image := func(ps ...promotion) string {
		img, err := random.Image(128, 1)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		ref, err := name.NewDigest(host+"/rc/hello@"+d.String(), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		if _, err := sign.Image(ctx, ref, ours, nil); err != nil {
			t.Fatal(err)
		}
		for _, pr := range ps {
			pred := promote.Predicate{From: promote.Endpoint{Registry: pr.fromReg, Environment: pr.fromEnv},
				To: promote.Endpoint{Registry: pr.toReg}, Digest: d.String(), Version: "1.0.0"}
			if pr.otherDigest {
				pred.Digest = "sha256:" + strings.Repeat("0", 64)
			}
			if _, err := sign.Attest(ctx, ref, pr.s, promote.PredicateType, pred, nil); err != nil {
				t.Fatal(err)
			}
		}
		return ref.String()
	}
	tests := []struct {
		name string
		ref  string
		want error // nil passes
	}{
		{"promoted from the environment", image(promotion{s: ours, fromReg: "dev", fromEnv: "dev", toReg: "rc"}), nil},
		{"promoted from its registry, by registry names", image(promotion{s: ours, fromReg: "dev", toReg: "rc"}), nil},
		{"no promotion attestation", image(), sign.ErrUnverified},
		{"promoted from another environment", image(promotion{s: ours, fromReg: "dev", fromEnv: "test", toReg: "rc"}), sign.ErrUnverified},
		{"promoted into another registry", image(promotion{s: ours, fromReg: "dev", fromEnv: "dev", toReg: "prod"}), sign.ErrUnverified},
		{"attested by another key", image(promotion{s: theirs, fromReg: "dev", fromEnv: "dev", toReg: "rc"}), sign.ErrUnverified},
		{"a predicate naming another digest", image(promotion{s: ours, fromReg: "dev", fromEnv: "dev", toReg: "rc", otherDigest: true}), sign.ErrUnverified},
		{"one good among others", image(promotion{s: ours, fromReg: "dev", fromEnv: "test", toReg: "rc"}, promotion{s: ours, fromReg: "dev", fromEnv: "dev", toReg: "rc"}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewRunner(p, Factory{}).verifyImage(ctx, prod, tt.ref, Options{})
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && !strings.Contains(said(err), "dev") {
				t.Errorf("err = %v, want the environment it must come from named", err)
			}
		})
	}
}

// TestVerification checks what status says of the digest an environment
// runs: verified, unverified (a deploy would be refused) with the reason,
// unknown when the key cannot be read, nothing without verify.
func TestVerification(t *testing.T) {
	ctx := context.Background()
	host, dir := verifySetup(t)
	s := writeKey(t, dir, "cosign")
	repo := host + "/team/hello"
	push := func(signed bool) string {
		img, err := random.Image(128, 1)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		ref, _ := name.NewDigest(repo+"@"+d.String(), name.Insecure)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		if signed {
			if _, err := sign.Image(ctx, ref, s, nil); err != nil {
				t.Fatal(err)
			}
		}
		return d.String()
	}
	p := &config.Project{App: "hello", Dir: dir, Registries: config.Registries{{Name: "dev", URL: host + "/team", Insecure: true}}}
	env := func(key string) config.Environment {
		e := config.Environment{Name: "prod", Registry: "dev"}
		if key != "" {
			e.Verify = &config.Verify{Key: key}
		}
		return e
	}
	signed, unsigned := push(true), push(false)
	tests := []struct {
		name    string
		env     config.Environment
		digest  string
		want    string // "" for no verification
		problem string
	}{
		{"signed", env("cosign.pub"), signed, Verified, ""},
		{"unsigned", env("cosign.pub"), unsigned, Unverified, "it is not signed"},
		{"key missing", env("gone.pub"), signed, Unknown, "gone.pub"},
		{"no verify section", env(""), unsigned, "", ""},
		{"nothing runs", env("cosign.pub"), "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewRunner(p, Factory{}).verification(ctx, tt.env, repo, tt.digest, Options{})
			if tt.want == "" {
				if got != nil {
					t.Errorf("verification = %+v, want none", got)
				}
				return
			}
			if got == nil || got.State != tt.want || !strings.Contains(got.Problem, tt.problem) || got.Key != tt.env.Verify.Key {
				t.Errorf("verification = %+v, want %s with a problem naming %q", got, tt.want, tt.problem)
			}
			if tt.want == Verified && got.Problem != "" {
				t.Errorf("a verified image has a problem: %q", got.Problem)
			}
		})
	}
}

// TestSignedPush pushes with signing.key through the Runner: a wrong
// password leaves no tag at all; a key without encryption from a variable
// signs and attests what cosign's format says, and pushing again adds
// nothing; two runs with two keys pushing the same build at once both
// keep their signature and attestations.
func TestSignedPush(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.runner().Build(ctx, BuildOptions{Options: f.options()}); err != nil {
		t.Fatal(err)
	}
	withSigning := func(s config.Signing) *Runner {
		p := *f.p
		p.Signing = &s
		return NewRunner(&p, f.factory())
	}
	attest := []string{"provenance", "sbom"}
	keyPair := func(file string) sign.Verifier {
		kp, err := sign.GenerateKeyPair([]byte("pw"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(f.p.Dir, file), kp.Private, 0o600); err != nil {
			t.Fatal(err)
		}
		v, err := sign.LoadVerifier(kp.Public)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	va, vb := keyPair("a.key"), keyPair("b.key")
	repoTags := func(repo string) []string {
		r, err := name.NewRepository(f.host+"/"+repo, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		tags, _ := remote.List(r)
		return tags
	}
	verified := func(ref string, v sign.Verifier) error {
		d, err := name.NewDigest(ref, name.Insecure)
		if err != nil {
			return err
		}
		if err := sign.Verify(ctx, d, v, nil); err != nil {
			return err
		}
		for _, pt := range []string{sign.SLSAProvenance, sign.SPDX} {
			if _, err := sign.VerifyAttestation(ctx, d, v, pt, nil); err != nil {
				return err
			}
		}
		return nil
	}

	// A wrong password: no tag, not even the version's.
	t.Setenv(sign.CosignPasswordEnv, "wrong")
	if _, err := withSigning(config.Signing{Key: "a.key", Attest: attest}).Push(ctx, "dev", PushOptions{Options: f.options()}); !errors.Is(err, sign.ErrKey) {
		t.Fatalf("push with a wrong password: %v, want ErrKey", err)
	}
	if tags := repoTags("team/hello"); len(tags) != 0 {
		t.Fatalf("a push that could not sign left tags %v", tags)
	}

	// A key without encryption from a variable, no password variable.
	os.Unsetenv(sign.CosignPasswordEnv)
	plain := testutil.PlainKey(t)
	t.Setenv("TEST_SIGNING_KEY", string(plain))
	vplain, err := sign.LoadSigner(plain, nil) // it verifies too
	if err != nil {
		t.Fatal(err)
	}
	envKey := withSigning(config.Signing{Key: "env://TEST_SIGNING_KEY", Attest: attest})
	res, err := envKey.Push(ctx, "dev", PushOptions{Options: f.options()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Signature == "" || res.Attestations == "" || res.UpToDate {
		t.Errorf("result %+v; want a new signature and attestations", res)
	}
	if err := verified(res.Reference, vplain); err != nil {
		t.Error(err)
	}
	again, err := envKey.Push(ctx, "dev", PushOptions{Options: f.options()})
	if err != nil || !again.UpToDate {
		t.Errorf("pushing again: %+v, %v; want up to date", again, err)
	}

	// Two keys at once, into rc.
	t.Setenv(sign.CosignPasswordEnv, "pw")
	var wg sync.WaitGroup
	refs := make([]string, 2)
	errs := make([]error, 2)
	for i, key := range []string{"a.key", "b.key"} {
		wg.Go(func() {
			res, err := withSigning(config.Signing{Key: key, Attest: attest}).Push(ctx, "rc", PushOptions{Options: Options{UserAgent: "slipway-test"}})
			refs[i], errs[i] = res.Reference, err
		})
	}
	wg.Wait()
	for i, v := range []sign.Verifier{va, vb} {
		if errs[i] != nil {
			t.Fatalf("push %d: %v", i, errs[i])
		}
		if err := verified(refs[i], v); err != nil {
			t.Errorf("key %d after two pushes at once: %v", i, err)
		}
	}
}
