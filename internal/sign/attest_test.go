package sign

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipwayhq/slipway/internal/testutil"
)

func TestAttestThenVerify(t *testing.T) {
	ctx := context.Background()
	host := testutil.Host(testutil.Registry(t))
	ref := pushRandom(t, host, "team/app")
	other := pushRandom(t, host, "team/app")
	s, v := newSigner(t)
	_, otherKey := newSigner(t)
	predicate := map[string]any{"buildDefinition": map[string]any{"buildType": "test"}}

	res, err := Attest(ctx, ref, s, SLSAProvenance, predicate, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.UpToDate {
		t.Errorf("first attestation reported up to date")
	}
	again, err := Attest(ctx, ref, s, SLSAProvenance, predicate, nil)
	if err != nil || !again.UpToDate {
		t.Errorf("attesting the same statement again: %+v, %v; want up to date", again, err)
	}
	if _, err := Attest(ctx, ref, s, SPDX, map[string]any{"spdxVersion": "SPDX-2.3"}, nil); err != nil {
		t.Fatal(err)
	}
	tag, _ := AttestationTag(ref)
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	if ls, _ := img.Layers(); len(ls) != 2 {
		t.Errorf("attestation image has %d layers, want 2 (provenance, SBOM)", len(ls))
	}

	st, err := VerifyAttestation(ctx, ref, v, SLSAProvenance, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Type != StatementType || st[0].Subject[0].Name != ref.Context().Name() {
		t.Errorf("statements = %+v", st)
	}

	// The same attestations copied under another digest's tag name the
	// wrong subject.
	otherTag, _ := AttestationTag(other)
	if err := remote.Write(otherTag, img); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() error
	}{
		{"another key", func() error { _, err := VerifyAttestation(ctx, ref, otherKey, SLSAProvenance, nil); return err }},
		{"another predicate type", func() error {
			_, err := VerifyAttestation(ctx, ref, v, "https://example.com/other", nil)
			return err
		}},
		{"another digest's statement", func() error { _, err := VerifyAttestation(ctx, other, v, SLSAProvenance, nil); return err }},
		{"no attestations", func() error {
			_, err := VerifyAttestation(ctx, pushRandom(t, host, "team/app"), v, SLSAProvenance, nil)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); !errors.Is(err, ErrUnverified) {
				t.Errorf("err = %v, want ErrUnverified", err)
			}
		})
	}
}

// TestAttestAll writes several statements in one attestation image, and
// adds only the new ones when run again.
func TestAttestAll(t *testing.T) {
	ctx := context.Background()
	ref := pushRandom(t, testutil.Host(testutil.Registry(t)), "team/app")
	s, v := newSigner(t)
	prov := Predicate{Type: SLSAProvenance, Value: map[string]any{"buildDefinition": "b"}}
	sbom := Predicate{Type: SPDX, Value: map[string]any{"spdxVersion": "SPDX-2.3"}}
	tests := []struct {
		name       string
		predicates []Predicate
		upToDate   []bool
		layers     int
	}{
		{"both new", []Predicate{prov, sbom}, []bool{false, false}, 2},
		{"both there", []Predicate{prov, sbom}, []bool{true, true}, 2},
		{"one changed", []Predicate{prov, {Type: SPDX, Value: map[string]any{"spdxVersion": "SPDX-2.3", "name": "x"}}}, []bool{true, false}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, upToDate, err := AttestAll(ctx, ref, s, tt.predicates, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(upToDate, tt.upToDate) || res.UpToDate != !slices.Contains(tt.upToDate, false) {
				t.Errorf("up to date %v (%v), want %v", upToDate, res.UpToDate, tt.upToDate)
			}
			tag, _ := AttestationTag(ref)
			img, err := remote.Image(tag)
			if err != nil {
				t.Fatal(err)
			}
			if ls, _ := img.Layers(); len(ls) != tt.layers {
				t.Errorf("attestation image has %d layers, want %d", len(ls), tt.layers)
			}
			for _, p := range tt.predicates {
				if _, err := VerifyAttestation(ctx, ref, v, p.Type, nil); err != nil {
					t.Errorf("%s: %v", p.Type, err)
				}
			}
		})
	}
}
