package gitops

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestDescends(t *testing.T) {
	rm := newRemote(t)
	first := rm.commit("main", "first", map[string]string{"envs/dev/a.yaml": "a: 1\n"})
	ours := rm.commit("main", "ours", map[string]string{"envs/dev/a.yaml": "a: 2\n"})
	outside := rm.commit("main", "outside the path", map[string]string{"README": "x\n"})
	newer := rm.commit("main", "newer", map[string]string{"envs/dev/a.yaml": "a: 3\n"})
	other := rm.commit("elsewhere", "another branch", map[string]string{"envs/dev/a.yaml": "a: 4\n"})
	r := rm.open("main", "envs/dev")
	tests := []struct {
		name            string
		commit, ancestr string
		want, invalid   bool
	}{
		{"newer", newer, ours, true, false},
		{"a commit outside the path", outside, ours, true, false},
		{"older", first, ours, false, false},
		{"itself", ours, ours, false, false},
		{"another branch", other, ours, false, false},
		{"upper case", strings.ToUpper(newer), ours, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Descends(context.Background(), tt.commit, tt.ancestr)
			if tt.invalid {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Descends of an upper-case hash: %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Descends(%s, %s) = %v, %v; want %v", tt.commit[:7], tt.ancestr[:7], got, err, tt.want)
			}
		})
	}
}

func TestSameFile(t *testing.T) {
	rm := newRemote(t)
	first := rm.commit("main", "first", map[string]string{"envs/dev/a.yaml": "a: 1\n"})
	ours := rm.commit("main", "ours", map[string]string{"envs/dev/a.yaml": "a: 2\n"})
	other := rm.commit("main", "another app", map[string]string{"envs/dev/b.yaml": "b: 1\n"})
	outside := rm.commit("main", "outside the path", map[string]string{"README": "x\n"})
	newer := rm.commit("main", "newer", map[string]string{"envs/dev/a.yaml": "a: 3\n"})
	back := rm.commit("main", "back", map[string]string{"envs/dev/a.yaml": "a: 2\n"})
	r := rm.open("main", "envs/dev")
	tests := []struct {
		name  string
		a, b  string
		file  string
		want  bool
		isErr error
	}{
		{"another app's commit", other, ours, "a.yaml", true, nil},
		{"a commit outside the path", outside, ours, "a.yaml", true, nil},
		{"the file changed", newer, ours, "a.yaml", false, nil},
		{"changed and changed back", back, ours, "a.yaml", true, nil},
		{"older", first, ours, "a.yaml", false, nil},
		{"missing from both", ours, first, "b.yaml", true, nil},
		{"added", other, ours, "b.yaml", false, nil},
		{"not a commit of the branch", strings.Repeat("0", 40), ours, "a.yaml", false, ErrNotFound},
		{"a file outside the path", other, ours, "../a.yaml", false, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.SameFile(context.Background(), tt.a, tt.b, tt.file)
			if tt.isErr != nil {
				if !errors.Is(err, tt.isErr) {
					t.Fatalf("SameFile = %v, %v; want an error wrapping %v", got, err, tt.isErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("SameFile(%s, %s, %s) = %v, %v; want %v", tt.a[:7], tt.b[:7], tt.file, got, err, tt.want)
			}
		})
	}
}
