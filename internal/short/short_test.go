package short

import "testing"

func TestDigest(t *testing.T) {
	const hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := []struct{ name, in, want string }{
		{"sha256", "sha256:" + hex, "sha256:0123456789ab"},
		{"another algorithm", "sha512:" + hex + hex, "sha512:0123456789ab"},
		{"already short", "sha256:0123456789ab", "sha256:0123456789ab"},
		{"shorter", "sha256:bb", "sha256:bb"},
		{"empty", "", ""},
		{"no algorithm", hex, hex},
		{"a tag", "example.com/team/hello:" + hex, "example.com/team/hello:" + hex},
		{"a reference by digest", "hello@sha256:" + hex, "hello@sha256:" + hex},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Digest(tt.in); got != tt.want {
				t.Errorf("Digest(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
