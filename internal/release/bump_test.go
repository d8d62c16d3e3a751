package release

import (
	"errors"
	"testing"
)

func TestBumpString(t *testing.T) {
	tests := []struct {
		b    Bump
		want string
	}{
		{BumpNone, "none"},
		{BumpPatch, "patch"},
		{BumpMinor, "minor"},
		{BumpMajor, "major"},
		{Bump(7), "Bump(7)"},
	}
	for _, tt := range tests {
		if got := tt.b.String(); got != tt.want {
			t.Errorf("Bump(%d).String() = %q, want %q", int(tt.b), got, tt.want)
		}
	}
	if !(BumpNone < BumpPatch && BumpPatch < BumpMinor && BumpMinor < BumpMajor) {
		t.Error("bumps are not ordered none < patch < minor < major")
	}
}

func TestParseBump(t *testing.T) {
	tests := []struct {
		in      string
		want    Bump
		wantErr bool
	}{
		{"none", BumpNone, false},
		{"patch", BumpPatch, false},
		{"minor", BumpMinor, false},
		{"major", BumpMajor, false},
		{" Minor ", BumpMinor, false},
		{"MAJOR", BumpMajor, false},
		{"auto", BumpNone, true},
		{"", BumpNone, true},
		{"huge", BumpNone, true},
	}
	for _, tt := range tests {
		got, err := ParseBump(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseBump(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseBump(%q) error %v does not wrap ErrInvalid", tt.in, err)
		}
	}
}

func TestParseBumpSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    Bump
		wantErr bool
	}{
		{"", BumpNone, false},
		{"auto", BumpNone, false},
		{" AUTO ", BumpNone, false},
		{"major", BumpMajor, false},
		{"Minor", BumpMinor, false},
		{"patch", BumpPatch, false},
		{"none", BumpNone, true},
		{"huge", BumpNone, true},
	}
	for _, tt := range tests {
		got, err := ParseBumpSpec(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseBumpSpec(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseBumpSpec(%q) error %v does not wrap ErrInvalid", tt.in, err)
		}
	}
}

func TestConventional(t *testing.T) {
	tests := []struct {
		msg  string
		want Bump
	}{
		{"feat: add login", BumpMinor},
		{"feat(auth): add login", BumpMinor},
		{"FEAT: shout", BumpMinor},
		{"Feat(ui): mixed case", BumpMinor},
		{"fix: crash", BumpPatch},
		{"fix(db): crash\n\nlonger body", BumpPatch},
		{"perf: faster", BumpPatch},
		{"feat!: drop v1 API", BumpMajor},
		{"fix(api)!: change status codes", BumpMajor},
		{"chore!: drop Go 1.20", BumpMajor},
		{"refactor: tidy\n\nBREAKING CHANGE: config keys renamed", BumpMajor},
		{"fix: x\n\nBREAKING-CHANGE: y", BumpMajor},
		{"fix: x\r\n\r\nBREAKING CHANGE: windows line ends", BumpMajor},
		{"fix: x\n\nbreaking change: lower case is prose", BumpPatch},
		{"docs: explain\n\nSee BREAKING CHANGE: mid-line", BumpNone},
		{"chore: bump deps", BumpNone},
		{"docs(readme): typo", BumpNone},
		{"Merge branch 'feature'", BumpNone},
		{"feature: not a type we know", BumpNone},
		{"feat add login", BumpNone},
		{"feat:", BumpMinor},
		{"fix:no space", BumpPatch},
		{"http://example.com is down", BumpNone},
		{"  feat: leading space", BumpMinor},
		{"feat(scope: unbalanced", BumpNone},
		{"", BumpNone},
		{"Update README.md", BumpNone},
	}
	for _, tt := range tests {
		if got := Conventional(tt.msg); got != tt.want {
			t.Errorf("Conventional(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestBumpFromMessages(t *testing.T) {
	tests := []struct {
		name     string
		msgs     []string
		fallback Bump
		want     Bump
	}{
		{"none uses fallback", []string{"chore: x", "docs: y"}, BumpPatch, BumpPatch},
		{"empty uses fallback", nil, BumpMinor, BumpMinor},
		{"fallback none", []string{"chore: x"}, BumpNone, BumpNone},
		{"highest wins", []string{"fix: a", "feat: b", "chore: c"}, BumpPatch, BumpMinor},
		{"breaking wins", []string{"fix: a", "feat!: b", "feat: c"}, BumpPatch, BumpMajor},
		{"fix beats minor fallback", []string{"fix: a"}, BumpMinor, BumpPatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BumpFromMessages(tt.msgs, tt.fallback); got != tt.want {
				t.Errorf("BumpFromMessages(%q, %v) = %v, want %v", tt.msgs, tt.fallback, got, tt.want)
			}
		})
	}
}
