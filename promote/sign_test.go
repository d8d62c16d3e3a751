package promote

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/slipwayhq/slipway/internal/registry"
	"github.com/slipwayhq/slipway/internal/sign"
)

// TestSlipwaySignatureFollows checks that a signature written at push
// (internal/sign, cosign's sha256-HEX.sig tag) is carried by Promote, so
// the promoted digest verifies in the target with the same key, and not
// with another.
func TestSlipwaySignatureFollows(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 1024, 2))

	signer, verifier := keyPair(t)
	_, otherVerifier := keyPair(t)
	ref := func(c *registry.Client) name.Digest {
		repo, err := c.Repo("hello")
		if err != nil {
			t.Fatal(err)
		}
		return repo.Digest(digest.String())
	}
	if _, err := sign.Image(ctx, ref(from), signer, from.RemoteOptions(ctx)); err != nil {
		t.Fatal(err)
	}

	res, err := Promote(ctx, Options{From: from, To: to, App: "hello", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Referrers == 0 {
		t.Errorf("result %+v: the signature was not counted as a referrer", res)
	}
	if err := sign.Verify(ctx, ref(to), verifier, to.RemoteOptions(ctx)); err != nil {
		t.Errorf("the promoted digest does not verify in the target: %v", err)
	}
	if err := sign.Verify(ctx, ref(to), otherVerifier, to.RemoteOptions(ctx)); !errors.Is(err, sign.ErrUnverified) {
		t.Errorf("another key in the target: %v, want ErrUnverified", err)
	}
}

// keyPair returns a signer and its verifier.
func keyPair(t *testing.T) (sign.Signer, sign.Verifier) {
	t.Helper()
	kp, err := sign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sign.LoadSigner(kp.Private, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := sign.LoadVerifier(kp.Public)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

// attLayers counts the layers of the sha256-HEX.att image of ref by
// predicate type.
func attLayers(t *testing.T, c *registry.Client, ref name.Digest) map[string]int {
	t.Helper()
	tag, err := sign.AttestationTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(tag, c.RemoteOptions(context.Background())...)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, l := range m.Layers {
		out[l.Annotations[sign.PredicateTypeAnnotation]]++
	}
	return out
}

// TestPromoteSigns promotes an unsigned image with a signer: the target's
// digest is signed, and the promotion attested (the record, signed, with
// the registries, environments, digest, version and time); running again
// writes nothing; an attestation added at the source since follows without
// dropping the promotion's; a second hop carries the first's attestation.
func TestPromoteSigns(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	dev, rc, prod := newServer(t, false, nil), newServer(t, false, nil), newServer(t, true, nil)
	from, to, last := client(t, dev, "dev", "team"), client(t, rc, "rc", "team"), client(t, prod, "prod", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 1024, 2))
	s, v := keyPair(t)
	_, other := keyPair(t)
	ref := func(c *registry.Client) name.Digest {
		repo, err := c.Repo("hello")
		if err != nil {
			t.Fatal(err)
		}
		return repo.Digest(digest.String())
	}
	when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	o := Options{From: from, To: to, App: "hello", Version: "1.0.0", Commit: "abc123", Signer: s,
		Record: &Record{Who: "ci", When: when, FromEnvironment: "dev", ToEnvironment: "showcase"}}
	res, err := Promote(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.UpToDate || res.Signature == "" || res.Attestation == "" {
		t.Errorf("result %+v; want a signature and an attestation written", res)
	}
	if err := sign.Verify(ctx, ref(to), v, to.RemoteOptions(ctx)); err != nil {
		t.Errorf("the promoted digest is not signed in the target: %v", err)
	}
	if err := sign.Verify(ctx, ref(from), v, from.RemoteOptions(ctx)); !errors.Is(err, sign.ErrUnverified) {
		t.Errorf("the source was signed too: %v", err)
	}
	sts, err := sign.VerifyAttestation(ctx, ref(to), v, PredicateType, to.RemoteOptions(ctx))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParsePredicate(sts[0].PredicateType, sts[0].Predicate)
	if err != nil {
		t.Fatal(err)
	}
	want := Predicate{
		From:   Endpoint{Registry: "dev", Environment: "dev", Image: ref(from).String()},
		To:     Endpoint{Registry: "rc", Environment: "showcase", Image: ref(to).String()},
		Digest: digest.String(), Version: "1.0.0", Commit: "abc123", Who: "ci", PromotedAt: when,
	}
	if len(sts) != 1 || got != want {
		t.Errorf("promotion attestations %d, predicate\n%+v\nwant\n%+v", len(sts), got, want)
	}
	if _, err := sign.VerifyAttestation(ctx, ref(to), other, PredicateType, to.RemoteOptions(ctx)); !errors.Is(err, sign.ErrUnverified) {
		t.Errorf("another key verified the promotion attestation: %v", err)
	}

	// Again, at another time: the record found is the one attested.
	o.Record = &Record{Who: "someone else", When: when.Add(time.Hour), FromEnvironment: "dev", ToEnvironment: "showcase"}
	again, err := Promote(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !again.UpToDate {
		t.Errorf("second promotion %+v; want up to date", again)
	}
	if n := attLayers(t, to, ref(to)); n[PredicateType] != 1 {
		t.Errorf("attestations after a second promotion: %v; want one promotion attestation", n)
	}

	// Provenance attested at the source since follows, beside the promotion's.
	if _, err := sign.Attest(ctx, ref(from), s, sign.SLSAProvenance, map[string]any{"buildDefinition": "x"}, from.RemoteOptions(ctx)); err != nil {
		t.Fatal(err)
	}
	third, err := Promote(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if third.UpToDate || third.Referrers != 1 {
		t.Errorf("promotion after a new source attestation %+v; want it copied", third)
	}
	if n := attLayers(t, to, ref(to)); n[PredicateType] != 1 || n[sign.SLSAProvenance] != 1 {
		t.Errorf("attestations in the target: %v; want the promotion's and the source's provenance", n)
	}
	if fourth, err := Promote(ctx, o); err != nil || !fourth.UpToDate {
		t.Errorf("promoting again: %+v, %v; want up to date", fourth, err)
	}

	// A second hop carries the first promotion's attestation and adds its own.
	hop := Options{From: to, To: last, App: "hello", Version: "1.0.0", Signer: s, Record: &Record{Who: "ci"}}
	if _, err := Promote(ctx, hop); err != nil {
		t.Fatal(err)
	}
	sts, err = sign.VerifyAttestation(ctx, ref(last), v, PredicateType, last.RemoteOptions(ctx))
	if err != nil {
		t.Fatal(err)
	}
	var hops []string
	for _, st := range sts {
		p, err := ParsePredicate(st.PredicateType, st.Predicate)
		if err != nil {
			t.Fatal(err)
		}
		hops = append(hops, p.From.Registry+">"+p.To.Registry)
	}
	if !slices.Equal(hops, []string{"dev>rc", "rc>prod"}) {
		t.Errorf("promotion attestations in prod: %v; want dev>rc and rc>prod", hops)
	}
	if _, err := sign.VerifyAttestation(ctx, ref(last), v, sign.SLSAProvenance, last.RemoteOptions(ctx)); err != nil {
		t.Errorf("the provenance did not follow the second hop: %v", err)
	}
}

// TestPromoteSignsWithoutRecord signs the target's digest but attests
// nothing when no record is asked for; a signature by the key carried
// from the source is enough.
func TestPromoteSignsWithoutRecord(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	tests := []struct {
		name         string
		signedAtPush bool
	}{
		{"unsigned at the source", false},
		{"signed at the source", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev, rc := newServer(t, false, nil), newServer(t, false, nil)
			from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
			digest := push(t, from, "hello", "1.0.0", randomImage(t, 512, 1))
			s, v := keyPair(t)
			src, _ := from.Repo("hello")
			dst, _ := to.Repo("hello")
			if tt.signedAtPush {
				if _, err := sign.Image(ctx, src.Digest(digest.String()), s, from.RemoteOptions(ctx)); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Promote(ctx, Options{From: from, To: to, App: "hello", Version: "1.0.0", Signer: s})
			if err != nil {
				t.Fatal(err)
			}
			if res.Attestation != "" {
				t.Errorf("result %+v; want no attestation without a record", res)
			}
			if err := sign.Verify(ctx, dst.Digest(digest.String()), v, to.RemoteOptions(ctx)); err != nil {
				t.Errorf("target not signed: %v", err)
			}
			tag, _ := sign.SignatureTag(dst.Digest(digest.String()))
			img, err := remote.Image(tag, to.RemoteOptions(ctx)...)
			if err != nil {
				t.Fatal(err)
			}
			if ls, _ := img.Layers(); len(ls) != 1 {
				t.Errorf("target signatures: %d, want 1", len(ls))
			}
		})
	}
}

// TestPlantedRecordNotAttested: someone who may push to the target plants
// a record of this promotion (its annotations right, its content forged:
// another source, environment, commit and author). The team's key signs
// only what this run knows, and the promotion records it.
func TestPlantedRecordNotAttested(t *testing.T) {
	isolate(t)
	dev, rc := newServer(t, false, nil), newServer(t, false, nil)
	from, to := client(t, dev, "dev", "team"), client(t, rc, "rc", "team")
	digest := push(t, from, "hello", "1.0.0", randomImage(t, 512, 1))
	ctx := context.Background()

	forged := Record{From: "dev", To: "rc", FromEnvironment: "staging", ToEnvironment: "prod",
		Source: "evil.example/x@" + digest.String(), Target: "evil.example/y@" + digest.String(),
		Digest: digest.String(), Version: "1.0.0", Commit: "0123456789abcdef0123456789abcdef01234567",
		Who: "security-team", When: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	raw, cfg, layer, err := recordManifest(forged, descriptor(t, from, "hello", digest.String()).Descriptor)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := to.Repo("hello")
	for _, l := range []v1.Layer{cfg, layer} {
		if err := remote.WriteLayer(repo, l, to.RemoteOptions(ctx)...); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Put(repo.Digest(digestOf(raw).String()), rawManifest{raw: raw, mt: types.OCIManifestSchema1}, to.RemoteOptions(ctx)...); err != nil {
		t.Fatal(err)
	}

	s, v := keyPair(t)
	if _, err := Promote(ctx, Options{From: from, To: to, App: "hello", Version: "1.0.0", FromName: "dev", ToName: "rc",
		Record: &Record{FromEnvironment: "dev", ToEnvironment: "prod", Who: "alice"}, Signer: s}); err != nil {
		t.Fatal(err)
	}
	sts, err := sign.VerifyAttestation(ctx, repo.Digest(digest.String()), v, PredicateType, to.RemoteOptions(ctx))
	if err != nil || len(sts) == 0 {
		t.Fatalf("verifying the attestation: %d statements, %v", len(sts), err)
	}
	for _, st := range sts {
		p, err := ParsePredicate(st.PredicateType, st.Predicate)
		if err != nil {
			t.Fatal(err)
		}
		if p.From.Environment != "dev" || p.Who != "alice" || strings.HasPrefix(p.From.Image, "evil.example") || p.Commit == forged.Commit {
			t.Errorf("the signed statement holds the target's word: from %q (%s), who %q, commit %q", p.From.Environment, p.From.Image, p.Who, p.Commit)
		}
		if p.PromotedAt.Equal(forged.When) {
			t.Errorf("promoted at %s, the planted record's time", p.PromotedAt)
		}
	}
}
