package release

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"

	"github.com/slipwayhq/slipway/internal/testutil"
)

func TestOpen(t *testing.T) {
	tr := newTestRepo(t)
	tr.Commit("chore: init", map[string]string{"a/b/c.txt": "x"})

	r, err := Open(filepath.Join(tr.Dir, "a", "b"))
	if err != nil {
		t.Fatalf("Open(subdir): %v", err)
	}
	want, _ := filepath.EvalSymlinks(tr.Dir)
	if got, _ := filepath.EvalSymlinks(r.Root()); got != want {
		t.Errorf("Root() = %q, want %q", got, want)
	}

	plain := t.TempDir()
	_, err = Open(plain)
	if !errors.Is(err, ErrNotRepo) || !strings.Contains(err.Error(), plain) {
		t.Errorf("Open(%s) error = %v, want ErrNotRepo naming the directory", plain, err)
	}
	missing := filepath.Join(tr.Dir, "no", "such", "dir")
	if _, err := Open(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(%s) error = %v, want not exist", missing, err)
	}
}

func TestHead(t *testing.T) {
	tr := newTestRepo(t)
	r := tr.open()
	if _, err := r.Head(); !errors.Is(err, ErrNoCommits) {
		t.Fatalf("Head() on an empty repository: error %v, want ErrNoCommits", err)
	}
	if _, err := r.State("v", nil); !errors.Is(err, ErrNoCommits) {
		t.Fatalf("State() on an empty repository: error %v, want ErrNoCommits", err)
	}

	first := tr.Commit("feat: first\n\nbody", nil)
	tr.Commit("fix: second", nil)
	c, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	if c.Message != "fix: second" || c.Short != c.Hash[:7] || len(c.Hash) != 40 || !c.Time.Equal(testutil.GitEpoch.Add(2*time.Minute)) {
		t.Errorf("Head() = %+v", c)
	}

	tr.detach(first)
	c, err = r.Head()
	if err != nil {
		t.Fatalf("Head() on a detached HEAD: %v", err)
	}
	if c.Hash != first.String() || c.Message != "feat: first\n\nbody" {
		t.Errorf("detached Head() = %+v, want %s", c, first)
	}
}

func TestDirty(t *testing.T) {
	tr := newTestRepo(t)
	r := tr.open()
	tr.Write(map[string]string{"new.txt": "x"})
	if files, err := r.Dirty(); err != nil || !reflect.DeepEqual(files, []string{"new.txt"}) {
		t.Fatalf("Dirty() before any commit = %q, %v", files, err)
	}
	tr.Commit("chore: init", map[string]string{
		"tracked.txt": "1", "new.txt": "x", ".gitignore": "dist/\n*.log\n", "sub/.gitignore": "secret\n", "sub/keep.txt": "k",
	})
	if files, err := r.Dirty(); err != nil || len(files) != 0 {
		t.Fatalf("Dirty() after commit = %q, %v; want clean", files, err)
	}

	tr.Write(map[string]string{"dist/app": "bin", "debug.log": "x", "sub/secret": "s"})
	if files, err := r.Dirty(); err != nil || len(files) != 0 {
		t.Fatalf("Dirty() with ignored files = %q, %v; want clean", files, err)
	}

	tr.Write(map[string]string{"tracked.txt": "2", "untracked.txt": "u", "staged.txt": "s"})
	if _, err := tr.Worktree.Add("staged.txt"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(tr.Dir, "sub", "keep.txt")); err != nil {
		t.Fatal(err)
	}
	files, err := r.Dirty()
	want := []string{"staged.txt", "sub/keep.txt", "tracked.txt", "untracked.txt"}
	if err != nil || !reflect.DeepEqual(files, want) {
		t.Errorf("Dirty() = %q, %v; want %q", files, err, want)
	}
}

func TestDirtyGlobalExcludes(t *testing.T) {
	home := testutil.IsolateGitConfig(t)
	tr := newTestRepo(t)
	tr.Commit("chore: init", nil)
	if err := os.MkdirAll(filepath.Join(home, ".config", "git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".config", "git", "ignore"), []byte("# editor files\n*.swp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr.Write(map[string]string{"main.go.swp": "x"})
	if files, err := tr.open().Dirty(); err != nil || len(files) != 0 {
		t.Errorf("Dirty() with a globally ignored file = %q, %v; want clean", files, err)
	}
}

func TestStateTags(t *testing.T) {
	tr := newTestRepo(t)
	c1 := tr.Commit("chore: init", nil)
	tr.lightweight("v1.0.0", c1)
	tr.lightweight("1.2.4", c1) // no prefix
	c2 := tr.Commit("feat: b", nil)
	tr.annotated("v1.1.0", c2)
	tr.annotated("latest", c2)
	tr.lightweight("v1.2", c2)
	c3 := tr.Commit("fix: c", nil)
	tr.annotated("v2.0.0-rc.1", c3)
	tr.Commit("feat: d", nil)
	tr.Commit("docs: e\n\nlong body", nil)

	// A release tag on a branch HEAD does not contain is ignored.
	tr.branch("experiment")
	side := tr.Commit("feat!: experiment", nil)
	tr.annotated("v9.0.0", side)
	tr.lightweight("v8.0.0", side)
	tr.checkout("master")

	st, err := tr.open().State("v", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(st.Tags), []string{"v1.0.0", "v1.1.0", "v2.0.0-rc.1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Tags = %q, want %q", got, want)
	}
	for _, tag := range st.Tags {
		if tag.Name == "v1.1.0" && tag.Commit != c2.String() {
			t.Errorf("annotated v1.1.0 resolves to %s, want commit %s", tag.Commit, c2)
		}
	}
	if len(st.HeadTags) != 0 {
		t.Errorf("HeadTags = %q, want none", names(st.HeadTags))
	}
	if want := []string{"docs: e\n\nlong body", "feat: d", "fix: c"}; !reflect.DeepEqual(st.Messages, want) {
		t.Errorf("Messages = %q, want %q (since v1.1.0, newest first)", st.Messages, want)
	}
	if st.CommitsSince != 2 {
		t.Errorf("CommitsSince = %d, want 2 (since v2.0.0-rc.1)", st.CommitsSince)
	}
	if st.Shallow {
		t.Error("Shallow = true")
	}

	plan, err := PlanRelease(st.Input())
	if err != nil || plan.Next.String() != "2.0.0" {
		t.Errorf("PlanRelease = %+v, %v; want 2.0.0", plan, err)
	}

	// With prefix "" only the unprefixed tag counts.
	st, err = tr.open().State("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(st.Tags); !reflect.DeepEqual(got, []string{"1.2.4"}) {
		t.Errorf("Tags with prefix \"\" = %q", got)
	}
	if len(st.Messages) != 4 {
		t.Errorf("Messages since 1.2.4 = %q", st.Messages)
	}
}

func TestStateHeadTagsAndDetached(t *testing.T) {
	tr := newTestRepo(t)
	c1 := tr.Commit("feat: a", nil)
	tr.lightweight("v1.0.0", c1)
	c2 := tr.Commit("feat: b", nil)
	tr.annotated("v1.1.0-rc.1", c2)
	tr.lightweight("v1.1.0", c2)
	tr.Commit("fix: c", nil)

	tr.detach(c2)
	st, err := tr.open().State("v", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(st.HeadTags), []string{"v1.1.0-rc.1", "v1.1.0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("HeadTags = %q, want %q", got, want)
	}
	if len(st.Messages) != 0 || st.CommitsSince != 0 || st.Head.Hash != c2.String() {
		t.Errorf("State on a released detached HEAD = %+v", st)
	}
	d, err := Describe(st.Input(), "")
	if err != nil || d.Tag != "v1.1.0" || d.Snapshot {
		t.Errorf("Describe = %+v, %v; want v1.1.0", d, err)
	}
}

func TestStateMerges(t *testing.T) {
	tr := newTestRepo(t)
	base := tr.Commit("chore: init", nil)
	tr.lightweight("v1.0.0", base)
	tr.branch("feature")
	f1 := tr.Commit("feat: from the feature branch", map[string]string{"feature.txt": "1"})
	tr.annotated("v1.1.0", f1) // released from the branch, reachable through the merge
	f2 := tr.Commit("feat!: breaking on the branch", map[string]string{"feature.txt": "2"})
	tr.checkout("master")
	tr.Commit("fix: on master", map[string]string{"master.txt": "1"})
	tr.Commit("Merge branch 'feature'", map[string]string{"feature.txt": "2"}, f2)
	tr.Commit("chore: after the merge", nil)

	st, err := tr.open().State("v", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(st.Tags), []string{"v1.0.0", "v1.1.0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Tags = %q, want %q", got, want)
	}
	want := []string{"chore: after the merge", "Merge branch 'feature'", "fix: on master", "feat!: breaking on the branch"}
	if !reflect.DeepEqual(st.Messages, want) {
		t.Errorf("Messages = %q, want %q", st.Messages, want)
	}
	plan, err := PlanRelease(st.Input())
	if err != nil || plan.Next.String() != "2.0.0" {
		t.Errorf("PlanRelease = %+v, %v; want 2.0.0", plan, err)
	}
}

func TestStateMonorepo(t *testing.T) {
	tr := newTestRepo(t)
	c := tr.Commit("chore: init", map[string]string{"billing/main.go": "1", "shipping/main.go": "1", "billing-api/x": "1"})
	tr.annotated("billing/v1.0.0", c)
	tr.annotated("shipping/v2.0.0", c)
	tr.annotated("v5.0.0", c)
	tr.Commit("feat(shipping): rates", map[string]string{"shipping/main.go": "2"})
	tr.Commit("feat(api): not billing", map[string]string{"billing-api/x": "2"})
	tr.Commit("fix(billing): rounding", map[string]string{"billing/main.go": "2"})
	tr.Commit("docs: readme", map[string]string{"README.md": "hi"})

	tests := []struct {
		prefix string
		paths  []string
		tags   []string
		msgs   []string
	}{
		{"billing/v", []string{"billing"}, []string{"billing/v1.0.0"}, []string{"fix(billing): rounding"}},
		{"billing/v", []string{"./billing/"}, []string{"billing/v1.0.0"}, []string{"fix(billing): rounding"}},
		{"billing/v", []string{"billing/main.go"}, []string{"billing/v1.0.0"}, []string{"fix(billing): rounding"}},
		{"shipping/v", []string{"shipping", "README.md"}, []string{"shipping/v2.0.0"}, []string{"docs: readme", "feat(shipping): rates"}},
		{"billing/v", []string{"nowhere"}, []string{"billing/v1.0.0"}, nil},
		{"v", []string{"."}, []string{"v5.0.0"}, []string{"docs: readme", "fix(billing): rounding", "feat(api): not billing", "feat(shipping): rates"}},
	}
	for _, tt := range tests {
		st, err := tr.open().State(tt.prefix, tt.paths)
		if err != nil {
			t.Fatal(err)
		}
		if got := names(st.Tags); !reflect.DeepEqual(got, tt.tags) {
			t.Errorf("State(%q, %q) Tags = %q, want %q", tt.prefix, tt.paths, got, tt.tags)
		}
		if !reflect.DeepEqual(st.Messages, tt.msgs) || st.CommitsSince != len(tt.msgs) {
			t.Errorf("State(%q, %q) Messages = %q (%d since), want %q", tt.prefix, tt.paths, st.Messages, st.CommitsSince, tt.msgs)
		}
	}

	// Nothing touched billing since billing/v1.0.0 but for the fix: release
	// it, then billing is up to date while others move on.
	st, _ := tr.open().State("billing/v", []string{"billing"})
	plan, err := PlanRelease(st.Input())
	if err != nil || plan.Next.String() != "1.0.1" {
		t.Fatalf("billing plan = %+v, %v; want 1.0.1", plan, err)
	}
	tr.annotated("billing/v1.0.1", tr.Head())
	tr.Commit("feat(shipping): more", map[string]string{"shipping/main.go": "3"})
	st, _ = tr.open().State("billing/v", []string{"billing"})
	plan, err = PlanRelease(st.Input())
	if err != nil || !plan.UpToDate || plan.Existing.Name != "billing/v1.0.1" {
		t.Errorf("billing plan after a shipping commit = %+v, %v; want up to date with billing/v1.0.1", plan, err)
	}

	if _, err := tr.open().State("v", []string{"../outside"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("State with a path outside the repository: error %v, want ErrInvalid", err)
	}
}

func TestStateMonorepoMergeAndRoot(t *testing.T) {
	tr := newTestRepo(t)
	tr.Commit("feat: root adds billing", map[string]string{"billing/a": "1"})
	tr.branch("feature")
	f := tr.Commit("fix(billing): on a branch", map[string]string{"billing/a": "2"})
	tr.checkout("master")
	tr.Commit("chore: elsewhere", map[string]string{"other": "1"})
	tr.Commit("Merge branch 'feature'", map[string]string{"billing/a": "2"}, f)

	st, err := tr.open().State("billing/v", []string{"billing"})
	if err != nil {
		t.Fatal(err)
	}
	// The merge equals the branch under billing/, so only the branch commit
	// and the root count.
	want := []string{"fix(billing): on a branch", "feat: root adds billing"}
	if !reflect.DeepEqual(st.Messages, want) {
		t.Errorf("Messages = %q, want %q", st.Messages, want)
	}
}

func TestStateLargeHistory(t *testing.T) {
	tr := newTestRepo(t)
	// Every odd commit repeats its parent's f.txt.
	hs := tr.linearHistory(3000, "f.txt", func(i int) string { return strconv.Itoa(i / 2) })
	parent := hs[len(hs)-1]
	tr.setHead(parent)
	tr.annotated("v1.0.0", hs[1000])
	tr.annotated("v1.1.0-rc.1", hs[2900])
	start := time.Now()
	st, err := tr.open().State("v", []string{"f.txt"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("State over %d commits took %v", len(hs), time.Since(start))
	// Only the even commits after a tag count.
	if len(st.Messages) != 999 || st.CommitsSince != 49 || st.Head.Hash != parent.String() {
		t.Errorf("State over %d commits: %d messages, %d since the rc", len(hs), len(st.Messages), st.CommitsSince)
	}
}

func TestTagger(t *testing.T) {
	testutil.IsolateGitConfig(t)
	tr := newTestRepo(t)
	r := tr.open()
	if got := r.Tagger(); got.Name != DefaultTaggerName || got.Email != DefaultTaggerEmail {
		t.Errorf("Tagger() without config = %+v", got)
	}

	cfg, err := tr.Git.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.User.Name, cfg.User.Email = "Repo User", "repo@example.com"
	if err := tr.Git.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	r = tr.open()
	if got := r.Tagger(); got.Name != "Repo User" || got.Email != "repo@example.com" {
		t.Errorf("Tagger() with repository config = %+v", got)
	}

	t.Setenv("GIT_COMMITTER_NAME", "Env Committer")
	t.Setenv("GIT_COMMITTER_EMAIL", "env@example.com")
	if got := r.Tagger(); got.Name != "Env Committer" || got.Email != "env@example.com" {
		t.Errorf("Tagger() with GIT_COMMITTER_* = %+v", got)
	}
}

func TestTaggerGlobalConfig(t *testing.T) {
	home := testutil.IsolateGitConfig(t)
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[user]\n\tname = Global User\n\temail = global@example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := newTestRepo(t)
	if got := tr.open().Tagger(); got.Name != "Global User" || got.Email != "global@example.com" {
		t.Errorf("Tagger() with global config = %+v", got)
	}
}

func TestCreateAndDeleteTag(t *testing.T) {
	testutil.IsolateGitConfig(t)
	tr := newTestRepo(t)
	tr.Commit("feat: a", nil)
	r := tr.open()
	head, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := r.CreateTag("v1.0.0", head, "Release v1.0.0", Signature{When: when}); err != nil {
		t.Fatal(err)
	}
	ref, err := tr.Git.Tag("v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := tr.Git.TagObject(ref.Hash())
	if err != nil {
		t.Fatalf("v1.0.0 is not an annotated tag: %v", err)
	}
	if obj.Target.String() != head.Hash || obj.Tagger.Name != DefaultTaggerName || !obj.Tagger.When.Equal(when) || obj.Message != "Release v1.0.0\n" {
		t.Errorf("tag object = %+v", obj)
	}
	st, err := r.State("v", nil)
	if err != nil || len(st.HeadTags) != 1 || st.HeadTags[0].Commit != head.Hash {
		t.Errorf("State after CreateTag = %+v, %v", st, err)
	}

	if err := r.CreateTag("v1.0.0", head, "again", Signature{}); !errors.Is(err, ErrTagExists) {
		t.Errorf("CreateTag of an existing tag: error %v, want ErrTagExists", err)
	}
	if err := r.CreateTag("bad name", head, "", Signature{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("CreateTag with a bad name: error %v, want ErrInvalid", err)
	}
	if err := r.CreateTag("v2.0.0", Commit{Hash: "abc"}, "", Signature{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("CreateTag with a short hash: error %v, want ErrInvalid", err)
	}
	if err := r.DeleteTag("v1.0.0"); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Git.Tag("v1.0.0"); !errors.Is(err, git.ErrTagNotFound) {
		t.Errorf("tag still there after DeleteTag: %v", err)
	}
	if err := r.DeleteTag("v1.0.0"); err == nil {
		t.Error("DeleteTag of a missing tag: no error")
	}
}
