package deploy

import (
	"errors"
	"testing"
)

func TestPick(t *testing.T) {
	hist := []Revision{
		{Revision: 5, Version: "1.2.0", Digest: "sha256:c", Current: true},
		{Revision: 4, Version: "1.1.0", Digest: "sha256:b"},
		{Revision: 2, Version: "1.0.0", Digest: "sha256:a"},
	}
	for _, tc := range []struct {
		to   string
		want int64
		err  bool
	}{
		{"", 4, false},
		{"2", 2, false},
		{"1.0.0", 2, false},
		{"sha256:b", 4, false},
		{"1.2.0", 5, false},
		{"9.9.9", 0, true},
		{"3", 0, true},
	} {
		got, cur, err := pick(hist, tc.to)
		if (err != nil) != tc.err || got.Revision != tc.want || cur.Revision != 5 {
			t.Errorf("pick(%q) = %d (current %d), %v; want %d", tc.to, got.Revision, cur.Revision, err, tc.want)
		}
		if err != nil && !errors.Is(err, ErrNoRevision) {
			t.Errorf("pick(%q): %v does not match ErrNoRevision", tc.to, err)
		}
	}
	if _, _, err := pick(hist[:1], ""); !errors.Is(err, ErrNoRevision) {
		t.Errorf("only the current revision: %v", err)
	}
}
