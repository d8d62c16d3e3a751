package gitremote

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Environment variables that give http(s) credentials.
const (
	EnvGitUsername = "SLIPWAY_GIT_USERNAME"
	EnvGitPassword = "SLIPWAY_GIT_PASSWORD"
	// EnvGitToken is a token sent as the password of user x-access-token.
	EnvGitToken = "SLIPWAY_GIT_TOKEN"
)

// CredentialHelper returns a username and password for an http(s) remote,
// or empty strings when it has none.
type CredentialHelper func(ctx context.Context, u *url.URL) (username, password string, err error)

// Auth chooses the credentials for a remote. The zero value finds them:
// the SSH agent for ssh remotes; for http(s) remotes the credentials in the
// URL, else SLIPWAY_GIT_TOKEN, else SLIPWAY_GIT_USERNAME and
// SLIPWAY_GIT_PASSWORD, else `git credential fill` when git is installed,
// else none. Local paths and file:// remotes need none.
type Auth struct {
	// Method, when set, is used as is for any remote.
	Method transport.AuthMethod
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Helper is asked last for http(s) credentials; nil means
	// GitCredentialFill.
	Helper CredentialHelper
}

// Credentials are the method chosen for a remote, the secrets to keep out
// of error messages, and what to tell the user when the remote refuses
// them.
type Credentials struct {
	Method  transport.AuthMethod
	Secrets []string
	Hint    string
}

// HTTPHint says how to give http(s) credentials.
const HTTPHint = "set " + EnvGitToken + ", or " + EnvGitUsername + " and " + EnvGitPassword + ", or configure a git credential helper"

// SSHHint says how to give ssh credentials.
const SSHHint = "add your key to the SSH agent (ssh-add) and check SSH_AUTH_SOCK, or use an https remote with " + EnvGitToken

// Resolve chooses credentials for rawURL. Without an SSH agent for an ssh
// remote it returns an error wrapping ErrAuth.
func (a Auth) Resolve(ctx context.Context, rawURL string) (Credentials, error) {
	getenv := a.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return Credentials{}, fmt.Errorf("parsing remote URL %s: %w", RedactURL(rawURL), err)
	}
	switch ep.Protocol {
	case "ssh":
		if a.Method != nil {
			return Credentials{Method: a.Method, Hint: SSHHint}, nil
		}
		m, err := gitssh.NewSSHAgentAuth(ep.User)
		if err != nil {
			return Credentials{}, fmt.Errorf("connecting to the SSH agent for %s: %w: %s", RedactURL(rawURL), ErrAuth, SSHHint)
		}
		return Credentials{Method: m, Hint: SSHHint}, nil
	case "http", "https":
		return a.resolveHTTP(ctx, ep, rawURL, getenv)
	}
	return Credentials{Method: a.Method}, nil
}

// resolveHTTP finds credentials for an HTTP(S) remote: a.Method, the URL's
// own, SLIPWAY_GIT_TOKEN, SLIPWAY_GIT_USERNAME/_PASSWORD, then the git
// credential helper.
func (a Auth) resolveHTTP(ctx context.Context, ep *transport.Endpoint, rawURL string, getenv func(string) string) (Credentials, error) {
	c := Credentials{Hint: HTTPHint}
	if a.Method != nil {
		c.Method = a.Method
		return c, nil
	}
	if ep.Password != "" {
		c.Secrets = []string{ep.Password} // go-git sends URL credentials itself
		return c, nil
	}
	if tok := getenv(EnvGitToken); tok != "" {
		c.Method = &githttp.BasicAuth{Username: "x-access-token", Password: tok}
		c.Secrets = []string{tok}
		return c, nil
	}
	if user, pass := getenv(EnvGitUsername), getenv(EnvGitPassword); user != "" || pass != "" {
		c.Method = &githttp.BasicAuth{Username: cmp.Or(user, ep.User), Password: pass}
		c.Secrets = []string{pass}
		return c, nil
	}
	helper := a.Helper
	if helper == nil {
		helper = GitCredentialFill
	}
	u := &url.URL{Scheme: ep.Protocol, Host: ep.Host, Path: ep.Path}
	if ep.Port != 0 {
		u.Host = fmt.Sprintf("%s:%d", ep.Host, ep.Port)
	}
	if ep.User != "" {
		u.User = url.User(ep.User)
	}
	user, pass, err := helper(ctx, u)
	if err != nil {
		return Credentials{}, fmt.Errorf("asking the credential helper about %s: %w", RedactURL(rawURL), err)
	}
	if user != "" || pass != "" {
		c.Method = &githttp.BasicAuth{Username: user, Password: pass}
		c.Secrets = []string{pass}
	}
	return c, nil
}

// GitCredentialFill asks `git credential fill` for the credentials of u,
// without prompting. It returns empty strings, and no error, when git is not
// installed or has no credentials for u.
func GitCredentialFill(ctx context.Context, u *url.URL) (username, password string, err error) {
	bin, err := exec.LookPath("git")
	if err != nil {
		return "", "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var in strings.Builder
	fmt.Fprintf(&in, "protocol=%s\nhost=%s\n", u.Scheme, u.Host)
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		fmt.Fprintf(&in, "path=%s\n", p)
	}
	if u.User != nil && u.User.Username() != "" {
		fmt.Fprintf(&in, "username=%s\n", u.User.Username())
	}
	in.WriteString("\n")
	cmd := exec.CommandContext(ctx, bin, "credential", "fill")
	cmd.Stdin = strings.NewReader(in.String())
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GCM_INTERACTIVE=never", "GIT_ASKPASS=", "SSH_ASKPASS=")
	out, err := cmd.Output()
	if err != nil {
		return "", "", nil // no helper, or it has nothing for u
	}
	return parseCredentials(string(out))
}

// parseCredentials reads the key=value lines `git credential fill` prints.
func parseCredentials(out string) (username, password string, err error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "username":
			username = v
		case "password":
			password = v
		}
	}
	return username, password, sc.Err()
}
