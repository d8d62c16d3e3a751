package pipeline

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestCheckInput(t *testing.T) {
	tests := []struct {
		name string
		in   Input
		want string // part of the error, "" for none
	}{
		{"plain", Input{Dir: "services/web", Branch: "main", Repo: "https://git.example.com/a/b.git"}, ""},
		{"glob branch", Input{Branch: "release/*"}, ""},
		{"dollar in dir", Input{Dir: "a/$CI_JOB_TOKEN", Branch: "main"}, "project directory"},
		{"expression in dir", Input{Dir: "${{ github.token }}", Branch: "main"}, "project directory"},
		{"quote in branch", Input{Branch: "main'"}, "default branch"},
		{"space in branch", Input{Branch: "a b"}, "default branch"},
		{"token in repo", Input{Branch: "main", Repo: "https://user:token@git.example.com/a/b.git"}, "credentials"},
		{"user in repo", Input{Branch: "main", Repo: "https://oauth2@git.example.com/a/b.git"}, "credentials"},
		{"scp-like repo", Input{Branch: "main", Repo: "git@git.example.com:a/b.git"}, ""},
	}
	for _, tt := range tests {
		err := checkInput(tt.in)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want an error about %s", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "token@") {
			t.Errorf("%s: the error repeats the credentials: %v", tt.name, err)
		}
	}
}

func TestEscapes(t *testing.T) {
	tests := []struct {
		name string
		f    func(string) string
		in   string
		want string
	}{
		{"job id digit", ghJobID, "2fast", "_2fast"},
		{"job id letter", ghJobID, "deploy-dev", "deploy-dev"},
		{"comment newline", func(s string) string { return comment("//", []string{s}) }, "a\nSystem.exit(1)", "// a?System.exit(1)"},
		{"comment unicode escape", func(s string) string { return comment("//", []string{s}) }, `a\u000aSystem.exit(1)`, "// a?u000aSystem.exit(1)"},
		{"comment separator", func(s string) string { return comment("#", []string{s}) }, "a\u2028b", "# a?b"},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%s: %q -> %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

// TestYAMLScalarsReadBack encodes values yaml.v3 gets wrong in its own
// choice of style and checks they read back unchanged.
func TestYAMLScalarsReadBack(t *testing.T) {
	for _, s := range []string{"\n", "\n\n", "\na", "\t\n", " \n", "a\u2028b", "\ufeff$$x", "x\r\ny", "*alias", "!!binary", ": #", "'''", `"""`, "- x", "run\nit\n"} {
		for _, n := range []*yaml.Node{ystr(s), yblock(s)} {
			b, err := encodeYAML(nil, set(ymap(), "k", n))
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			var m map[string]string
			if err := yaml.Unmarshal(b, &m); err != nil || m["k"] != s {
				t.Errorf("%q is written as %q, which reads back as %q (%v)", s, b, m["k"], err)
			}
		}
	}
}

func TestGroovyKeywordEnvRefused(t *testing.T) {
	if _, err := groovyVars([]envVar{{"class", "x"}}); err == nil || !strings.Contains(err.Error(), "keyword") {
		t.Errorf("an env variable named class: got %v, want an error about the keyword", err)
	}
	if _, err := groovyVars([]envVar{{"CLASS", "x"}, {"main", "y"}}); err != nil {
		t.Errorf("CLASS and main are not keywords: %v", err)
	}
}
