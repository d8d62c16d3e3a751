package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/remedy"
)

// Options say which environment repository to open and how.
type Options struct {
	// URL is the repository: https://, ssh://, scp-like user@host:path, a
	// file:// URL or a local path. An http(s) URL with user info, or any
	// URL with a password, is refused: credentials come from Auth.
	URL string
	// Branch is the branch to read and push ("main" when empty).
	Branch string
	// Path is the environment's directory in the branch, slash-separated;
	// "" and "." are the branch's root.
	Path string
	// Auth chooses credentials; the zero value finds them as release
	// --push does.
	Auth gitremote.Auth
	// Committer signs Slipway's commits (slipway <slipway@localhost> when
	// empty); who deployed goes in Trailers.By.
	Committer Signature
	// Now is the clock of commit times (time.Now when nil).
	Now func() time.Time
	// Limits bound what is read from the server.
	Limits Limits
	// Progress receives progress events; nil discards them.
	Progress progress.Reporter
}

// Signature is a commit's author and committer.
type Signature struct {
	Name  string
	Email string
}

// Default committer of Slipway's commits.
const (
	DefaultName  = "slipway"
	DefaultEmail = "slipway@localhost"
)

// Repo is the branch of an environment repository, fetched into memory:
// what the remote holds, and the commits made on it and not yet pushed.
// It is not safe for concurrent use.
type Repo struct {
	opt    Options
	dir    string // Path cleaned; "" is the root
	branch plumbing.ReferenceName
	where  string // the URL, without credentials, and the branch, for messages
	creds  gitremote.Credentials
	rep    progress.Reporter
	store  *storage
	repo   *git.Repository
	depth  int           // commits of history fetched
	base   plumbing.Hash // the remote branch's head as last seen; zero when it has none
	head   plumbing.Hash // base with the pending commits on top
	// pending are the changes committed and not pushed, in order, on onto:
	// base when they were made.
	pending []change
	onto    plumbing.Hash
}

// remoteName is the name of the one remote.
const remoteName = "origin"

// Open fetches the head of opt.Branch of opt.URL, bounded by opt.Limits,
// into memory. An empty repository, or one without the branch, opens
// with no head: the first commit starts the branch.
func Open(ctx context.Context, opt Options) (*Repo, error) {
	r, err := newRepo(opt)
	if err != nil {
		return nil, err
	}
	if r.creds, err = opt.Auth.Resolve(ctx, opt.URL); err != nil {
		return nil, err
	}
	r.rep.Report(progress.Event{Kind: progress.Start, Step: "gitops", Msg: "fetching " + r.where})
	if err := r.fetch(ctx, 1); err != nil {
		return nil, err
	}
	msg := "fetched " + r.where + " at " + short(r.base)
	if r.base.IsZero() {
		msg = "fetched " + r.where + ": the branch does not exist yet"
	}
	r.rep.Report(progress.Event{Kind: progress.Finish, Step: "gitops", Msg: msg})
	return r, nil
}

// newRepo checks opt and makes an empty Repo for it.
func newRepo(opt Options) (*Repo, error) {
	if err := checkURL(opt.URL); err != nil {
		return nil, err
	}
	if opt.Branch == "" {
		opt.Branch = "main"
	}
	branch := plumbing.NewBranchReferenceName(opt.Branch)
	if err := branch.Validate(); err != nil || !printable(opt.Branch, false) {
		return nil, fmt.Errorf("checking branch %s: %w: not a valid branch name", quote(opt.Branch), ErrInvalid)
	}
	dir, err := cleanPath("path", opt.Path, true)
	if err != nil {
		return nil, err
	}
	if err := checkSignature(&opt.Committer); err != nil {
		return nil, err
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	opt.Limits = opt.Limits.or(DefaultLimits)
	ep, err := transport.NewEndpoint(opt.URL)
	if err != nil {
		return nil, fmt.Errorf("checking repository URL %s: %w: %v", quote(gitremote.RedactURL(opt.URL)), ErrInvalid, err)
	}
	st := &storage{Storage: memory.NewStorage(), limits: opt.Limits, drain: ep.Protocol == "file"}
	repo, err := git.Init(st, nil)
	if err != nil {
		return nil, fmt.Errorf("making a repository in memory: %w", err)
	}
	_, err = repo.CreateRemote(&config.RemoteConfig{Name: remoteName, URLs: []string{opt.URL}, Fetch: []config.RefSpec{trackingSpec(branch)}})
	if err != nil {
		return nil, fmt.Errorf("adding remote %s: %w", gitremote.RedactURL(opt.URL), err)
	}
	return &Repo{
		opt: opt, dir: dir, branch: branch, store: st, repo: repo, rep: progress.Or(opt.Progress),
		where: fmt.Sprintf("%s (branch %s)", gitremote.RedactURL(opt.URL), opt.Branch),
	}, nil
}

// checkURL refuses an empty URL and one that holds credentials: a URL is
// written in slipway.yaml and shown in messages.
func checkURL(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return fmt.Errorf("checking the repository URL: %w: it is empty", ErrInvalid)
	}
	ep, err := transport.NewEndpoint(raw)
	if err != nil {
		return fmt.Errorf("checking repository URL %s: %w: %v", quote(gitremote.RedactURL(raw)), ErrInvalid, err)
	}
	web := ep.Protocol == "http" || ep.Protocol == "https"
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		_, hasPassword := u.User.Password()
		web = web || hasPassword
	}
	if ep.Password != "" || (web && ep.User != "") {
		return fmt.Errorf("checking repository URL %s: %w: it holds credentials; remove them and %s", quote(gitremote.RedactURL(raw)), ErrInvalid, gitremote.HTTPHint)
	}
	return nil
}

// checkSignature fills in the default committer and refuses one that
// would break a commit's header.
func checkSignature(s *Signature) error {
	if s.Name == "" {
		s.Name = DefaultName
	}
	if s.Email == "" {
		s.Email = DefaultEmail
	}
	for _, v := range []string{s.Name, s.Email} {
		if len(v) > maxText || !printable(v, false) || strings.ContainsAny(v, "<>") {
			return fmt.Errorf("checking committer %s: %w: names and emails are one line of printable text without '<' or '>'", quote(v), ErrInvalid)
		}
	}
	return nil
}

// trackingSpec fetches branch, and only it, to its remote-tracking ref.
func trackingSpec(branch plumbing.ReferenceName) config.RefSpec {
	return config.RefSpec(fmt.Sprintf("+%s:%s", branch, tracking(branch)))
}

// tracking is the remote-tracking ref of branch.
func tracking(branch plumbing.ReferenceName) plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(remoteName, branch.Short())
}

// timeout bounds one fetch or push.
func (r *Repo) timeout(ctx context.Context) time.Duration {
	if r.opt.Limits.Timeout > 0 {
		return r.opt.Limits.Timeout
	}
	return gitremote.OperationLimit(ctx)
}

// fetch fetches the branch with depth commits of history and sets base
// to its head, zero when the repository or the branch is empty.
func (r *Repo) fetch(ctx context.Context, depth int) error {
	err := r.fetchOnly(ctx, depth)
	if err != nil {
		return err
	}
	ref, err := r.repo.Reference(tracking(r.branch), true)
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		r.base = plumbing.ZeroHash
	case err != nil:
		return fmt.Errorf("fetching %s: reading what was fetched: %w", r.where, err)
	default:
		r.base = ref.Hash()
	}
	if len(r.pending) == 0 {
		r.head = r.base
	}
	return nil
}

// deepen fetches depth commits of history below the branch's head, and
// leaves base where it was even when the branch has moved since: history
// is read below the head that was fetched first.
func (r *Repo) deepen(ctx context.Context, depth int) error {
	if err := r.fetchOnly(ctx, depth); err != nil {
		return err
	}
	if r.base.IsZero() {
		return nil
	}
	if err := r.store.SetReference(plumbing.NewHashReference(tracking(r.branch), r.base)); err != nil {
		return fmt.Errorf("fetching %s: %w", r.where, err)
	}
	return nil
}

// fetchOnly fetches the branch with depth commits of history into the
// remote-tracking ref, which it removes when the repository or the branch
// is empty.
func (r *Repo) fetchOnly(ctx context.Context, depth int) error {
	limit := r.timeout(ctx)
	fctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	err := r.repo.FetchContext(fctx, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{trackingSpec(r.branch)},
		Depth:      depth,
		Auth:       r.creds.Method,
		Tags:       git.NoTags,
		Force:      true,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, transport.ErrEmptyRemoteRepository), errors.Is(err, git.NoMatchingRefSpecError{}):
		if err := r.store.RemoveReference(tracking(r.branch)); err != nil {
			return fmt.Errorf("fetching %s: %w", r.where, err)
		}
	default:
		return r.netError(ctx, fctx, "fetching", limit, err)
	}
	r.depth = max(r.depth, depth)
	return nil
}

// netError says why talking to the remote failed, and what to do, without
// a credential and quoting at most gitremote.MaxQuote bytes of what the
// remote said.
func (r *Repo) netError(ctx, opCtx context.Context, doing string, limit time.Duration, err error) error {
	q := gitremote.Quote(err, r.creds.Secrets)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s %s: %w", doing, r.where, ctx.Err())
	case opCtx.Err() != nil:
		return remedy.With(fmt.Errorf("%s %s: %w: no answer within %s", doing, r.where, gitremote.ErrTimeout, limit), remedy.Remedy{Kind: remedy.RaisePushTimeout})
	case errors.Is(err, deadline.ErrTimeout):
		return remedy.With(fmt.Errorf("%s %s: %w: %w", doing, r.where, gitremote.ErrTimeout, q), remedy.Remedy{Kind: remedy.RaisePushTimeout})
	case gitremote.IsAuthError(err):
		return fmt.Errorf("%s %s: %w: %s: %w", doing, r.where, gitremote.ErrAuth, r.creds.Hint, q)
	case errors.Is(err, transport.ErrRepositoryNotFound) && r.creds.Hint != "":
		return fmt.Errorf("%s %s: %w (or your credentials cannot see it: %s)", doing, r.where, q, r.creds.Hint)
	}
	return fmt.Errorf("%s %s: %w", doing, r.where, q)
}

// Head is the commit the remote branch was at when last fetched or
// pushed, "" when it has none.
func (r *Repo) Head() string {
	if r.base.IsZero() {
		return ""
	}
	return r.base.String()
}

// ReadFile returns the content of the file name, relative to the
// environment's path, at the head with any commits not yet pushed. A file
// that is not there, or is not a regular file, is an error wrapping
// ErrNotFound.
func (r *Repo) ReadFile(name string) ([]byte, error) {
	p, err := cleanPath("file", name, false)
	if err != nil {
		return nil, err
	}
	full := path.Join(r.dir, p)
	tree, err := r.treeOf(r.head)
	if err != nil {
		return nil, err
	}
	e, err := lookup(r.loadTree, tree, full)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", quote(full), err)
	}
	if !e.exists() || (e.Mode != filemode.Regular && e.Mode != filemode.Executable) {
		return nil, fmt.Errorf("reading %s at %s: %w: no such file", quote(full), short(r.head), ErrNotFound)
	}
	b, err := r.repo.BlobObject(e.Hash)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", quote(full), err)
	}
	if b.Size > r.opt.Limits.Object {
		return nil, fmt.Errorf("reading %s: %w: %d bytes, more than %d", quote(full), gitremote.ErrTooLarge, b.Size, r.opt.Limits.Object)
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", quote(full), err)
	}
	defer rd.Close()
	data, err := io.ReadAll(io.LimitReader(rd, r.opt.Limits.Object))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", quote(full), err)
	}
	return data, nil
}

// loadTree reads a tree object from memory.
func (r *Repo) loadTree(h plumbing.Hash) (*object.Tree, error) {
	t, err := r.repo.TreeObject(h)
	if err != nil {
		return nil, fmt.Errorf("reading tree %s: %w", short(h), err)
	}
	return t, nil
}

// treeOf returns the root tree of commit h, zero for a zero h.
func (r *Repo) treeOf(h plumbing.Hash) (plumbing.Hash, error) {
	if h.IsZero() {
		return plumbing.ZeroHash, nil
	}
	c, err := r.repo.CommitObject(h)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading commit %s: %w", short(h), err)
	}
	return c.TreeHash, nil
}

// short is the first 12 hex digits of h, "(none)" for zero.
func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "(none)"
	}
	return h.String()[:12]
}
