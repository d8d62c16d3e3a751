package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"

	"github.com/slipwayhq/slipway/internal/deadline"
	"github.com/slipwayhq/slipway/internal/faultnet"
	"github.com/slipwayhq/slipway/internal/gitremote"
	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/testutil"
)

// releasedRepo is a repository with v1.0.0 and a feat commit after it.
func releasedRepo(t *testing.T) *testRepo {
	t.Helper()
	testutil.IsolateGitConfig(t)
	tr := newTestRepo(t)
	tr.annotated("v1.0.0", tr.Commit("feat: first", nil))
	tr.Commit("feat: second", nil)
	return tr
}

func TestReleaseFlow(t *testing.T) {
	tr := releasedRepo(t)
	_, remote := bareRemote(t, tr, "origin")
	ctx := context.Background()
	head := tr.Head().String()

	// A dry run predicts and writes nothing.
	got, err := Release(ctx, Options{Dir: tr.Dir, Prefix: "v", DryRun: true, Push: true})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Version: "1.1.0", Tag: "v1.1.0", Previous: "v1.0.0", Commit: head, Bump: "minor", DryRun: true}
	if got != want {
		t.Errorf("dry run = %+v, want %+v", got, want)
	}
	if tags := tr.tags(); !reflect.DeepEqual(tags, []string{"v1.0.0"}) {
		t.Errorf("tags after a dry run = %q", tags)
	}

	var events []progress.Event
	rep := progress.Func(func(e progress.Event) { events = append(events, e) })
	got, err = Release(ctx, Options{Dir: filepath.Join(tr.Dir), Prefix: "v", Push: true, Progress: rep})
	if err != nil {
		t.Fatal(err)
	}
	want = Result{Version: "1.1.0", Tag: "v1.1.0", Previous: "v1.0.0", Commit: head, Bump: "minor", Created: true, Pushed: true}
	if got != want {
		t.Errorf("release = %+v, want %+v", got, want)
	}
	if tags := refNames(t, remote, "refs/tags/"); !reflect.DeepEqual(tags, []string{"v1.1.0"}) {
		t.Errorf("remote tags = %q, want only v1.1.0", tags)
	}
	if heads := refNames(t, remote, "refs/heads/"); len(heads) != 0 {
		t.Errorf("remote branches = %q, want none", heads)
	}
	if len(events) == 0 || events[len(events)-1].Step != "push" || events[len(events)-1].Kind != progress.Finish {
		t.Errorf("progress events = %+v", events)
	}
	ref, _ := tr.Git.Tag("v1.1.0")
	if obj, err := tr.Git.TagObject(ref.Hash()); err != nil || obj.Message != "Release v1.1.0\n" || obj.Tagger.Name != DefaultTaggerName {
		t.Errorf("tag object = %+v, %v", obj, err)
	}

	// Again: up to date, and the tag is still on the remote.
	got, err = Release(ctx, Options{Dir: tr.Dir, Prefix: "v", Push: true})
	if err != nil {
		t.Fatal(err)
	}
	want = Result{Version: "1.1.0", Tag: "v1.1.0", Previous: "v1.1.0", Commit: head, Bump: "none", UpToDate: true, Pushed: true}
	if got != want {
		t.Errorf("second release = %+v, want %+v", got, want)
	}

	b, _ := json.Marshal(got)
	if !strings.Contains(string(b), `"upToDate":true`) {
		t.Errorf("JSON = %s", b)
	}
}

func TestReleaseOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  Options
		want string
		err  error
	}{
		{name: "pre-release", opt: Options{Pre: "rc"}, want: "v1.1.0-rc.1"},
		{name: "forced bump", opt: Options{Bump: "major"}, want: "v2.0.0"},
		{name: "forced version with prefix", opt: Options{Version: "v3.0.0"}, want: "v3.0.0"},
		{name: "forced version", opt: Options{Version: "3.0.0", Message: "Big one"}, want: "v3.0.0"},
		{name: "old forced version", opt: Options{Version: "0.9.0"}, err: ErrNotNewer},
		{name: "bad bump", opt: Options{Bump: "large"}, err: ErrInvalid},
		{name: "bad initial", opt: Options{Initial: "one"}, err: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := releasedRepo(t)
			tt.opt.Dir, tt.opt.Prefix = tr.Dir, "v"
			got, err := Release(context.Background(), tt.opt)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Release error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || got.Tag != tt.want || !got.Created {
				t.Fatalf("Release = %+v, %v; want %s", got, err, tt.want)
			}
			if _, err := tr.Git.Tag(tt.want); err != nil {
				t.Errorf("tag %s not created: %v", tt.want, err)
			}
		})
	}
}

func TestReleaseFirstAndInitial(t *testing.T) {
	testutil.IsolateGitConfig(t)
	tr := newTestRepo(t)
	tr.Commit("chore: init", nil)
	got, err := Release(context.Background(), Options{Dir: tr.Dir, Prefix: "v", DryRun: true})
	if err != nil || got.Tag != "v0.1.0" || got.Previous != "" || got.Bump != "none" {
		t.Errorf("first release = %+v, %v; want v0.1.0", got, err)
	}
	got, err = Release(context.Background(), Options{Dir: tr.Dir, Prefix: "app-", Initial: "app-1.0.0", DryRun: true})
	if err != nil || got.Tag != "app-1.0.0" {
		t.Errorf("first release with initial = %+v, %v; want app-1.0.0", got, err)
	}
}

func TestReleaseDirty(t *testing.T) {
	tr := releasedRepo(t)
	files := map[string]string{}
	for i := range 12 {
		files[fmt.Sprintf("new%02d.txt", i)] = "x"
	}
	tr.Write(files)
	for _, dry := range []bool{false, true} {
		_, err := Release(context.Background(), Options{Dir: tr.Dir, Prefix: "v", DryRun: dry})
		if !errors.Is(err, ErrDirty) {
			t.Fatalf("Release(DryRun=%v) on a dirty tree: error %v, want ErrDirty", dry, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "new00.txt, new01.txt") || !strings.Contains(msg, "new09.txt (2 more)") || strings.Contains(msg, "new10.txt") {
			t.Errorf("dirty error = %s", msg)
		}
	}
	if tags := tr.tags(); len(tags) != 1 {
		t.Errorf("tags after refusals = %q", tags)
	}
	got, err := Release(context.Background(), Options{Dir: tr.Dir, Prefix: "v", AllowDirty: true})
	if err != nil || !got.Created {
		t.Errorf("Release with AllowDirty = %+v, %v", got, err)
	}
}

// TestSlipwayOutputIsNotDirt holds that Slipway's own output (.slipway/ at
// any depth) never makes the tree dirty, even without a .gitignore entry.
func TestSlipwayOutputIsNotDirt(t *testing.T) {
	tr := releasedRepo(t)
	tr.Write(map[string]string{".slipway/build.json": "{}", ".slipway/oci/index.json": "{}", "services/api/.slipway/build.json": "{}"})
	got, err := Release(context.Background(), Options{Dir: tr.Dir, Prefix: "v", DryRun: true})
	if err != nil {
		t.Fatalf("Release with only .slipway output around: %v", err)
	}
	if got.Tag == "" {
		t.Errorf("no tag planned: %+v", got)
	}
	tr.Write(map[string]string{"x.slipway": "a file named like it is dirt"})
	if _, err := Release(context.Background(), Options{Dir: tr.Dir, Prefix: "v", DryRun: true}); !errors.Is(err, ErrDirty) {
		t.Errorf("err = %v, want ErrDirty for x.slipway", err)
	}
}

func TestReleasePushFailureLeavesNoTag(t *testing.T) {
	t.Run("missing remote repository", func(t *testing.T) {
		tr := releasedRepo(t)
		missing := filepath.Join(t.TempDir(), "nowhere.git")
		if _, err := tr.Git.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{"file://" + missing}}); err != nil {
			t.Fatal(err)
		}
		_, err := Release(context.Background(), Options{Dir: tr.Dir, Prefix: "v", Push: true})
		if err == nil || errors.Is(err, ErrTagExists) {
			t.Fatalf("Release pushing to a missing repository: error %v", err)
		}
		if tags := tr.tags(); !reflect.DeepEqual(tags, []string{"v1.0.0"}) {
			t.Errorf("tags after a failed push = %q, want only v1.0.0", tags)
		}
	})
	t.Run("someone else released first", func(t *testing.T) {
		tr := releasedRepo(t)
		dir, _ := bareRemote(t, tr, "origin")
		other := newTestRepo(t)
		other.Commit("feat: theirs", nil)
		other.annotated("v1.1.0", other.Head())
		if _, err := other.Git.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{dir}}); err != nil {
			t.Fatal(err)
		}
		if err := other.open().PushTag(context.Background(), "origin", "v1.1.0", gitremote.Auth{}); err != nil {
			t.Fatal(err)
		}
		_, err := Release(context.Background(), Options{Dir: tr.Dir, Prefix: "v", Push: true})
		if !errors.Is(err, ErrTagExists) {
			t.Fatalf("Release racing another release: error %v, want ErrTagExists", err)
		}
		if tags := tr.tags(); !reflect.DeepEqual(tags, []string{"v1.0.0"}) {
			t.Errorf("tags after a rejected push = %q, want only v1.0.0", tags)
		}
	})
	t.Run("a remote that never answers", func(t *testing.T) {
		tr := releasedRepo(t)
		silent := faultnet.Silent(t)
		if _, err := tr.Git.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{"http://" + silent + "/team/app.git"}}); err != nil {
			t.Fatal(err)
		}
		ctx := deadline.WithContext(context.Background(), deadline.Timeouts{Retries: 300 * time.Millisecond})
		var err error
		faultnet.Within(t, 20*time.Second, func() {
			_, err = Release(ctx, Options{Dir: tr.Dir, Prefix: "v", Push: true, Auth: gitremote.Auth{Helper: func(context.Context, *url.URL) (string, string, error) { return "", "", nil }}})
		})
		if !errors.Is(err, gitremote.ErrTimeout) || !strings.Contains(err.Error(), silent) || !strings.Contains(err.Error(), "no answer within 300ms") {
			t.Fatalf("err = %v, want ErrTimeout naming the remote", err)
		}
		if tags := tr.tags(); !reflect.DeepEqual(tags, []string{"v1.0.0"}) {
			t.Errorf("tags after a timed-out push = %q, want only v1.0.0", tags)
		}
	})
	t.Run("no such remote", func(t *testing.T) {
		tr := releasedRepo(t)
		if _, err := Release(context.Background(), Options{Dir: tr.Dir, Prefix: "v", Push: true, Remote: "upstream"}); err == nil {
			t.Fatal("Release pushing to an unknown remote: no error")
		}
		if tags := tr.tags(); len(tags) != 1 {
			t.Errorf("tags = %q", tags)
		}
	})
}

func TestReleaseTagOnOtherBranch(t *testing.T) {
	tr := releasedRepo(t)
	tr.branch("side")
	tr.annotated("v1.1.0", tr.Commit("feat: side", nil))
	tr.checkout("master")
	for _, dry := range []bool{true, false} {
		_, err := Release(context.Background(), Options{Dir: tr.Dir, Prefix: "v", DryRun: dry})
		if !errors.Is(err, ErrTagExists) || !strings.Contains(err.Error(), "HEAD does not contain") {
			t.Errorf("Release(DryRun=%v) onto a tag elsewhere: error %v, want ErrTagExists", dry, err)
		}
	}
}

func TestReleaseNotRepo(t *testing.T) {
	if _, err := Release(context.Background(), Options{Dir: t.TempDir()}); !errors.Is(err, ErrNotRepo) {
		t.Errorf("Release outside a repository: error %v, want ErrNotRepo", err)
	}
	if _, err := Version(VersionOptions{Dir: t.TempDir()}); !errors.Is(err, ErrNotRepo) {
		t.Errorf("Version outside a repository: error %v, want ErrNotRepo", err)
	}
}

func TestVersion(t *testing.T) {
	tr := releasedRepo(t)
	head := tr.Head().String()
	got, err := Version(VersionOptions{Dir: tr.Dir, Prefix: "v"})
	if err != nil {
		t.Fatal(err)
	}
	if got.CommitTime.IsZero() {
		t.Error("Version has no commit time")
	}
	when := got.CommitTime
	want := Info{Version: "1.1.0-SNAPSHOT", Commit: head, ShortCommit: head[:7], CommitsSince: 1, Snapshot: true, CommitTime: when}
	if got != want {
		t.Errorf("Version = %+v, want %+v", got, want)
	}

	tr.Write(map[string]string{"log.txt": "edited"})
	got, err = Version(VersionOptions{Dir: tr.Dir, Prefix: "v", Suffix: "dev", DefaultBump: BumpMinor})
	if err != nil || got.Version != "1.1.0-dev" || !got.Dirty {
		t.Errorf("Version on a dirty tree = %+v, %v", got, err)
	}

	tr.lightweight("v1.1.0", tr.Head())
	got, err = Version(VersionOptions{Dir: tr.Dir, Prefix: "v"})
	if err != nil {
		t.Fatal(err)
	}
	want = Info{Version: "1.1.0", Tag: "v1.1.0", Commit: head, ShortCommit: head[:7], Dirty: true, CommitTime: when}
	if got != want {
		t.Errorf("Version on a release = %+v, want %+v", got, want)
	}
	b, _ := json.Marshal(got)
	const wantJSON = `"version":"1.1.0","tag":"v1.1.0","commit":"`
	if !strings.Contains(string(b), wantJSON) || !strings.Contains(string(b), `"commitsSinceTag":0,"snapshot":false`) {
		t.Errorf("JSON = %s", b)
	}
}

func TestShallowClone(t *testing.T) {
	testutil.IsolateGitConfig(t)
	tr := newTestRepo(t)
	tr.Commit("chore: zero", nil)
	tr.annotated("v1.0.0", tr.Commit("feat: first", nil))
	tr.Commit("feat: second", nil)
	tr.Commit("fix: third", nil)
	tr.Commit("fix: fourth", nil)

	clone := func(depth int) string {
		dir := t.TempDir()
		_, err := git.PlainClone(dir, false, &git.CloneOptions{URL: "file://" + filepath.ToSlash(tr.Dir), Depth: depth, Tags: git.TagFollowing})
		if err != nil {
			t.Fatalf("cloning with depth %d: %v", depth, err)
		}
		return dir
	}

	dir := clone(1)
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.State("v", nil)
	if !errors.Is(err, ErrShallow) || !strings.Contains(err.Error(), "git fetch --unshallow --tags") {
		t.Fatalf("State on a depth-1 clone: error %v, want ErrShallow", err)
	}
	if _, err := Version(VersionOptions{Dir: dir, Prefix: "v"}); !errors.Is(err, ErrShallow) {
		t.Errorf("Version on a depth-1 clone: error %v, want ErrShallow", err)
	}
	if _, err := Release(context.Background(), Options{Dir: dir, Prefix: "v", DryRun: true}); !errors.Is(err, ErrShallow) {
		t.Errorf("Release on a depth-1 clone: error %v, want ErrShallow", err)
	}

	// Deep enough to hold v1.0.0: the release can be planned.
	dir = clone(4)
	r, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.State("v", nil)
	if err != nil {
		t.Fatalf("State on a depth-4 clone: %v", err)
	}
	if !st.Shallow || len(st.Messages) != 3 || names(st.Tags)[0] != "v1.0.0" {
		t.Errorf("State on a depth-4 clone = %+v", st)
	}
}
