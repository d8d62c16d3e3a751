package release

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/progress"
)

// maxDirtyListed is how many changed files a dirty-tree error names.
const maxDirtyListed = 10

// Options says what release to make. Prefix is used as given ("" means
// tags without a prefix); the configuration's default is "v".
type Options struct {
	// Dir is a directory inside the repository; "" is the current one.
	Dir string
	// Prefix comes before the version in tag names, e.g. "v" or "billing/v".
	Prefix string
	// Paths, when set, limit the commits that count to those touching them.
	Paths []string
	// Bump is "auto" (or ""), "major", "minor" or "patch", as slipway.yaml
	// writes it; Release reads it with ParseBumpSpec.
	Bump string
	// DefaultBump is what auto uses when no commit is releasable;
	// BumpNone means BumpPatch.
	DefaultBump Bump
	// Pre is a pre-release id such as "rc"; "" makes a final release.
	Pre string
	// Version is an explicit version, with or without Prefix; it takes the
	// place of the bump.
	Version string
	// Initial is the first version when there is no release tag; "" is 0.1.0.
	Initial string
	// AllowDirty releases even with uncommitted changes.
	AllowDirty bool
	// DryRun plans and checks everything but writes nothing.
	DryRun bool
	// Push pushes the tag to Remote.
	Push bool
	// Remote is the remote name, URL or path to push to; "" is origin.
	Remote string
	// Message is the annotated tag's message; "" is "Release TAG".
	Message string
	// Auth chooses push credentials; the zero value finds them.
	Auth gitremote.Auth
	// Progress receives progress events; nil discards them.
	Progress progress.Reporter
}

// Result is what Release did, or with DryRun would do.
type Result struct {
	Version  string `json:"version"`
	Tag      string `json:"tag"`
	Previous string `json:"previous,omitempty"`
	Commit   string `json:"commit"`
	Bump     string `json:"bump"`
	Created  bool   `json:"created"`
	Pushed   bool   `json:"pushed"`
	UpToDate bool   `json:"upToDate"`
	DryRun   bool   `json:"dryRun"`
}

// Release tags HEAD with the next version and, with Push, pushes that tag
// alone. It refuses a dirty working tree unless AllowDirty, in a dry run too,
// so that a dry run predicts the real one. When a release already covers
// HEAD it does nothing (but still pushes the existing tag with Push). If the
// push fails the new local tag is deleted again, so nothing is half done.
// With DryRun nothing is written.
func Release(ctx context.Context, opt Options) (Result, error) {
	rep := progress.Or(opt.Progress)
	r, st, in, err := openInput(opt.Dir, opt.Prefix, opt.Paths, opt.Bump, opt.DefaultBump, opt.Initial, !opt.AllowDirty)
	if err != nil {
		return Result{}, err
	}
	in.Pre, in.Version = opt.Pre, stripPrefix(opt.Version, opt.Prefix)
	plan, err := PlanRelease(in)
	if err != nil {
		return Result{}, err
	}

	res := Result{Commit: st.Head.Hash, Bump: plan.Bump.String(), DryRun: opt.DryRun}
	if plan.Previous != nil {
		res.Previous = plan.Previous.Name
	}
	if plan.UpToDate {
		res.UpToDate = true
		res.Tag, res.Version = plan.Existing.Name, plan.Existing.Version.String()
		rep.Report(progress.Event{Kind: progress.Info, Step: "release", Msg: res.Tag + " already covers " + st.Head.Short})
		if opt.Push && !opt.DryRun {
			if err := r.push(ctx, rep, opt, res.Tag); err != nil {
				return Result{}, err
			}
			res.Pushed = true
		}
		return res, nil
	}

	res.Version, res.Tag = plan.Next.String(), TagName(opt.Prefix, plan.Next)
	at, err := r.tagCommit(res.Tag)
	if err != nil {
		return Result{}, err
	}
	if at != "" {
		return Result{}, fmt.Errorf("checking tag %s: %w on commit %.7s, which HEAD does not contain; merge that history or choose another version", res.Tag, ErrTagExists, at)
	}
	if opt.DryRun {
		rep.Report(progress.Event{Kind: progress.Info, Step: "release", Msg: "would tag " + st.Head.Short + " " + res.Tag})
		return res, nil
	}
	if err := r.tagAndPush(ctx, rep, opt, st.Head, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}

// openInput opens the repository at dir, checks that its working tree is
// clean when clean says so, and reads the Input of a release from it.
func openInput(dir, prefix string, paths []string, bump string, def Bump, initial string, clean bool) (*Repo, State, Input, error) {
	r, err := Open(dir)
	if err != nil {
		return nil, State{}, Input{}, err
	}
	if clean {
		if err := r.checkClean(); err != nil {
			return nil, State{}, Input{}, err
		}
	}
	st, err := r.State(prefix, paths)
	if err != nil {
		return nil, State{}, Input{}, err
	}
	in, err := input(st, prefix, bump, def, initial)
	if err != nil {
		return nil, State{}, Input{}, err
	}
	return r, st, in, nil
}

// tagAndPush tags head res.Tag with opt.Message (default "Release TAG")
// and, with opt.Push, pushes it, deleting the tag again when the push
// fails.
func (r *Repo) tagAndPush(ctx context.Context, rep progress.Reporter, opt Options, head Commit, res *Result) error {
	rep.Report(progress.Event{Kind: progress.Info, Step: "tag", Msg: "tagging " + head.Short + " " + res.Tag})
	msg := opt.Message
	if strings.TrimSpace(msg) == "" {
		msg = "Release " + res.Tag
	}
	if err := r.CreateTag(res.Tag, head, msg, Signature{}); err != nil {
		return err
	}
	res.Created = true
	rep.Report(progress.Event{Kind: progress.Info, Step: "tag", Msg: "tagged " + head.Short + " " + res.Tag})
	if !opt.Push {
		return nil
	}
	if err := r.push(ctx, rep, opt, res.Tag); err != nil {
		if derr := r.DeleteTag(res.Tag); derr != nil {
			return errors.Join(err, fmt.Errorf("undoing the release: %w; delete it with git tag -d %s", derr, res.Tag))
		}
		return err
	}
	res.Pushed = true
	return nil
}

// push pushes tag to opt.Remote, reporting progress.
func (r *Repo) push(ctx context.Context, rep progress.Reporter, opt Options, tag string) error {
	remote := cmp.Or(opt.Remote, "origin")
	rep.Report(progress.Event{Kind: progress.Info, Step: "push", Msg: "pushing " + tag + " to " + gitremote.RedactURL(remote)})
	if err := r.PushTag(ctx, remote, tag, opt.Auth); err != nil {
		return err
	}
	rep.Report(progress.Event{Kind: progress.Finish, Step: "push", Msg: "pushed " + tag + " to " + gitremote.RedactURL(remote)})
	return nil
}

// checkClean returns an error wrapping ErrDirty, naming the changed files,
// when the working tree has uncommitted changes.
func (r *Repo) checkClean() error {
	files, err := r.Dirty()
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return nil
	}
	return fmt.Errorf("checking working tree of %s: %w: %s; commit or stash them first", r.Root(), ErrDirty, listFiles(files, maxDirtyListed))
}

// listFiles joins up to n file names, saying how many more there are.
func listFiles(files []string, n int) string {
	if len(files) <= n {
		return strings.Join(files, ", ")
	}
	return fmt.Sprintf("%s (%d more)", strings.Join(files[:n], ", "), len(files)-n)
}

// input builds the Input shared by Release and Version.
func input(st State, prefix, bump string, def Bump, initial string) (Input, error) {
	in := st.Input()
	b, err := ParseBumpSpec(bump)
	if err != nil {
		return Input{}, err
	}
	in.Bump, in.DefaultBump = b, def
	if initial != "" {
		v, err := semver.StrictNewVersion(stripPrefix(initial, prefix))
		if err != nil {
			return Input{}, fmt.Errorf("parsing initial version %q: %w: want X.Y.Z", initial, ErrInvalid)
		}
		in.Initial = v
	}
	return in, nil
}

// stripPrefix removes the tag prefix from a version written as a tag.
func stripPrefix(s, prefix string) string {
	if _, err := semver.StrictNewVersion(s); err == nil || prefix == "" {
		return s
	}
	return strings.TrimPrefix(s, prefix)
}

// VersionOptions says how to compute the version of HEAD.
type VersionOptions struct {
	// Dir is a directory inside the repository; "" is the current one.
	Dir string
	// Prefix comes before the version in tag names, used as given.
	Prefix string
	// Paths, when set, limit the commits that count to those touching them.
	Paths []string
	// Bump is "auto" (or ""), "major", "minor" or "patch", as slipway.yaml
	// writes it; Version reads it with ParseBumpSpec.
	Bump string
	// DefaultBump is what auto uses when no commit is releasable;
	// BumpNone means BumpPatch.
	DefaultBump Bump
	// Initial is the first version when there is no release tag; "" is 0.1.0.
	Initial string
	// Suffix marks unreleased versions; "" is SNAPSHOT.
	Suffix string
}

// Info is the version of HEAD.
type Info struct {
	Version      string `json:"version"`
	Tag          string `json:"tag"`
	Commit       string `json:"commit"`
	ShortCommit  string `json:"shortCommit"`
	Dirty        bool   `json:"dirty"`
	CommitsSince int    `json:"commitsSinceTag"`
	Snapshot     bool   `json:"snapshot"`
	// CommitTime is HEAD's committer time: the time reproducible builds
	// stamp on their files.
	CommitTime time.Time `json:"commitTime"`
	// Source is the web address of the repository's origin remote, without
	// credentials; empty when there is none.
	Source string `json:"source,omitempty"`
}

// Version returns the version of HEAD as Describe computes it, with the
// commit, whether the working tree is dirty and how many relevant commits
// came since the last release tag. It only reads.
func Version(opt VersionOptions) (Info, error) {
	r, st, in, err := openInput(opt.Dir, opt.Prefix, opt.Paths, opt.Bump, opt.DefaultBump, opt.Initial, false)
	if err != nil {
		return Info{}, err
	}
	d, err := Describe(in, opt.Suffix)
	if err != nil {
		return Info{}, err
	}
	dirty, err := r.Dirty()
	if err != nil {
		return Info{}, err
	}
	return Info{
		Version:      d.Version.String(),
		Tag:          d.Tag,
		Commit:       st.Head.Hash,
		ShortCommit:  st.Head.Short,
		Dirty:        len(dirty) > 0,
		CommitsSince: st.CommitsSince,
		Snapshot:     d.Snapshot,
		CommitTime:   st.Head.Time.UTC(),
		Source:       r.SourceURL("origin"),
	}, nil
}
