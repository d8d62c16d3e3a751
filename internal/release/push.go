package release

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// Environment variables that give PushTag http(s) credentials.
const (
	EnvGitUsername = "SLIPWAY_GIT_USERNAME"
	EnvGitPassword = "SLIPWAY_GIT_PASSWORD"
	// EnvGitToken is a token sent as the password of user x-access-token.
	EnvGitToken = "SLIPWAY_GIT_TOKEN"
)

// CredentialHelper returns a username and password for an http(s) remote,
// or empty strings when it has none.
type CredentialHelper func(ctx context.Context, u *url.URL) (username, password string, err error)

// Auth chooses the credentials PushTag uses. The zero value finds them: the
// SSH agent for ssh remotes; for http(s) remotes the credentials in the URL,
// else SLIPWAY_GIT_TOKEN, else SLIPWAY_GIT_USERNAME and SLIPWAY_GIT_PASSWORD,
// else `git credential fill` when git is installed, else none. Local paths
// and file:// remotes need none.
type Auth struct {
	// Method, when set, is used as is for any remote.
	Method transport.AuthMethod
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Helper is asked last for http(s) credentials; nil means
	// GitCredentialFill.
	Helper CredentialHelper
}

// credentials are the method chosen for a remote, the secrets to keep out of
// error messages, and what to tell the user when the remote refuses them.
type credentials struct {
	method  transport.AuthMethod
	secrets []string
	hint    string
}

// httpHint says how to give http(s) credentials.
var httpHint = "set " + EnvGitToken + ", or " + EnvGitUsername + " and " + EnvGitPassword + ", or configure a git credential helper"

// sshHint says how to give ssh credentials.
const sshHint = "add your key to the SSH agent (ssh-add) and check SSH_AUTH_SOCK, or use an https remote with " + EnvGitToken

// resolve chooses credentials for rawURL.
func (a Auth) resolve(ctx context.Context, rawURL string) (credentials, error) {
	getenv := a.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return credentials{}, fmt.Errorf("parsing remote URL %s: %w", redactURL(rawURL), err)
	}
	switch ep.Protocol {
	case "ssh":
		if a.Method != nil {
			return credentials{method: a.Method, hint: sshHint}, nil
		}
		m, err := gitssh.NewSSHAgentAuth(ep.User)
		if err != nil {
			return credentials{}, fmt.Errorf("connecting to the SSH agent for %s: %w: %s", redactURL(rawURL), ErrAuth, sshHint)
		}
		return credentials{method: m, hint: sshHint}, nil
	case "http", "https":
		return a.resolveHTTP(ctx, ep, rawURL, getenv)
	}
	return credentials{method: a.Method}, nil
}

// resolveHTTP finds credentials for an HTTP(S) remote: a.Method, the URL's
// own, SLIPWAY_GIT_TOKEN, SLIPWAY_GIT_USERNAME/_PASSWORD, then the git
// credential helper.
func (a Auth) resolveHTTP(ctx context.Context, ep *transport.Endpoint, rawURL string, getenv func(string) string) (credentials, error) {
	c := credentials{hint: httpHint}
	if a.Method != nil {
		c.method = a.Method
		return c, nil
	}
	if ep.Password != "" {
		c.secrets = []string{ep.Password} // go-git sends URL credentials itself
		return c, nil
	}
	if tok := getenv(EnvGitToken); tok != "" {
		c.method = &githttp.BasicAuth{Username: "x-access-token", Password: tok}
		c.secrets = []string{tok}
		return c, nil
	}
	if user, pass := getenv(EnvGitUsername), getenv(EnvGitPassword); user != "" || pass != "" {
		c.method = &githttp.BasicAuth{Username: cmp.Or(user, ep.User), Password: pass}
		c.secrets = []string{pass}
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
		return credentials{}, fmt.Errorf("asking the credential helper about %s: %w", redactURL(rawURL), err)
	}
	if user != "" || pass != "" {
		c.method = &githttp.BasicAuth{Username: user, Password: pass}
		c.secrets = []string{pass}
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

// PushTag pushes the local tag name, and nothing else, to remote: a remote
// name such as origin (the default when empty), or a URL or path. A remote
// that already has the same tag is success; one that has the name on
// something else gives an error wrapping ErrTagExists, and refused
// credentials one wrapping ErrAuth.
func (r *Repo) PushTag(ctx context.Context, remote, name string, auth Auth) error {
	local, err := r.repo.Tag(name)
	if err != nil {
		return fmt.Errorf("pushing tag %s: reading local tag: %w", name, err)
	}
	rem, err := r.remote(remote)
	if err != nil {
		return err
	}
	rawURL := rem.Config().URLs[0]
	where := fmt.Sprintf("%s (%s)", rem.Config().Name, redactURL(rawURL))
	creds, err := auth.resolve(ctx, rawURL)
	if err != nil {
		return err
	}
	ref := plumbing.NewTagReferenceName(name).String()
	// A remote that never answers must not hang a release: the push of one
	// tag is bounded by the network timeouts' retries (default 2m).
	limit := pushLimit(ctx)
	pushCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err = rem.PushContext(pushCtx, &git.PushOptions{
		RemoteName: rem.Config().Name,
		RemoteURL:  rawURL,
		RefSpecs:   []config.RefSpec{config.RefSpec(ref + ":" + ref)},
		Auth:       creds.method,
	})
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("pushing tag %s to %s: %w", name, where, ctx.Err())
	}
	if pushCtx.Err() != nil {
		return remedy.With(fmt.Errorf("pushing tag %s to %s: %w: no answer within %s", name, where, ErrTimeout, limit), remedy.Remedy{Kind: remedy.RaisePushTimeout})
	}
	return redact(r.pushError(ctx, err, rem, creds, name, where, local.Hash()), creds.secrets)
}

// ErrTimeout is matched when a remote did not answer in time.
var ErrTimeout = errors.New("git remote timed out")

// pushLimit bounds one tag push: the retries timeout of --network-timeout
// or SLIPWAY_NETWORK_TIMEOUT, else its default.
func pushLimit(ctx context.Context) time.Duration {
	t, err := deadline.Resolve(deadline.FromContext(ctx))
	if err != nil || t.Retries <= 0 {
		return deadline.Defaults.Retries
	}
	return t.Retries
}

// pushError turns a failed push into an error that says what to do.
func (r *Repo) pushError(ctx context.Context, err error, rem *git.Remote, creds credentials, name, where string, local plumbing.Hash) error {
	if isAuthError(err) {
		return fmt.Errorf("pushing tag %s to %s: %w: %s: %v", name, where, ErrAuth, creds.hint, err)
	}
	if errors.Is(err, transport.ErrRepositoryNotFound) {
		if creds.hint == "" {
			return fmt.Errorf("pushing tag %s to %s: %w; check the remote's URL with git remote -v", name, where, err)
		}
		return fmt.Errorf("pushing tag %s to %s: %w (or your credentials cannot see it: %s)", name, where, err, creds.hint)
	}
	taken, known := r.remoteHasOther(ctx, rem, creds, name, local)
	if taken || (!known && isRejected(err)) {
		return fmt.Errorf("pushing tag %s to %s: %w there: someone else released this version; run git fetch --tags and release again", name, where, ErrTagExists)
	}
	return fmt.Errorf("pushing tag %s to %s: %w", name, where, err)
}

// remoteHasOther reports whether the remote has tag name pointing at
// something other than local; known is false when the remote could not be
// asked. It is asked only after a push failed, as go-git does not always say
// why.
func (r *Repo) remoteHasOther(ctx context.Context, rem *git.Remote, creds credentials, name string, local plumbing.Hash) (taken, known bool) {
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: creds.method})
	if err != nil {
		return false, false
	}
	want := plumbing.NewTagReferenceName(name)
	for _, ref := range refs {
		if ref.Name() == want {
			return ref.Hash() != local, true
		}
	}
	return false, true
}

// isAuthError reports whether err says the remote refused the credentials.
func isAuthError(err error) bool {
	if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "permission denied (publickey")
}

// isRejected reports whether err says the remote refused to update the tag
// because it already exists there.
func isRejected(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"non-fast-forward", "already exists", "failed to lock", "cannot lock ref"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// remote returns the remote called name, or, when there is none and name
// looks like a URL or path, an unnamed remote for it.
func (r *Repo) remote(name string) (*git.Remote, error) {
	name = cmp.Or(name, git.DefaultRemoteName)
	rem, err := r.repo.Remote(name)
	if err == nil {
		if len(rem.Config().URLs) == 0 {
			return nil, fmt.Errorf("reading remote %s: it has no URL", name)
		}
		return rem, nil
	}
	if !errors.Is(err, git.ErrRemoteNotFound) {
		return nil, fmt.Errorf("reading remote %s: %w", name, err)
	}
	if !strings.ContainsAny(name, ":/\\") && !strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("reading remote %s: %w: add it with git remote add %s URL", name, err, name)
	}
	return git.NewRemote(r.repo.Storer, &config.RemoteConfig{Name: "slipway-push", URLs: []string{name}}), nil
}

// redactURL removes any user name and password from a remote URL.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil && u.Host != "" {
		u.User = nil
		return u.String()
	}
	if !strings.Contains(raw, "://") {
		// scp-like user@host:path
		if at, colon := strings.Index(raw, "@"), strings.Index(raw, ":"); at >= 0 && at < colon {
			return raw[at+1:]
		}
	}
	return raw
}

// redactedError hides secrets in the message of the error it wraps.
type redactedError struct {
	err     error
	secrets []string
}

func (e *redactedError) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return msg
}

func (e *redactedError) Unwrap() error { return e.err }

// redact wraps err so its message never shows any of secrets.
func redact(err error, secrets []string) error {
	if err == nil || len(secrets) == 0 {
		return err
	}
	return &redactedError{err: err, secrets: secrets}
}

// SourceURL returns the web address of the named remote's repository, for
// the org.opencontainers.image.source label: credentials removed, scp-like
// git@host:path and ssh:// addresses turned into https://host/path, local
// paths left out. It returns "" when the remote does not exist.
func (r *Repo) SourceURL(remote string) string {
	rem, err := r.repo.Remote(remote)
	if err != nil || len(rem.Config().URLs) == 0 {
		return ""
	}
	return sourceURL(rem.Config().URLs[0])
}

func sourceURL(raw string) string {
	if !strings.Contains(raw, "://") {
		at, colon := strings.Index(raw, "@"), strings.Index(raw, ":")
		if colon <= 0 || strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, ".") {
			return "" // a local path
		}
		host := raw[at+1 : colon]
		return "https://" + host + "/" + strings.TrimSuffix(strings.TrimPrefix(raw[colon+1:], "/"), ".git")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	u.User = nil
	u.Path = strings.TrimSuffix(u.Path, ".git")
	switch u.Scheme {
	case "ssh", "git", "git+ssh":
		u.Scheme = "https"
		u.Host = u.Hostname()
	case "http", "https":
	default:
		return ""
	}
	return u.String()
}
