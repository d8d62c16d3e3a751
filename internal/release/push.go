package release

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// PushTag pushes the local tag name, and nothing else, to remote: a remote
// name such as origin (the default when empty), or a URL or path. A remote
// that already has the same tag is success; one that has the name on
// something else gives an error wrapping ErrTagExists, and refused
// credentials one wrapping gitremote.ErrAuth.
func (r *Repo) PushTag(ctx context.Context, remote, name string, auth gitremote.Auth) error {
	local, err := r.repo.Tag(name)
	if err != nil {
		return fmt.Errorf("pushing tag %s: reading local tag: %w", name, err)
	}
	rem, err := r.remote(remote)
	if err != nil {
		return err
	}
	rawURL := rem.Config().URLs[0]
	where := fmt.Sprintf("%s (%s)", rem.Config().Name, gitremote.RedactURL(rawURL))
	creds, err := auth.Resolve(ctx, rawURL)
	if err != nil {
		return err
	}
	ref := plumbing.NewTagReferenceName(name).String()
	// A remote that never answers must not hang a release: the push of one
	// tag is bounded by the network timeouts' retries (default 2m).
	limit := gitremote.OperationLimit(ctx)
	pushCtx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err = rem.PushContext(pushCtx, &git.PushOptions{
		RemoteName: rem.Config().Name,
		RemoteURL:  rawURL,
		RefSpecs:   []config.RefSpec{config.RefSpec(ref + ":" + ref)},
		Auth:       creds.Method,
	})
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("pushing tag %s to %s: %w", name, where, ctx.Err())
	}
	if pushCtx.Err() != nil {
		return remedy.With(fmt.Errorf("pushing tag %s to %s: %w: no answer within %s", name, where, gitremote.ErrTimeout, limit), remedy.Remedy{Kind: remedy.RaisePushTimeout})
	}
	return r.pushError(ctx, gitremote.Quote(err, creds.Secrets), rem, creds, name, where, local.Hash())
}

// pushError turns a failed push into an error that says what to do.
func (r *Repo) pushError(ctx context.Context, err error, rem *git.Remote, creds gitremote.Credentials, name, where string, local plumbing.Hash) error {
	if gitremote.IsAuthError(err) {
		return fmt.Errorf("pushing tag %s to %s: %w: %s: %w", name, where, gitremote.ErrAuth, creds.Hint, err)
	}
	if errors.Is(err, transport.ErrRepositoryNotFound) {
		if creds.Hint == "" {
			return fmt.Errorf("pushing tag %s to %s: %w; check the remote's URL with git remote -v", name, where, err)
		}
		return fmt.Errorf("pushing tag %s to %s: %w (or your credentials cannot see it: %s)", name, where, err, creds.Hint)
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
func (r *Repo) remoteHasOther(ctx context.Context, rem *git.Remote, creds gitremote.Credentials, name string, local plumbing.Hash) (taken, known bool) {
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: creds.Method})
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
