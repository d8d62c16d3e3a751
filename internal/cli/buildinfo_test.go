package cli

import "testing"

// TestIsModuleRelease: the module versions go install records that name a
// tagged release, which generated GitHub jobs may go install.
func TestIsModuleRelease(t *testing.T) {
	for v, want := range map[string]bool{
		"v1.4.0":                               true,
		"v1.5.0-rc.1":                          true,
		"(devel)":                              false,
		"":                                     false,
		"1.4.0":                                false,
		"v0.0.0-20260101120000-abcdefabcdef":   false,
		"v1.4.1-0.20260101120000-abcdefabcdef": false,
		"v1.5.0-rc.1.0.20260101120000-abcdefabcdef": false,
		"v1.4.0+dirty":        false,
		"v2.0.0+incompatible": false,
	} {
		if got := isModuleRelease(v); got != want {
			t.Errorf("isModuleRelease(%q) = %v, want %v", v, got, want)
		}
	}
}
