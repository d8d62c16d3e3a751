package engine

import "testing"

func TestRepoKey(t *testing.T) {
	same := [][]string{
		{"https://GitHub.com/org/env.git", "https://github.com/org/env", "ssh://git@github.com/org/env.git", "git@github.com:org/env.git", "https://github.com:443/org/env/"},
		{"http://127.0.0.1:37061/env.git", "http://flux@127.0.0.1:37061/env"},
	}
	for _, group := range same {
		for _, u := range group[1:] {
			if RepoKey(u) != RepoKey(group[0]) {
				t.Errorf("RepoKey(%q) = %q, want %q as for %q", u, RepoKey(u), RepoKey(group[0]), group[0])
			}
		}
	}
	differ := [][2]string{
		{"https://github.com/org/env", "https://github.com/org/env2"},
		{"http://127.0.0.1:37061/env.git", "http://127.0.0.1:37062/env.git"},
		{"https://github.com/org/env", "https://gitlab.com/org/env"},
	}
	for _, d := range differ {
		if RepoKey(d[0]) == RepoKey(d[1]) {
			t.Errorf("RepoKey(%q) = RepoKey(%q) = %q, want them apart", d[0], d[1], RepoKey(d[0]))
		}
	}
}

func TestPathKey(t *testing.T) {
	for in, want := range map[string]string{
		"./envs/dev": "envs/dev", "envs/dev": "envs/dev", "envs/dev/": "envs/dev", "/envs//dev": "envs/dev",
		"": ".", ".": ".", "./": ".", "/": ".",
	} {
		if got := PathKey(in); got != want {
			t.Errorf("PathKey(%q) = %q, want %q", in, got, want)
		}
	}
}
