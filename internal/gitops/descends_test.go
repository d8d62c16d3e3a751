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
