package release

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Repo is a git repository read and tagged with go-git; no git binary is
// needed.
type Repo struct {
	repo *git.Repository
	root string
}

// Commit is a commit: its hash, the first 7 hex digits of it, its committer
// time and its message.
type Commit struct {
	Hash    string
	Short   string
	Time    time.Time
	Message string
}

// Signature is who made a tag and when.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Fallback tagger when git has no identity configured.
const (
	DefaultTaggerName  = "slipway"
	DefaultTaggerEmail = "slipway@localhost"
)

// Open opens the git repository that contains dir ("" is the current
// directory), looking upward for it like git does.
func Open(dir string) (*Repo, error) {
	dir = cmp.Or(dir, ".")
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("opening repository at %s: %w", dir, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("opening repository at %s: %w", abs, err)
	}
	repo, err := git.PlainOpenWithOptions(abs, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("opening repository at %s: %w (run git init, or use a directory inside a clone)", abs, ErrNotRepo)
	}
	if err != nil {
		return nil, fmt.Errorf("opening repository at %s: %w", abs, err)
	}
	root := abs
	if wt, err := repo.Worktree(); err == nil {
		root = wt.Filesystem.Root()
	}
	return &Repo{repo: repo, root: root}, nil
}

// Root returns the top directory of the working tree (for a bare
// repository, the directory it was opened from).
func (r *Repo) Root() string { return r.root }

// Head returns the commit HEAD points at, on a branch or detached.
func (r *Repo) Head() (Commit, error) {
	ref, err := r.repo.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return Commit{}, fmt.Errorf("reading HEAD in %s: %w: make a first commit", r.root, ErrNoCommits)
	}
	if err != nil {
		return Commit{}, fmt.Errorf("reading HEAD in %s: %w", r.root, err)
	}
	c, err := r.repo.CommitObject(ref.Hash())
	if err != nil {
		return Commit{}, fmt.Errorf("reading HEAD commit %s: %w", ref.Hash(), err)
	}
	return commitOf(c), nil
}

// commitOf converts a go-git commit.
func commitOf(c *object.Commit) Commit {
	h := c.Hash.String()
	return Commit{Hash: h, Short: h[:7], Time: c.Committer.When, Message: c.Message}
}

// Dirty lists, sorted, the files with changes not committed: staged,
// modified, deleted or untracked, leaving out files that .gitignore,
// .git/info/exclude or the global excludes file ignore.
func (r *Repo) Dirty() ([]string, error) {
	wt, err := r.repo.Worktree()
	if err != nil {
		return nil, fmt.Errorf("reading working tree of %s: %w", r.root, err)
	}
	root := osfs.New("/")
	if ps, err := gitignore.LoadGlobalPatterns(root); err == nil && len(ps) > 0 {
		wt.Excludes = append(wt.Excludes, ps...)
	} else {
		wt.Excludes = append(wt.Excludes, defaultGlobalExcludes()...)
	}
	if ps, err := gitignore.LoadSystemPatterns(root); err == nil {
		wt.Excludes = append(wt.Excludes, ps...)
	}
	st, err := wt.Status()
	if err != nil {
		return nil, fmt.Errorf("reading status of %s: %w", r.root, err)
	}
	var files []string
	for name, s := range st {
		if (s.Staging != git.Unmodified || s.Worktree != git.Unmodified) && !slipwayOutput(name) {
			files = append(files, name)
		}
	}
	slices.Sort(files)
	return files, nil
}

// slipwayOutput reports whether name lies in a .slipway directory, Slipway's
// own output, which never makes the tree dirty (a build then a release must
// not refuse its own work).
func slipwayOutput(name string) bool {
	for _, seg := range strings.Split(filepath.ToSlash(name), "/") {
		if seg == ".slipway" {
			return true
		}
	}
	return false
}

// defaultGlobalExcludes reads $XDG_CONFIG_HOME/git/ignore (or
// ~/.config/git/ignore), which git uses when core.excludesFile is not set.
func defaultGlobalExcludes() []gitignore.Pattern {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		dir = filepath.Join(home, ".config")
	}
	data, err := os.ReadFile(filepath.Join(dir, "git", "ignore"))
	if err != nil {
		return nil
	}
	var ps []gitignore.Pattern
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, nil))
	}
	return ps
}

// State is what the history from HEAD says about releases.
type State struct {
	// Head is the commit HEAD points at.
	Head Commit
	// Tags are the release tags reachable from HEAD, sorted by version.
	Tags []TagInfo
	// HeadTags are the Tags on HEAD.
	HeadTags []TagInfo
	// Messages are the messages of the relevant commits reachable from HEAD
	// but not from the highest final release tag, newest first.
	Messages []string
	// CommitsSince counts the relevant commits reachable from HEAD but not
	// from the highest release tag of any kind; all of them when there is
	// no release tag.
	CommitsSince int
	// Shallow says the repository is a shallow clone.
	Shallow bool
}

// Input returns an Input with the repository half filled in.
func (s State) Input() Input {
	return Input{Tags: s.Tags, HeadTags: s.HeadTags, Messages: s.Messages}
}

// State reads the release tags (lightweight and annotated) named prefix
// followed by a version and reachable from HEAD through any parent, and the
// commits since the last ones. With paths (relative to the repository root),
// only commits that change something under one of them count; a merge counts
// only when it differs from every parent there, as git log -- paths does.
//
// In a shallow clone whose history ends before any final release tag, State
// returns an error wrapping ErrShallow.
func (r *Repo) State(prefix string, paths []string) (State, error) {
	fast, done := r.forWalking()
	defer done()
	return fast.state(prefix, paths)
}

// forWalking returns a Repo that reads the same objects with packfiles kept
// open, which makes reading thousands of objects several times faster, and
// a function to call when done with it.
func (r *Repo) forWalking() (*Repo, func()) {
	fs, ok := r.repo.Storer.(*filesystem.Storage)
	if !ok {
		return r, func() {}
	}
	s := filesystem.NewStorageWithOptions(fs.Filesystem(), cache.NewObjectLRUDefault(), filesystem.Options{KeepDescriptors: true})
	repo, err := git.Open(s, nil)
	if err != nil {
		_ = s.Close()
		return r, func() {}
	}
	return &Repo{repo: repo, root: r.root}, func() { _ = s.Close() }
}

// state is State on a Repo from forWalking.
func (r *Repo) state(prefix string, paths []string) (State, error) {
	head, err := r.Head()
	if err != nil {
		return State{}, err
	}
	ps, err := cleanPaths(paths)
	if err != nil {
		return State{}, err
	}
	byCommit, err := r.releaseTags(prefix)
	if err != nil {
		return State{}, err
	}
	shallow, err := r.shallowSet()
	if err != nil {
		return State{}, err
	}
	g, err := r.walk(plumbing.NewHash(head.Hash), shallow)
	if err != nil {
		return State{}, err
	}

	st := State{Head: head, Shallow: len(shallow) > 0}
	for _, h := range g.order {
		st.Tags = append(st.Tags, byCommit[h]...)
	}
	slices.SortFunc(st.Tags, func(a, b TagInfo) int {
		return cmp.Or(a.Version.Compare(b.Version), strings.Compare(a.Name, b.Name))
	})
	st.HeadTags = append(st.HeadTags, byCommit[plumbing.NewHash(head.Hash)]...)
	slices.SortFunc(st.HeadTags, func(a, b TagInfo) int { return a.Version.Compare(b.Version) })

	lastFinal, lastAny := highest(st.Tags, isFinal), highest(st.Tags, nil)
	if g.boundary && lastFinal == nil {
		return State{}, fmt.Errorf("reading history of %s: %w: no %s release tag in the %d commits fetched; run git fetch --unshallow --tags",
			r.root, ErrShallow, describePrefix(prefix), len(g.order))
	}
	rel := &relevance{r: r, paths: ps, sigs: map[plumbing.Hash][]entrySig{}}
	st.CommitsSince, st.Messages, err = r.since(g, rel, g.notReachableFrom(lastFinal), g.notReachableFrom(lastAny))
	if err != nil {
		return State{}, err
	}
	return st, nil
}

// since counts the relevant commits of g since the last release tag
// (sinceAny), and lists the messages of those since the last final one
// (sinceFinal), newest first.
func (r *Repo) since(g *graph, rel *relevance, sinceFinal, sinceAny func(plumbing.Hash) bool) (n int, messages []string, err error) {
	type msg struct {
		when time.Time
		hash plumbing.Hash
		text string
	}
	var msgs []msg
	for _, h := range g.order {
		if !sinceFinal(h) && !sinceAny(h) {
			continue
		}
		ok, err := rel.touches(h, g.parents[h])
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			continue
		}
		if sinceAny(h) {
			n++
		}
		if sinceFinal(h) {
			c, err := r.repo.CommitObject(h)
			if err != nil {
				return 0, nil, fmt.Errorf("reading commit %s: %w", h, err)
			}
			msgs = append(msgs, msg{c.Committer.When, h, c.Message})
		}
	}
	slices.SortFunc(msgs, func(a, b msg) int {
		return cmp.Or(b.when.Compare(a.when), strings.Compare(a.hash.String(), b.hash.String()))
	})
	for _, m := range msgs {
		messages = append(messages, m.text)
	}
	return n, messages, nil
}

// describePrefix names a tag prefix in messages.
func describePrefix(prefix string) string {
	if prefix == "" {
		return "unprefixed"
	}
	return prefix + "X.Y.Z"
}

// releaseTags reads every tag named prefix+version and maps the commit it
// points at (through annotated tag objects) to it. Tags that point at
// something other than a commit, or at objects not present, are left out.
func (r *Repo) releaseTags(prefix string) (map[plumbing.Hash][]TagInfo, error) {
	iter, err := r.repo.Tags()
	if err != nil {
		return nil, fmt.Errorf("listing tags: %w", err)
	}
	out := map[plumbing.Hash][]TagInfo{}
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		name := strings.TrimPrefix(ref.Name().String(), "refs/tags/")
		v, ok := ParseTag(name, prefix)
		if !ok || ref.Type() != plumbing.HashReference {
			return nil
		}
		h, ok, err := r.peel(ref.Hash())
		if err != nil {
			return fmt.Errorf("resolving tag %s: %w", name, err)
		}
		if ok {
			out[h] = append(out[h], TagInfo{Name: name, Version: v, Commit: h.String()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing tags: %w", err)
	}
	return out, nil
}

// peel follows annotated tags from h to a commit.
func (r *Repo) peel(h plumbing.Hash) (plumbing.Hash, bool, error) {
	for range 10 {
		obj, err := r.repo.Storer.EncodedObject(plumbing.AnyObject, h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return plumbing.ZeroHash, false, nil
		}
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return h, true, nil
		case plumbing.TagObject:
			var t object.Tag
			if err := t.Decode(obj); err != nil {
				return plumbing.ZeroHash, false, err
			}
			h = t.Target
		default:
			return plumbing.ZeroHash, false, nil
		}
	}
	return plumbing.ZeroHash, false, nil
}

// shallowSet returns the commits whose parents a shallow clone left out.
func (r *Repo) shallowSet() (map[plumbing.Hash]bool, error) {
	hs, err := r.repo.Storer.Shallow()
	if err != nil {
		return nil, fmt.Errorf("reading shallow commits: %w", err)
	}
	set := make(map[plumbing.Hash]bool, len(hs))
	for _, h := range hs {
		set[h] = true
	}
	return set, nil
}

// graph is the history reachable from a commit: each commit's parents, in
// the order the walk met them.
type graph struct {
	parents  map[plumbing.Hash][]plumbing.Hash
	order    []plumbing.Hash
	boundary bool // the walk stopped at a shallow commit
}

// walk reads every commit reachable from head once, stopping at the edge of
// a shallow clone.
func (r *Repo) walk(head plumbing.Hash, shallow map[plumbing.Hash]bool) (*graph, error) {
	g := &graph{parents: map[plumbing.Hash][]plumbing.Hash{}}
	seen := map[plumbing.Hash]bool{head: true}
	stack := []plumbing.Hash{head}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		g.order = append(g.order, h)
		if shallow[h] {
			g.boundary = true
			continue
		}
		c, err := r.repo.CommitObject(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) && len(shallow) > 0 {
			g.boundary = true
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading commit %s: %w", h, err)
		}
		g.parents[h] = c.ParentHashes
		// Push parents in reverse so the first parent is walked first.
		for i := len(c.ParentHashes) - 1; i >= 0; i-- {
			if p := c.ParentHashes[i]; !seen[p] {
				seen[p] = true
				stack = append(stack, p)
			}
		}
	}
	return g, nil
}

// notReachableFrom returns a test for commits not reachable from t's commit
// (all commits when t is nil).
func (g *graph) notReachableFrom(t *TagInfo) func(plumbing.Hash) bool {
	if t == nil {
		return func(plumbing.Hash) bool { return true }
	}
	start := plumbing.NewHash(t.Commit)
	in := map[plumbing.Hash]bool{start: true}
	stack := []plumbing.Hash{start}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, p := range g.parents[h] {
			if !in[p] {
				in[p] = true
				stack = append(stack, p)
			}
		}
	}
	return func(h plumbing.Hash) bool { return !in[h] }
}

// cleanPaths turns monorepo paths into slash-separated paths relative to the
// repository root; "" stands for the whole tree. No paths means everything.
func cleanPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		c := path.Clean(filepath.ToSlash(strings.TrimSpace(p)))
		c = strings.TrimPrefix(c, "/")
		if c == "." || c == "" {
			return nil, nil
		}
		if c == ".." || strings.HasPrefix(c, "../") {
			return nil, fmt.Errorf("checking path %q: %w: paths must be inside the repository", p, ErrInvalid)
		}
		out = append(out, c)
	}
	return out, nil
}

// entrySig is what a path holds in one commit: zero when absent.
type entrySig struct {
	hash plumbing.Hash
	mode filemode.FileMode
}

// relevance decides which commits touch paths, caching each commit's view.
type relevance struct {
	r     *Repo
	paths []string
	sigs  map[plumbing.Hash][]entrySig
}

// touches reports whether commit h, with the given parents, changes
// anything under the paths: against its only parent, against nothing for a
// root commit, and against every parent for a merge. Without paths every
// commit touches. A parent missing from a shallow clone counts as different.
func (rl *relevance) touches(h plumbing.Hash, parents []plumbing.Hash) (bool, error) {
	if len(rl.paths) == 0 {
		return true, nil
	}
	mine, ok, err := rl.sig(h)
	if err != nil || !ok {
		return ok, err
	}
	if len(parents) == 0 {
		for _, s := range mine {
			if !s.hash.IsZero() {
				return true, nil
			}
		}
		return false, nil
	}
	for _, p := range parents {
		theirs, ok, err := rl.sig(p)
		if err != nil {
			return false, err
		}
		if ok && equalSigs(mine, theirs) {
			return false, nil
		}
	}
	return true, nil
}

// equalSigs compares two views of the same paths.
func equalSigs(a, b []entrySig) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sig returns what each path holds in commit h; ok is false when the
// commit is not in a shallow clone.
func (rl *relevance) sig(h plumbing.Hash) ([]entrySig, bool, error) {
	if s, ok := rl.sigs[h]; ok {
		return s, s != nil, nil
	}
	c, err := rl.r.repo.CommitObject(h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		rl.sigs[h] = nil
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading commit %s: %w", h, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, false, fmt.Errorf("reading tree of commit %s: %w", h, err)
	}
	s := make([]entrySig, len(rl.paths))
	for i, p := range rl.paths {
		if s[i], err = rl.r.lookup(tree, p); err != nil {
			return nil, false, fmt.Errorf("reading %s in commit %s: %w", p, h, err)
		}
	}
	rl.sigs[h] = s
	return s, true, nil
}

// lookup returns what tree holds at the slash-separated path p.
func (r *Repo) lookup(tree *object.Tree, p string) (entrySig, error) {
	parts := strings.Split(p, "/")
	for i, name := range parts {
		var e *object.TreeEntry
		for j := range tree.Entries {
			if tree.Entries[j].Name == name {
				e = &tree.Entries[j]
				break
			}
		}
		if e == nil {
			return entrySig{}, nil
		}
		if i == len(parts)-1 {
			return entrySig{hash: e.Hash, mode: e.Mode}, nil
		}
		if e.Mode != filemode.Dir {
			return entrySig{}, nil
		}
		sub, err := r.repo.TreeObject(e.Hash)
		if err != nil {
			return entrySig{}, err
		}
		tree = sub
	}
	return entrySig{}, nil
}

// Tagger returns who tags: GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL, else
// committer or user name and email from git config (repository, global,
// then system), else slipway <slipway@localhost>. When is left zero.
func (r *Repo) Tagger() Signature {
	s := Signature{Name: os.Getenv("GIT_COMMITTER_NAME"), Email: os.Getenv("GIT_COMMITTER_EMAIL")}
	if s.Name == "" || s.Email == "" {
		cfg := r.config()
		s.Name = cmp.Or(s.Name, cfg.Committer.Name, cfg.User.Name, DefaultTaggerName)
		s.Email = cmp.Or(s.Email, cfg.Committer.Email, cfg.User.Email, DefaultTaggerEmail)
	}
	return s
}

// config returns the merged git config, as much of it as reads cleanly.
func (r *Repo) config() *config.Config {
	for _, scope := range []config.Scope{config.SystemScope, config.GlobalScope, config.LocalScope} {
		if cfg, err := r.repo.ConfigScoped(scope); err == nil {
			return cfg
		}
	}
	return config.NewConfig()
}

// CreateTag creates the annotated tag name on commit head. An empty
// tagger name or email comes from Tagger, a zero time is now, and an empty
// message is the tag name.
func (r *Repo) CreateTag(name string, head Commit, message string, tagger Signature) error {
	if !plumbing.IsHash(head.Hash) {
		return fmt.Errorf("creating tag %s: %w: commit %q is not a full hash", name, ErrInvalid, head.Hash)
	}
	if tagger.Name == "" || tagger.Email == "" {
		def := r.Tagger()
		tagger.Name = cmp.Or(tagger.Name, def.Name)
		tagger.Email = cmp.Or(tagger.Email, def.Email)
	}
	if tagger.When.IsZero() {
		tagger.When = time.Now()
	}
	if strings.TrimSpace(message) == "" {
		message = name
	}
	_, err := r.repo.CreateTag(name, plumbing.NewHash(head.Hash), &git.CreateTagOptions{
		Tagger:  &object.Signature{Name: tagger.Name, Email: tagger.Email, When: tagger.When},
		Message: message,
	})
	switch {
	case errors.Is(err, git.ErrTagExists):
		return fmt.Errorf("creating tag %s: %w", name, ErrTagExists)
	case errors.Is(err, plumbing.ErrInvalidReferenceName):
		return fmt.Errorf("creating tag %q: %w: not a valid tag name", name, ErrInvalid)
	case err != nil:
		return fmt.Errorf("creating tag %s: %w", name, err)
	}
	return nil
}

// DeleteTag deletes the local tag name.
func (r *Repo) DeleteTag(name string) error {
	if err := r.repo.DeleteTag(name); err != nil {
		return fmt.Errorf("deleting tag %s: %w", name, err)
	}
	return nil
}

// tagCommit returns the commit the local tag name points at, or "" when
// there is no such tag.
func (r *Repo) tagCommit(name string) (string, error) {
	ref, err := r.repo.Tag(name)
	if errors.Is(err, git.ErrTagNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading tag %s: %w", name, err)
	}
	h, ok, err := r.peel(ref.Hash())
	if err != nil || !ok {
		return ref.Hash().String(), err
	}
	return h.String(), nil
}
