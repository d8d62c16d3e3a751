package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Signing makes push sign every image it pushes, as cosign does, with a
// key pair from `slipway keys generate` or `cosign generate-key-pair`.
type Signing struct {
	Key string `yaml:"key" required:"true" doc:"cosign private key: a file relative to slipway.yaml inside the project (keep it out of git) or an absolute path, or env://NAME to read the PEM from variable NAME; its password comes from SLIPWAY_SIGNING_PASSWORD or COSIGN_PASSWORD. A key without encryption (PKCS #8 PEM, no password, no scrypt) is taken from env://NAME only"`
	// Attest lists the attestations pushed with each image.
	Attest []string `yaml:"attest" doc:"attestations signed with the key and pushed beside the signature (cosign's sha256-HEX.att): provenance (SLSA provenance v1 from the build record), sbom (SPDX 2.3 of the build's layers: files with digests, Go modules of Go binaries, Java archives' manifests)"`
	// Promote makes promote sign too.
	Promote bool `yaml:"promote" doc:"promote signs too: the digest in the target registry (unless the key's signature came along) and the promotion record, as a signed attestation (predicate type https://github.com/slipwayhq/slipway/promotion/v1); promote --sign does the same for one run"`
}

// Attestation kinds signing.attest accepts.
var attestKinds = []string{"provenance", "sbom"}

// Verify makes deploy refuse an image without a valid signature by Key.
type Verify struct {
	Key string `yaml:"key" required:"true" doc:"cosign public key (PEM) the image's signature must verify with: a file relative to slipway.yaml inside the project, such as cosign.pub, an absolute path, or env://NAME"`
	// Attestations lists attestations the image must also carry.
	Attestations []string `yaml:"attestations" doc:"attestations the image must carry too, signed by the same key and naming its digest: provenance, sbom (as signing.attest pushes them)"`
	// PromotedFrom names the environment the digest must come from.
	PromotedFrom string `yaml:"promotedFrom" doc:"environment the digest must have been promoted from into this environment's registry: a promotion attestation signed by the same key (signing.promote) must say so"`
}

// keyRefEnv is the env://NAME form of a key reference.
var keyRefEnv = regexp.MustCompile(`^env://[A-Za-z_][A-Za-z0-9_]*$`)

// supplyChain checks the signing and verify settings.
func (v *validator) supplyChain(p *Project) {
	if p.Signing != nil {
		v.keyRef("signing.key", p.Signing.Key)
		v.attestKinds("signing.attest", p.Signing.Attest)
	}
	for _, e := range p.Environments {
		if e.Verify != nil {
			at := "environments." + e.Name + ".verify"
			v.keyRef(at+".key", e.Verify.Key)
			v.attestKinds(at+".attestations", e.Verify.Attestations)
			v.promotedFrom(p, e, at+".promotedFrom")
		}
	}
}

// attestKinds checks a list of attestation kinds.
func (v *validator) attestKinds(at string, kinds []string) {
	seen := map[string]bool{}
	for i, a := range kinds {
		at := fmt.Sprintf("%s[%d]", at, i)
		switch {
		case !slices.Contains(attestKinds, a):
			v.add(at, "%s", notValid(a, attestKinds))
		case seen[a]:
			v.add(at, "%q is listed twice", a)
		}
		seen[a] = true
	}
}

// keyRef checks a key reference: a file, or env://NAME.
func (v *validator) keyRef(at, ref string) {
	switch {
	case !v.src.Has(at):
		// required: reported by the decoder
	case strings.TrimSpace(ref) == "":
		v.add(at, "the key is empty; give a file such as cosign.key, or env://NAME")
	case strings.Contains(ref, "://") && !keyRefEnv.MatchString(ref):
		v.add(at, "%q is neither a file nor env://NAME (letters, digits and _); KMS keys are not supported yet", ref)
	}
}

// promotedFrom checks that env's verify.promotedFrom names another
// environment, one whose registry is not env's: promotion copies between
// registries.
func (v *validator) promotedFrom(p *Project, env Environment, at string) {
	from := env.Verify.PromotedFrom
	if from == "" {
		return
	}
	src, ok := p.Environments.Get(from)
	switch {
	case !ok:
		v.add(at, "%s", notValid(from, p.Environments.Names()))
	case from == env.Name:
		v.add(at, "%q is this environment; name the one its images are promoted from", from)
	case p.RegistryOf(src).Name == p.RegistryOf(env).Name:
		v.add(at, "%s and %s share registry %s, so nothing is promoted between them; name an environment of another registry", from, env.Name, p.RegistryOf(env).Name)
	}
}
