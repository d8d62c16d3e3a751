package gitops

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/progress"
)

// TestFirstCommit commits into an empty repository, and into a new branch
// of one that has others, in both layouts.
func TestFirstCommit(t *testing.T) {
	tests := []struct {
		name, branch, path, file string
		others                   bool // the repository has another branch already
	}{
		{"a directory per environment", "main", "envs/prod", "envs/prod/hello.yaml", false},
		{"a branch per environment", "env/prod", ".", "hello.yaml", true},
		{"a branch per environment, in a directory", "env/prod", "deploy", "deploy/hello.yaml", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := newRemote(t)
			if tt.others {
				rm.commit("main", "readme", map[string]string{"README.md": "hi"})
			}
			r := rm.open(tt.branch, tt.path)
			if r.Head() != "" {
				t.Fatalf("Head of a branch that does not exist = %q", r.Head())
			}
			res, err := r.Commit(context.Background(), deploy("hello", "1.0.0"))
			if err != nil || !res.Changed {
				t.Fatalf("Commit = %+v, %v", res, err)
			}
			if rm.head(tt.branch) != "" {
				t.Fatal("Commit pushed")
			}
			p, err := r.Push(context.Background())
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if !p.Pushed || p.Rebased || p.Commit != res.Commit || rm.head(tt.branch) != p.Commit || r.Head() != p.Commit {
				t.Errorf("Push = %+v; remote at %s, Head %s", p, rm.head(tt.branch), r.Head())
			}
			if got := rm.show(tt.branch, tt.file); got != "app: hello\nversion: 1.0.0\n" {
				t.Errorf("%s = %q", tt.file, got)
			}
			msg := rm.message(p.Commit)
			if got := ParseTrailers(msg); got != deploy("hello", "1.0.0").Trailers {
				t.Errorf("trailers = %+v, message %q", got, msg)
			}
			if parents := gitIn(t, rm.dir, "log", "-1", "--format=%P", p.Commit); parents != "" {
				t.Errorf("a first commit has parents %s", parents)
			}
			if tt.others && rm.show("main", "README.md") != "hi" {
				t.Error("the other branch changed")
			}
		})
	}
}

// TestRerunCommitsNothing: a deploy that landed, run again, finds the
// files as it would write them and commits and pushes nothing.
func TestRerunCommitsNothing(t *testing.T) {
	rm := newRemote(t)
	first := mustCommitPush(t, rm.open("main", "envs/prod"), deploy("hello", "1.0.0"))

	r := rm.open("main", "envs/prod")
	res, err := r.Commit(context.Background(), deploy("hello", "1.0.0"))
	if err != nil || res.Changed || res.Commit != first.Commit {
		t.Fatalf("Commit again = %+v, %v; want no change at %s", res, err, first.Commit)
	}
	p, err := r.Push(context.Background())
	if err != nil || p.Pushed || p.Commit != first.Commit {
		t.Fatalf("Push of nothing = %+v, %v", p, err)
	}
	if got := rm.log("main"); len(got) != 1 {
		t.Errorf("log = %q, want one commit", got)
	}
}

// TestOtherFilesAreLeftAlone: Slipway writes the files it names and no
// other: other apps' files, a kustomization, files outside the path.
func TestOtherFilesAreLeftAlone(t *testing.T) {
	rm := newRemote(t)
	rm.commit("main", "setup", map[string]string{
		"README.md": "readme", "envs/prod/kustomization.yaml": "resources: [other.yaml]\n", "envs/prod/other.yaml": "other",
		"envs/prod/hello.yaml": "hand edited", "envs/dev/hello.yaml": "dev",
	})
	r := rm.open("main", "envs/prod")
	if got, err := r.ReadFile("hello.yaml"); err != nil || string(got) != "hand edited" {
		t.Errorf("ReadFile = %q, %v", got, err)
	}
	mustCommitPush(t, r, deploy("hello", "2.0.0"))
	want := map[string]string{"README.md": "readme", "envs/prod/kustomization.yaml": "resources: [other.yaml]\n", "envs/prod/other.yaml": "other",
		"envs/prod/hello.yaml": "app: hello\nversion: 2.0.0\n", "envs/dev/hello.yaml": "dev"}
	for p, content := range want {
		if got := rm.show("main", p); got != content {
			t.Errorf("%s = %q, want %q", p, got, content)
		}
	}
	if _, err := r.ReadFile("none.yaml"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadFile of a missing file: %v, want ErrNotFound", err)
	}
}

// TestRaceRebasesOnce: two writers read the same head; the second to push
// is refused, makes its change again on the first's commit, and lands:
// both commits are on the branch, none lost.
func TestRaceRebasesOnce(t *testing.T) {
	rm := newRemote(t)
	rm.commit("main", "setup", map[string]string{"envs/prod/kustomization.yaml": "k"})
	a, b := rm.open("main", "envs/prod"), rm.open("main", "envs/prod")
	pa := mustCommitPush(t, a, deploy("alpha", "1.0.0"))
	res, err := b.Commit(context.Background(), deploy("beta", "2.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	pb, err := b.Push(context.Background())
	if err != nil {
		t.Fatalf("Push after another push: %v", err)
	}
	if !pb.Pushed || !pb.Rebased || pb.Commit == res.Commit || rm.head("main") != pb.Commit {
		t.Errorf("Push = %+v (committed %s); remote at %s", pb, res.Commit, rm.head("main"))
	}
	if parent := gitIn(t, rm.dir, "log", "-1", "--format=%P", pb.Commit); parent != pa.Commit {
		t.Errorf("the rebased commit's parent = %s, want the other push %s", parent, pa.Commit)
	}
	if got := rm.log("main"); !slices.Equal(got, []string{"deploy beta 2.0.0", "deploy alpha 1.0.0", "setup"}) {
		t.Errorf("log = %q", got)
	}
	for _, p := range []string{"envs/prod/alpha.yaml", "envs/prod/beta.yaml", "envs/prod/kustomization.yaml"} {
		if rm.show("main", p) == "" {
			t.Errorf("%s is missing", p)
		}
	}
	if got := ParseTrailers(rm.message(pb.Commit)); got.App != "beta" {
		t.Errorf("the rebased commit's trailers = %+v", got)
	}
}

// TestRacingWriters runs two writers at once, several times: every time
// both land.
func TestRacingWriters(t *testing.T) {
	rm := newRemote(t)
	rm.commit("main", "setup", map[string]string{"envs/prod/kustomization.yaml": "k"})
	for round := range 4 {
		a, b := rm.open("main", "envs/prod"), rm.open("main", "envs/prod")
		errs := make(chan error, 2)
		for i, r := range []*Repo{a, b} {
			go func() {
				v := string(rune('1'+round)) + ".0." + string(rune('0'+i))
				if _, err := r.Commit(context.Background(), deploy([]string{"alpha", "beta"}[i], v)); err != nil {
					errs <- err
					return
				}
				_, err := r.Push(context.Background())
				errs <- err
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if got := rm.log("main"); len(got) != 1+2*(round+1) {
			t.Fatalf("round %d: log = %q, want two more commits", round, got)
		}
	}
}

// TestConflictIsRefused: someone else changes a file Slipway writes
// between its fetch and its push; Slipway refuses to write over it, and
// the remote keeps their change.
func TestConflictIsRefused(t *testing.T) {
	rm := newRemote(t)
	rm.commit("main", "setup", map[string]string{"envs/prod/hello.yaml": "v0"})
	r := rm.open("main", "envs/prod")
	theirs := rm.commit("main", "hotfix by hand", map[string]string{"envs/prod/hello.yaml": "hand edited"})
	if _, err := r.Commit(context.Background(), deploy("hello", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	_, err := r.Push(context.Background())
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "envs/prod/hello.yaml") || !strings.Contains(err.Error(), "Someone Else") {
		t.Fatalf("Push over someone else's edit: %v, want ErrConflict naming the file and who", err)
	}
	if rm.head("main") != theirs || rm.show("main", "envs/prod/hello.yaml") != "hand edited" {
		t.Errorf("the remote changed: at %s", rm.head("main"))
	}
	// Run again: the edit is now seen, and replaced.
	mustCommitPush(t, rm.open("main", "envs/prod"), deploy("hello", "1.0.0"))
	if got := rm.show("main", "envs/prod/hello.yaml"); got != "app: hello\nversion: 1.0.0\n" {
		t.Errorf("after a re-run: %q", got)
	}
}

// TestSameChangeLandedFirst: the push that got there first wrote exactly
// what Slipway writes; there is nothing left to push.
func TestSameChangeLandedFirst(t *testing.T) {
	rm := newRemote(t)
	rm.commit("main", "setup", map[string]string{"envs/prod/kustomization.yaml": "k"})
	later := func(o *Options) { o.Now = func() time.Time { return epoch.Add(time.Minute) } }
	a, b, c := rm.open("main", "envs/prod"), rm.open("main", "envs/prod", later), rm.open("main", "envs/prod")
	pa := mustCommitPush(t, a, deploy("hello", "1.0.0"))
	pb := mustCommitPush(t, b, deploy("hello", "1.0.0"))
	if pb.Pushed || !pb.Rebased || pb.Commit != pa.Commit {
		t.Errorf("Push = %+v, want nothing pushed on %s", pb, pa.Commit)
	}
	// The very same commit (same parent, content and time): the remote has
	// it already.
	if pc := mustCommitPush(t, c, deploy("hello", "1.0.0")); pc.Pushed || pc.Commit != pa.Commit {
		t.Errorf("Push of the same commit = %+v, want nothing pushed on %s", pc, pa.Commit)
	}
	if got := rm.log("main"); len(got) != 2 {
		t.Errorf("log = %q", got)
	}
}

// TestRacedTwice: another push lands while Slipway makes its change again;
// it gives up with ErrRaced and leaves the remote as the others left it.
func TestRacedTwice(t *testing.T) {
	rm := newRemote(t)
	rm.commit("main", "setup", map[string]string{"envs/prod/kustomization.yaml": "k"})
	var last string
	pushMore := progress.Func(func(e progress.Event) {
		if e.Kind == progress.Warn { // the rebase begins: another writer lands again
			last = rm.commit("main", "third writer", map[string]string{"envs/prod/gamma.yaml": "g"})
		}
	})
	r := rm.open("main", "envs/prod", func(o *Options) { o.Progress = pushMore })
	rm.commit("main", "second writer", map[string]string{"envs/prod/beta.yaml": "b"})
	if _, err := r.Commit(context.Background(), deploy("alpha", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	_, err := r.Push(context.Background())
	if !errors.Is(err, ErrRaced) {
		t.Fatalf("Push = %v, want ErrRaced", err)
	}
	if rm.head("main") != last || rm.show("main", "envs/prod/alpha.yaml") != "" {
		t.Errorf("the remote is at %s, want the third writer's %s", rm.head("main"), last)
	}
}

// TestRaceOnANewBranch: two writers start the same branch; the second
// makes its change again on the first's commit.
func TestRaceOnANewBranch(t *testing.T) {
	rm := newRemote(t)
	a, b := rm.open("env/prod", "."), rm.open("env/prod", ".")
	pa := mustCommitPush(t, a, deploy("alpha", "1.0.0"))
	pb := mustCommitPush(t, b, deploy("beta", "1.0.0"))
	if !pb.Rebased || gitIn(t, rm.dir, "log", "-1", "--format=%P", pb.Commit) != pa.Commit {
		t.Errorf("the second writer: %+v", pb)
	}
	if rm.show("env/prod", "alpha.yaml") == "" || rm.show("env/prod", "beta.yaml") == "" {
		t.Error("a commit was lost")
	}
}

// TestPushAfterAConflictDropsNothing: once a rebase was refused, pushing
// again must not put the old commits over the new head, which the lease
// alone would allow.
func TestPushAfterAConflictDropsNothing(t *testing.T) {
	rm := newRemote(t)
	rm.commit("main", "setup", map[string]string{"envs/prod/hello.yaml": "v0"})
	r := rm.open("main", "envs/prod")
	theirs := rm.commit("main", "hand edit", map[string]string{"envs/prod/hello.yaml": "hand edited"})
	if _, err := r.Commit(context.Background(), deploy("hello", "1.0.0")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := r.Push(context.Background()); !errors.Is(err, ErrConflict) {
			t.Fatalf("Push = %v, want ErrConflict", err)
		}
	}
	if rm.head("main") != theirs {
		t.Errorf("the remote moved from %s to %s", theirs, rm.head("main"))
	}
}
