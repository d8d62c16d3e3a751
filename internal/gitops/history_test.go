package gitops

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// history deploys hello 1.0.0, 2.0.0 and 3.0.0 to envs/prod, with other
// commits between, and returns the three deploy commits.
func history(t *testing.T, rm *remote) []string {
	t.Helper()
	rm.commit("main", "setup", map[string]string{"envs/prod/kustomization.yaml": "k", "envs/dev/hello.yaml": "dev"})
	var out []string
	for i, v := range []string{"1.0.0", "2.0.0", "3.0.0"} {
		out = append(out, mustCommitPush(t, rm.open("main", "envs/prod"), deploy("hello", v)).Commit)
		rm.commit("main", "dev change "+v, map[string]string{"envs/dev/hello.yaml": "dev " + v})
		if i == 1 {
			rm.commit("main", "add another app", map[string]string{"envs/prod/other.yaml": "o"})
		}
	}
	return out
}

func TestRevert(t *testing.T) {
	rm := newRemote(t)
	deploys := history(t, rm)
	r := rm.open("main", "envs/prod")
	res, err := r.Revert(context.Background(), deploys[2], Trailers{App: "hello", Env: "prod", By: "slipway", Reason: "verdict failed"})
	if err != nil || !res.Changed {
		t.Fatalf("Revert = %+v, %v", res, err)
	}
	p, err := r.Push(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := rm.show("main", "envs/prod/hello.yaml"); got != "app: hello\nversion: 2.0.0\n" {
		t.Errorf("hello.yaml after the revert = %q", got)
	}
	if rm.show("main", "envs/prod/other.yaml") != "o" || rm.show("main", "envs/dev/hello.yaml") != "dev 3.0.0" {
		t.Error("the revert changed other files")
	}
	msg := rm.message(p.Commit)
	if tr := ParseTrailers(msg); tr.Reverts != deploys[2] || tr.Reason != "verdict failed" {
		t.Errorf("revert trailers = %+v", tr)
	}
	if !strings.HasPrefix(msg, `Revert "deploy hello 3.0.0"`) || !strings.Contains(msg, "This reverts commit "+deploys[2]) {
		t.Errorf("revert message = %q", msg)
	}

	// Reverting the first deploy removes the file it added, once nothing
	// later changed it.
	rm2 := newRemote(t)
	first := mustCommitPush(t, rm2.open("main", "envs/prod"), deploy("hello", "1.0.0"))
	r2 := rm2.open("main", "envs/prod")
	if _, err := r2.Revert(context.Background(), first.Commit, Trailers{}); err != nil {
		t.Fatal(err)
	}
	mustPush(t, r2)
	if got := rm2.show("main", "envs/prod/hello.yaml"); got != "" {
		t.Errorf("after reverting the first deploy: %q", got)
	}
}

func mustPush(t *testing.T, r *Repo) Pushed {
	t.Helper()
	p, err := r.Push(context.Background())
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return p
}

func TestRevertRefusals(t *testing.T) {
	rm := newRemote(t)
	deploys := history(t, rm)
	r := rm.open("main", "envs/prod")
	// A later deploy wrote the file again: reverting an older one would
	// undo it too.
	if _, err := r.Revert(context.Background(), deploys[0], Trailers{}); !errors.Is(err, ErrConflict) {
		t.Errorf("Revert under a later change: %v, want ErrConflict", err)
	}
	for _, bad := range []string{"abc", "HEAD", "../x", strings.Repeat("z", 40)} {
		if _, err := r.Revert(context.Background(), bad, Trailers{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Revert(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := r.Revert(context.Background(), strings.Repeat("0", 40), Trailers{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revert of a commit not on the branch: %v, want ErrNotFound", err)
	}
	if r.Head() != rm.head("main") || len(r.pending) != 0 {
		t.Error("a refused revert left a commit behind")
	}
}

func TestRestore(t *testing.T) {
	rm := newRemote(t)
	deploys := history(t, rm)

	// One file back to the first deploy, fetching the history it needs.
	r := rm.open("main", "envs/prod")
	if r.depth != 1 {
		t.Fatalf("Open fetched %d commits", r.depth)
	}
	if _, err := r.Restore(context.Background(), deploys[0], Trailers{App: "hello", By: "ann", Reason: "roll back"}, "hello.yaml"); err != nil {
		t.Fatal(err)
	}
	p := mustPush(t, r)
	if got := rm.show("main", "envs/prod/hello.yaml"); got != "app: hello\nversion: 1.0.0\n" {
		t.Errorf("hello.yaml = %q", got)
	}
	if rm.show("main", "envs/prod/other.yaml") != "o" {
		t.Error("restoring one file changed another")
	}
	if tr := ParseTrailers(rm.message(p.Commit)); tr.Restores != deploys[0] || tr.By != "ann" {
		t.Errorf("trailers = %+v", tr)
	}

	// The whole path: files added since are removed.
	r = rm.open("main", "envs/prod")
	if _, err := r.Restore(context.Background(), deploys[1], Trailers{}); err != nil {
		t.Fatal(err)
	}
	mustPush(t, r)
	if rm.show("main", "envs/prod/other.yaml") != "" || rm.show("main", "envs/prod/hello.yaml") != "app: hello\nversion: 2.0.0\n" {
		t.Error("the path is not as it was at the second deploy")
	}
	if rm.show("main", "envs/dev/hello.yaml") != "dev 3.0.0" {
		t.Error("a restore of envs/prod changed envs/dev")
	}
	// Restoring what is there commits nothing.
	r = rm.open("main", "envs/prod")
	if res, err := r.Restore(context.Background(), deploys[1], Trailers{}); err != nil || res.Changed {
		t.Errorf("Restore to the same files = %+v, %v", res, err)
	}
}

func TestHistory(t *testing.T) {
	rm := newRemote(t)
	deploys := history(t, rm)
	r := rm.open("main", "envs/prod")
	if _, err := r.Revert(context.Background(), deploys[2], Trailers{App: "hello", Reason: "verdict failed"}); err != nil {
		t.Fatal(err)
	}
	revert := mustPush(t, r).Commit

	r = rm.open("main", "envs/prod")
	got, err := r.History(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, e := range got {
		subjects = append(subjects, e.Subject)
	}
	want := []string{`Revert "deploy hello 3.0.0"`, "deploy hello 3.0.0", "add another app", "deploy hello 2.0.0", "deploy hello 1.0.0", "setup"}
	if !slices.Equal(subjects, want) {
		t.Fatalf("History subjects = %q, want %q", subjects, want)
	}
	if e := got[1]; e.Commit != deploys[2] || e.RevertedBy != revert || e.Trailers.Version != "3.0.0" || e.Trailers.Digest != aDigest || !e.When.Equal(epoch) || e.Author != DefaultName {
		t.Errorf("entry of the reverted deploy = %+v", e)
	}
	if got[3].RevertedBy != "" || got[2].Author != "Someone Else" {
		t.Errorf("entries = %+v, %+v", got[2], got[3])
	}

	// n bounds the count; names narrow to files.
	if one, err := r.History(context.Background(), 1); err != nil || len(one) != 1 || one[0].Commit != revert {
		t.Errorf("History(1) = %+v, %v", one, err)
	}
	if only, err := r.History(context.Background(), 10, "other.yaml"); err != nil || len(only) != 1 || only[0].Subject != "add another app" {
		t.Errorf("History of other.yaml = %+v, %v", only, err)
	}
	if _, err := r.History(context.Background(), 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("History(0) = %v", err)
	}

	// Limits.Depth bounds how far back it reads.
	shallow := rm.open("main", "envs/prod", func(o *Options) { o.Limits.Depth = 3 })
	if got, err := shallow.History(context.Background(), 10); err != nil || len(got) != 2 {
		t.Errorf("History within 3 commits = %d entries, %v; want 2", len(got), err)
	}
}
