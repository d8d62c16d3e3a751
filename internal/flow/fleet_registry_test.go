package flow

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipwayhq/slipway/internal/deploy"
	"github.com/slipwayhq/slipway/internal/fleet"
	"github.com/slipwayhq/slipway/internal/sign"
)

// TestFleetRegistries asks an in-process registry about the images a
// fleet runs: a promoted and signed image in rc (signed; verified with the
// key), the same digest in dev (unsigned, not promoted there), a digest
// whose version tag was moved (tag drift), and a registry that does not
// answer (unknown, with the error, holding up nothing else). --unsigned
// keeps the rows not shown to have a valid signature, an image by tag's
// included.
func TestFleetRegistries(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	d := f.push("dev", "1.2.3")
	if _, err := f.runner().Promote(ctx, "dev", "rc", PromoteOptions{Options: f.options()}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	signer := writeKey(t, dir, "ours")
	ref, err := name.NewDigest(f.image("rc", d), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sign.Image(ctx, ref, signer, nil); err != nil {
		t.Fatal(err)
	}
	moved := f.push("dev", "1.2.4")
	row := func(env, image, version string) fleet.Row {
		return fleet.Row{App: "hello", EnvStatus: deploy.EnvStatus{Env: env, Image: image, Version: version}}
	}
	rows := []fleet.Row{
		row("prod", f.image("rc", d), "1.2.3"),
		row("dev", f.image("dev", d), "1.2.3"),
		row("staging", f.image("dev", moved), "1.2.3"),
		row("gone", "127.0.0.1:1/team/hello@"+d, "1.2.3"),
		row("by-tag", "registry.example.com/team/hello:1.2.3", "1.2.3"),
	}
	readRegistries(ctx, rows, nil, "slipway-test")
	prod, dev, staging, gone := rows[0].Registry, rows[1].Registry, rows[2].Registry, rows[3].Registry
	if prod == nil || prod.Signature != fleet.SigSigned || prod.Promotion == nil || prod.Promotion.From != "dev" || prod.TagDigest != d || prod.TagDrift || prod.Error != "" {
		t.Errorf("prod: %+v", prod)
	}
	if dev == nil || dev.Signature != fleet.SigUnsigned || dev.Promotion != nil || dev.TagDrift || dev.Error != "" {
		t.Errorf("dev: %+v", dev)
	}
	if staging == nil || !staging.TagDrift || staging.TagDigest != d {
		t.Errorf("staging: %+v, want the tag drifted to %s", staging, d)
	}
	if gone == nil || gone.Signature != fleet.SigUnknown || gone.Error == "" {
		t.Errorf("gone: %+v", gone)
	}
	if st := rows[4].Registry; st == nil || st.Signature != fleet.SigUnknown || !strings.Contains(st.Error, "by tag") {
		t.Errorf("a row running an image by tag: %+v, want not asked, unknown", st)
	}
	notes := strings.Join(fleet.Notes(rows[2], f.now), "; ")
	if !strings.Contains(notes, "unsigned: no cosign signature in the registry") || !strings.Contains(notes, "tag 1.2.3 now points at") {
		t.Errorf("staging's notes: %s", notes)
	}
	var kept []string
	for _, r := range fleet.Select(rows, fleet.Filter{Unsigned: true}) {
		kept = append(kept, r.Env)
	}
	if strings.Join(kept, " ") != "dev staging gone by-tag" {
		t.Errorf("--unsigned keeps %q, want all but the signed prod", kept)
	}

	// With the key: prod's signature verifies; one by no key is unverified.
	o := FleetOptions{Key: filepath.Join(dir, "ours.pub")}
	if err := o.loadKey(); err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i].Registry = nil
	}
	readRegistries(ctx, rows, o.verifier, "slipway-test")
	if st := rows[0].Registry; st.Signature != fleet.SigVerified {
		t.Errorf("prod with the key: %+v", st)
	}
	if st := rows[1].Registry; st.Signature != fleet.SigUnverified || st.SignatureProblem == "" {
		t.Errorf("dev with the key: %+v", st)
	}
	if err := (&FleetOptions{Key: filepath.Join(dir, "missing.pub")}).loadKey(); err == nil {
		t.Error("a missing key was read")
	}
}
