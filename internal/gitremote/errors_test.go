package gitremote

import (
	"errors"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	inner := errors.Join(ErrAuth, errors.New("token abc123 refused: "+strings.Repeat("x", 1000)))
	err := Quote(inner, []string{"abc123", ""})
	msg := err.Error()
	if !errors.Is(err, ErrAuth) || strings.Contains(msg, "abc123") || !strings.Contains(msg, "***") {
		t.Errorf("Quote = %v", err)
	}
	if len(msg) > MaxQuote+40 || !strings.Contains(msg, "more bytes)") {
		t.Errorf("Quote kept %d bytes: %q", len(msg), msg)
	}
	if Quote(nil, []string{"x"}) != nil {
		t.Error("Quote(nil) is not nil")
	}
	// A secret that straddles the cut is redacted before the cut.
	secret := "s3cr3t-value"
	err = Quote(errors.New(strings.Repeat("a", MaxQuote-4)+secret), []string{secret})
	if strings.Contains(err.Error(), "s3cr") {
		t.Errorf("a secret at the cut shows: %q", err.Error())
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…(3 more bytes)"},
		{"aé", 2, "a…(2 more bytes)"}, // never half a character
		{"", 0, ""},
	}
	for _, tt := range tests {
		if got := Cut(tt.in, tt.max); got != tt.want {
			t.Errorf("Cut(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}
