package config

import (
	"strings"
	"testing"
)

func TestSupplyChainConfig(t *testing.T) {
	const head = "apiVersion: slipway/v1\napp: hello\nregistries: {dev: registry.example.com/team, rc: registry.example.com/rc}\n"
	tests := []struct {
		name, yaml string
		problem    string // "" when valid
	}{
		{"signing key file", "signing: {key: cosign.key}\n", ""},
		{"signing key from the environment", "signing: {key: env://SIGNING_KEY}\n", ""},
		{"verify key", "environments:\n  dev: {registry: dev, verify: {key: cosign.pub}}\n", ""},
		{"signing without key", "signing: {}\n", "signing.key"},
		{"empty key", "signing: {key: \"\"}\n", "the key is empty"},
		{"bad variable name", "signing: {key: \"env://1-X\"}\n", "neither a file nor env://NAME"},
		{"KMS key", "signing: {key: \"awskms:///alias/x\"}\n", "KMS keys are not supported yet"},
		{"verify without key", "environments:\n  dev: {registry: dev, verify: {}}\n", "verify.key"},
		{"unknown field", "signing: {key: cosign.key, keyless: true}\n", "keyless"},
		{"attestations", "signing: {key: cosign.key, attest: [provenance, sbom]}\n", ""},
		{"unknown attestation", "signing: {key: cosign.key, attest: [vuln]}\n", "signing.attest[0]"},
		{"attestation twice", "signing: {key: cosign.key, attest: [sbom, sbom]}\n", "listed twice"},
		{"required attestations", "environments:\n  dev: {registry: dev, verify: {key: cosign.pub, attestations: [provenance]}}\n", ""},
		{"unknown required attestation", "environments:\n  dev: {registry: dev, verify: {key: cosign.pub, attestations: [slsa]}}\n", "environments.dev.verify.attestations[0]"},
		{"sign at promote", "signing: {key: cosign.key, promote: true}\n", ""},
		{"promoted from", "environments:\n  dev: {registry: dev}\n  prod: {registry: rc, verify: {key: cosign.pub, promotedFrom: dev}}\n", ""},
		{"promoted from an unknown environment", "environments:\n  dev: {registry: dev, verify: {key: cosign.pub, promotedFrom: staging}}\n", "environments.dev.verify.promotedFrom"},
		{"promoted from itself", "environments:\n  dev: {registry: dev, verify: {key: cosign.pub, promotedFrom: dev}}\n", "is this environment"},
		{"promoted within one registry", "environments:\n  dev: {registry: dev}\n  test: {registry: dev, verify: {key: cosign.pub, promotedFrom: dev}}\n", "share registry dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProject(ProjectFile, []byte(head+tt.yaml))
			if tt.problem == "" {
				if err != nil {
					t.Fatalf("unexpected problems: %v", err)
				}
				if p.Signing == nil && !strings.Contains(tt.yaml, "verify") {
					t.Error("signing was not decoded")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.problem) {
				t.Errorf("err = %v, want a problem with %q", err, tt.problem)
			}
		})
	}
}
