package promote

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/slipwayhq/slipway/internal/sign"
	"github.com/slipwayhq/slipway/internal/testenv"
)

// TestCosignVerifiesSlipwayPromotion signs and attests at the source as
// push does (or not at all), promotes with a signer, and has the pinned
// cosign verify, offline, what the target holds: the signature, the
// provenance and SBOM carried from the source, and the promotion
// attestation (its own predicate type), each refused with another key.
func TestCosignVerifiesSlipwayPromotion(t *testing.T) {
	cosign := testenv.Tool(t, "cosign")
	insecure := []string{"--insecure-ignore-tlog", "--allow-insecure-registry", "--allow-http-registry"}
	for _, signedAtPush := range []bool{true, false} {
		t.Run(map[bool]string{true: "signed and attested at push", false: "unsigned at push"}[signedAtPush], func(t *testing.T) {
			e := newToolEnv(t)
			ctx := context.Background()
			if _, err := sign.Generate(sign.GenerateOptions{Dir: e.dir, Prefix: "slipway", Getenv: func(k string) (string, bool) {
				return "correct horse", k == sign.CosignPasswordEnv
			}}); err != nil {
				t.Fatal(err)
			}
			e.run(t, false, cosign, "generate-key-pair", "--output-key-prefix", "other")
			key, err := os.ReadFile(filepath.Join(e.dir, "slipway.key"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := sign.LoadSigner(key, []byte("correct horse"))
			if err != nil {
				t.Fatal(err)
			}
			src, err := name.NewDigest(e.ref(e.from), name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			if signedAtPush {
				opts := e.from.RemoteOptions(ctx)
				if _, err := sign.Image(ctx, src, s, opts); err != nil {
					t.Fatal(err)
				}
				provenance := map[string]any{
					"buildDefinition": map[string]any{"buildType": "https://github.com/slipwayhq/slipway/build/v1", "externalParameters": map[string]any{"app": "hello"}},
					"runDetails":      map[string]any{"builder": map[string]any{"id": "https://github.com/slipwayhq/slipway"}},
				}
				if _, err := sign.Attest(ctx, src, s, sign.SLSAProvenance, provenance, opts); err != nil {
					t.Fatal(err)
				}
				sbom := map[string]any{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "hello"}
				if _, err := sign.Attest(ctx, src, s, sign.SPDX, sbom, opts); err != nil {
					t.Fatal(err)
				}
			}
			o := Options{From: e.from, To: e.to, App: "hello", Version: "1.0.0", Signer: s,
				Record: &Record{Who: "e2e", FromEnvironment: "dev", ToEnvironment: "showcase"}}
			if _, err := Promote(ctx, o); err != nil {
				t.Fatal(err)
			}
			target := e.ref(e.to)
			verify := func(fail bool, args ...string) string {
				return e.run(t, fail, cosign, append(append(args, insecure...), target)...)
			}
			verify(false, "verify", "--key", "slipway.pub")
			verify(true, "verify", "--key", "other.pub")
			out := verify(false, "verify-attestation", "--key", "slipway.pub", "--type", PredicateType)
			verify(true, "verify-attestation", "--key", "other.pub", "--type", PredicateType)
			e.run(t, true, cosign, append(append([]string{"verify-attestation", "--key", "slipway.pub", "--type", PredicateType}, insecure...), e.ref(e.from))...)
			if signedAtPush {
				for _, typ := range []string{"slsaprovenance1", "spdxjson"} {
					verify(false, "verify-attestation", "--key", "slipway.pub", "--type", typ)
					verify(true, "verify-attestation", "--key", "other.pub", "--type", typ)
				}
			}

			// What cosign verified is the promotion: from dev to rc, this digest.
			var found bool
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var env struct{ Payload string }
				if err := json.Unmarshal([]byte(line), &env); err != nil {
					t.Fatalf("cosign verify-attestation output: %v\n%s", err, out)
				}
				b, err := base64.StdEncoding.DecodeString(env.Payload)
				if err != nil {
					t.Fatal(err)
				}
				st := &sign.Statement{}
				if err := protojson.Unmarshal(b, st); err != nil {
					t.Fatal(err)
				}
				p, err := ParsePredicate(st.PredicateType, st.Predicate)
				if err != nil {
					continue
				}
				found = found || (p.From.Registry == "dev" && p.From.Environment == "dev" && p.To.Registry == "rc" &&
					p.Digest == e.digest.String() && p.Version == "1.0.0" && st.Subject[0].Digest["sha256"] == e.digest.Hex)
			}
			if !found {
				t.Errorf("cosign verified no promotion from dev to rc of %s:\n%s", e.digest, out)
			}
			if again, err := Promote(ctx, o); err != nil || !again.UpToDate {
				t.Errorf("promoting again: %+v, %v; want up to date", again, err)
			}
		})
	}
}
