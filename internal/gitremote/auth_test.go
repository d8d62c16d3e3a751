package gitremote

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

func TestAuthResolve(t *testing.T) {
	ctx := context.Background()
	var asked *url.URL
	helper := func(_ context.Context, u *url.URL) (string, string, error) {
		asked = u
		return "helper-user", "helper-pass", nil
	}
	none := func(context.Context, *url.URL) (string, string, error) { return "", "", nil }
	tests := []struct {
		name    string
		url     string
		env     map[string]string
		helper  CredentialHelper
		user    string // "" for no method
		pass    string
		secrets int
	}{
		{name: "token", url: "https://git.example.com/org/repo.git", env: map[string]string{EnvGitToken: "tok", EnvGitUsername: "u", EnvGitPassword: "p"},
			user: "x-access-token", pass: "tok", secrets: 1},
		{name: "username and password", url: "https://git.example.com/org/repo.git", env: map[string]string{EnvGitUsername: "u", EnvGitPassword: "p"},
			user: "u", pass: "p", secrets: 1},
		{name: "password with URL user", url: "https://ann@git.example.com/org/repo.git", env: map[string]string{EnvGitPassword: "p"},
			user: "ann", pass: "p", secrets: 1},
		{name: "URL credentials are left to go-git", url: "https://ann:pw@git.example.com/org/repo.git", env: map[string]string{EnvGitToken: "tok"},
			secrets: 1},
		{name: "credential helper", url: "https://git.example.com:8443/org/repo.git", helper: helper,
			user: "helper-user", pass: "helper-pass", secrets: 1},
		{name: "helper has nothing", url: "http://git.example.com/org/repo.git", helper: none},
		{name: "local path", url: "/srv/git/repo.git", helper: helper},
		{name: "file URL", url: "file:///srv/git/repo.git", helper: helper},
		{name: "git protocol", url: "git://git.example.com/repo.git", helper: helper},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked = nil
			a := Auth{Getenv: func(k string) string { return tt.env[k] }, Helper: tt.helper}
			c, err := a.Resolve(ctx, tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if tt.user == "" {
				if c.Method != nil {
					t.Errorf("method = %v, want none", c.Method)
				}
			} else if b, ok := c.Method.(*githttp.BasicAuth); !ok || b.Username != tt.user || b.Password != tt.pass {
				t.Errorf("method = %v, want basic auth %s", c.Method, tt.user)
			}
			if len(c.Secrets) != tt.secrets {
				t.Errorf("secrets = %d, want %d", len(c.Secrets), tt.secrets)
			}
		})
	}
	// The helper is asked with protocol, host and port, and path.
	a := Auth{Getenv: func(string) string { return "" }, Helper: helper}
	if _, err := a.Resolve(ctx, "https://git.example.com:8443/org/repo.git"); err != nil {
		t.Fatal(err)
	}
	if asked == nil || asked.Scheme != "https" || asked.Host != "git.example.com:8443" || asked.Path != "/org/repo.git" {
		t.Errorf("helper asked about %v", asked)
	}

	// An explicit method wins.
	explicit := &githttp.BasicAuth{Username: "me"}
	if c, err := (Auth{Method: explicit}).Resolve(ctx, "https://git.example.com/r.git"); err != nil || c.Method != transport.AuthMethod(explicit) {
		t.Errorf("explicit method: %v, %v", c.Method, err)
	}
}

func TestAuthResolveSSHWithoutAgent(t *testing.T) {
	t.Setenv("SSH_AUTH_SOCK", "")
	for _, u := range []string{"git@github.com:org/repo.git", "ssh://git@github.com/org/repo.git"} {
		_, err := (Auth{}).Resolve(context.Background(), u)
		if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "ssh-add") {
			t.Errorf("resolve(%s) without an SSH agent: error %v, want ErrAuth", u, err)
		}
	}
}

func TestParseCredentials(t *testing.T) {
	user, pass, err := parseCredentials("protocol=https\nhost=example.com\nusername=bob\npassword=a=b\n")
	if err != nil || user != "bob" || pass != "a=b" {
		t.Errorf("parseCredentials = %q, %q, %v", user, pass, err)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://user:pass@github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"https://token@github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"https://github.com/org/repo.git", "https://github.com/org/repo.git"},
		{"ssh://git@github.com/org/repo.git", "ssh://github.com/org/repo.git"},
		{"git@github.com:org/repo.git", "github.com:org/repo.git"},
		{"/srv/git/a@b.git", "/srv/git/a@b.git"},
		{"origin", "origin"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
