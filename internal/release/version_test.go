package release

import (
	"errors"
	"math"
	"testing"

	"github.com/Masterminds/semver/v3"
)

func TestParseTag(t *testing.T) {
	tests := []struct {
		name, prefix string
		want         string // "" when not a release tag
	}{
		{"v1.2.3", "v", "1.2.3"},
		{"1.2.4", "v", ""},
		{"v1.2", "v", ""},
		{"latest", "v", ""},
		{"v2.0.0-rc.1", "v", "2.0.0-rc.1"},
		{"v1.0.0+build.5", "v", "1.0.0+build.5"},
		{"v01.2.3", "v", ""},
		{"v1.2.3.4", "v", ""},
		{"v", "v", ""},
		{"V1.2.3", "v", ""},
		{"vv1.2.3", "v", ""},
		{"1.2.4", "", "1.2.4"},
		{"v1.2.3", "", ""},
		{"billing/v1.0.0", "billing/v", "1.0.0"},
		{"billing/v1.0.0", "v", ""},
		{"shipping/v1.0.0", "billing/v", ""},
		{"v1.0.0", "billing/v", ""},
		{"release-3.1.4", "release-", "3.1.4"},
	}
	for _, tt := range tests {
		v, ok := ParseTag(tt.name, tt.prefix)
		got := ""
		if ok {
			got = v.String()
		}
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("ParseTag(%q, %q) = %q, %v; want %q", tt.name, tt.prefix, got, ok, tt.want)
		}
	}
}

func TestTagName(t *testing.T) {
	if got := TagName("billing/v", semver.MustParse("1.2.3-rc.1")); got != "billing/v1.2.3-rc.1" {
		t.Errorf("TagName = %q", got)
	}
}

func TestBumpApply(t *testing.T) {
	tests := []struct {
		v    string
		b    Bump
		want string
	}{
		{"1.4.2", BumpNone, "1.4.2"},
		{"1.4.2", BumpPatch, "1.4.3"},
		{"1.4.2", BumpMinor, "1.5.0"},
		{"1.4.2", BumpMajor, "2.0.0"},
		{"0.9.0", BumpMinor, "0.10.0"},
		{"1.4.2+meta", BumpPatch, "1.4.3"},
		{"2.0.0-rc.1", BumpNone, "2.0.0"},
	}
	for _, tt := range tests {
		got, err := tt.b.Apply(semver.MustParse(tt.v))
		if err != nil || got.String() != tt.want {
			t.Errorf("%v.Apply(%s) = %v, %v; want %s", tt.b, tt.v, got, err, tt.want)
		}
	}
	huge := semver.New(1, math.MaxUint64, 0, "", "")
	if _, err := BumpMinor.Apply(huge); !errors.Is(err, ErrInvalid) {
		t.Errorf("minor bump of %s: error %v, want ErrInvalid", huge, err)
	}
	if _, err := Bump(9).Apply(huge); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown bump: error %v, want ErrInvalid", err)
	}
}
