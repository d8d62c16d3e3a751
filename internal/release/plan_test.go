package release

import (
	"errors"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// tagInfos parses names as State would with prefix "v", dropping those
// that are not release tags.
func tagInfos(names ...string) []TagInfo {
	var out []TagInfo
	for i, n := range names {
		if v, ok := ParseTag(n, "v"); ok {
			out = append(out, TagInfo{Name: n, Version: v, Commit: string(rune('a' + i))})
		}
	}
	return out
}

// oddTags is a tag set with names that are not release tags.
var oddTags = []string{"v1.2.3", "1.2.4", "v2.0.0-rc.1", "latest", "v1.2"}

func TestPlanRelease(t *testing.T) {
	tests := []struct {
		name     string
		tags     []string
		head     []string
		msgs     []string
		in       Input // Bump, DefaultBump, Pre, Version, Initial
		want     string
		wantBump Bump
		wantPrev string
		existing string // when up to date
		err      error
	}{
		{name: "odd tags finalise the rc line", tags: oddTags, msgs: []string{"fix: a"},
			want: "2.0.0", wantPrev: "v2.0.0-rc.1"},
		{name: "odd tags continue the rc line", tags: oddTags, msgs: []string{"fix: a"}, in: Input{Pre: "rc"},
			want: "2.0.0-rc.2", wantPrev: "v2.0.0-rc.1"},
		{name: "no tags and a feat", msgs: []string{"feat: a"}, want: "0.1.0"},
		{name: "no tags, a major bump still starts at initial", msgs: []string{"feat!: a"}, in: Input{Bump: BumpMajor}, want: "0.1.0"},
		{name: "no tags, explicit initial", msgs: []string{"chore: a"}, in: Input{Initial: semver.MustParse("1.0.0")}, want: "1.0.0"},
		{name: "no tags, pre-release", msgs: []string{"chore: a"}, in: Input{Pre: "rc"}, want: "0.1.0-rc.1"},
		{name: "no final tags, rc of initial", tags: []string{"v0.1.0-rc.1"}, msgs: []string{"fix: a"}, in: Input{Pre: "rc"},
			want: "0.1.0-rc.2", wantPrev: "v0.1.0-rc.1"},
		{name: "no final tags, rc above initial", tags: []string{"v1.0.0-rc.1"}, msgs: []string{"fix: a"},
			want: "1.0.0", wantPrev: "v1.0.0-rc.1"},
		{name: "0.x feat is minor", tags: []string{"v0.9.0"}, msgs: []string{"feat: a"},
			want: "0.10.0", wantBump: BumpMinor, wantPrev: "v0.9.0"},
		{name: "breaking is major", tags: []string{"v1.4.2"}, msgs: []string{"fix: a", "feat!: x"},
			want: "2.0.0", wantBump: BumpMajor, wantPrev: "v1.4.2"},
		{name: "chore falls back to patch", tags: []string{"v1.4.2"}, msgs: []string{"chore: x"}, in: Input{DefaultBump: BumpPatch},
			want: "1.4.3", wantBump: BumpPatch, wantPrev: "v1.4.2"},
		{name: "chore falls back to minor", tags: []string{"v1.4.2"}, msgs: []string{"chore: x"}, in: Input{DefaultBump: BumpMinor},
			want: "1.5.0", wantBump: BumpMinor, wantPrev: "v1.4.2"},
		{name: "zero default bump is patch", tags: []string{"v1.4.2"}, msgs: []string{"chore: x"},
			want: "1.4.3", wantBump: BumpPatch, wantPrev: "v1.4.2"},
		{name: "forced major", tags: []string{"v1.4.2"}, msgs: []string{"fix: x"}, in: Input{Bump: BumpMajor},
			want: "2.0.0", wantBump: BumpMajor, wantPrev: "v1.4.2"},
		{name: "forced patch beats feat", tags: []string{"v1.4.2"}, msgs: []string{"feat: x"}, in: Input{Bump: BumpPatch},
			want: "1.4.3", wantBump: BumpPatch, wantPrev: "v1.4.2"},
		{name: "BumpNone is auto", tags: []string{"v1.4.2"}, msgs: []string{"feat: x"}, in: Input{Bump: BumpNone},
			want: "1.5.0", wantBump: BumpMinor, wantPrev: "v1.4.2"},
		{name: "highest version wins, not newest tag", tags: []string{"v1.10.0", "v1.9.0", "v1.9.1"}, msgs: []string{"fix: x"},
			want: "1.10.1", wantBump: BumpPatch, wantPrev: "v1.10.0"},
		{name: "continue rc line", tags: []string{"v1.4.2", "v1.5.0-rc.2", "v1.5.0-rc.1"}, msgs: []string{"fix: x"}, in: Input{Pre: "rc"},
			want: "1.5.0-rc.3", wantPrev: "v1.5.0-rc.2"},
		{name: "finalise rc line", tags: []string{"v1.4.2", "v1.5.0-rc.2"}, msgs: []string{"fix: x"},
			want: "1.5.0", wantPrev: "v1.5.0-rc.2"},
		{name: "rc line equal to the target", tags: []string{"v1.4.2", "v1.4.3-rc.1"}, msgs: []string{"fix: x"},
			want: "1.4.3", wantPrev: "v1.4.3-rc.1"},
		{name: "rc line below the target is left", tags: []string{"v1.4.2", "v1.4.3-rc.1"}, msgs: []string{"feat: x"},
			want: "1.5.0", wantBump: BumpMinor, wantPrev: "v1.4.3-rc.1"},
		{name: "new rc line above an older one", tags: []string{"v1.4.2", "v1.4.3-rc.4"}, msgs: []string{"feat: x"}, in: Input{Pre: "rc"},
			want: "1.5.0-rc.1", wantBump: BumpMinor, wantPrev: "v1.4.3-rc.4"},
		{name: "stale rc of a released version", tags: []string{"v1.2.3-rc.1", "v1.2.3"}, msgs: []string{"fix: x"},
			want: "1.2.4", wantBump: BumpPatch, wantPrev: "v1.2.3"},
		{name: "highest rc line wins", tags: []string{"v1.2.3", "v1.5.0-rc.1", "v2.0.0-beta.3"}, msgs: []string{"fix: x"}, in: Input{Pre: "beta"},
			want: "2.0.0-beta.4", wantPrev: "v2.0.0-beta.3"},
		{name: "rc without a number", tags: []string{"v1.0.0", "v1.1.0-rc"}, msgs: []string{"feat: x"}, in: Input{Pre: "rc"},
			want: "1.1.0-rc.1", wantPrev: "v1.1.0-rc"},
		{name: "dotted pre id", tags: []string{"v1.0.0"}, msgs: []string{"feat: x"}, in: Input{Pre: "beta.x"},
			want: "1.1.0-beta.x.1", wantBump: BumpMinor, wantPrev: "v1.0.0"},
		{name: "pre id sorting below the line", tags: []string{"v1.0.0", "v2.0.0-rc.1"}, msgs: []string{"fix: x"}, in: Input{Pre: "beta"},
			err: ErrNotNewer},
		{name: "later pre id", tags: []string{"v1.0.0", "v2.0.0-beta.2"}, msgs: []string{"fix: x"}, in: Input{Pre: "rc"},
			want: "2.0.0-rc.1", wantPrev: "v2.0.0-beta.2"},

		{name: "HEAD released", tags: []string{"v1.4.1", "v1.4.2"}, head: []string{"v1.4.2"}, msgs: []string{"feat: x"},
			existing: "v1.4.2", wantPrev: "v1.4.2"},
		{name: "HEAD released, pre asked", tags: []string{"v1.4.2"}, head: []string{"v1.4.2"}, in: Input{Pre: "rc"},
			existing: "v1.4.2", wantPrev: "v1.4.2"},
		{name: "HEAD has the final and an rc", tags: []string{"v1.4.2", "v1.5.0-rc.1", "v1.5.0"}, head: []string{"v1.5.0-rc.1", "v1.5.0"}, msgs: []string{"feat: x"},
			existing: "v1.5.0", wantPrev: "v1.5.0"},
		{name: "HEAD has the rc asked for", tags: []string{"v1.4.2", "v1.5.0-rc.1"}, head: []string{"v1.5.0-rc.1"}, msgs: []string{"feat: x"}, in: Input{Pre: "rc"},
			existing: "v1.5.0-rc.1", wantPrev: "v1.5.0-rc.1"},
		{name: "HEAD rc is finalised", tags: []string{"v1.4.2", "v1.5.0-rc.1"}, head: []string{"v1.5.0-rc.1"}, msgs: []string{"feat: x"},
			want: "1.5.0", wantPrev: "v1.5.0-rc.1"},
		{name: "HEAD rc, another id below it", tags: []string{"v1.4.2", "v1.5.0-rc.1"}, head: []string{"v1.5.0-rc.1"}, msgs: []string{"feat: x"}, in: Input{Pre: "beta"},
			err: ErrNotNewer},
		{name: "no relevant commit since the release", tags: []string{"v1.4.2"},
			existing: "v1.4.2", wantPrev: "v1.4.2"},
		{name: "no relevant commit, bump forced", tags: []string{"v1.4.2"}, in: Input{Bump: BumpMajor},
			existing: "v1.4.2", wantPrev: "v1.4.2"},

		{name: "force", tags: []string{"v1.4.2"}, msgs: []string{"fix: x"}, in: Input{Version: "3.0.0"},
			want: "3.0.0", wantPrev: "v1.4.2"},
		{name: "force a pre-release", tags: []string{"v1.4.2"}, in: Input{Version: "2.0.0-beta.1"},
			want: "2.0.0-beta.1", wantPrev: "v1.4.2"},
		{name: "force on a released HEAD", tags: []string{"v1.4.2"}, head: []string{"v1.4.2"}, in: Input{Version: "2.0.0"},
			want: "2.0.0", wantPrev: "v1.4.2"},
		{name: "force with no tags", in: Input{Version: "0.0.1"}, want: "0.0.1"},
		{name: "force an existing version", tags: []string{"v1.4.2"}, in: Input{Version: "1.4.2"}, err: ErrTagExists},
		{name: "force an older version", tags: []string{"v1.4.2"}, in: Input{Version: "1.4.1"}, err: ErrNotNewer},
		{name: "force below an rc", tags: []string{"v1.4.2", "v2.0.0-rc.1"}, in: Input{Version: "2.0.0-beta.1"}, err: ErrNotNewer},
		{name: "force with a prefix", in: Input{Version: "v3.0.0"}, err: ErrInvalid},
		{name: "force a short version", in: Input{Version: "3.0"}, err: ErrInvalid},
		{name: "force and pre", in: Input{Version: "3.0.0", Pre: "rc"}, err: ErrInvalid},

		{name: "bad pre id", in: Input{Pre: "1rc"}, err: ErrInvalid},
		{name: "pre id with a space", in: Input{Pre: "r c"}, err: ErrInvalid},
		{name: "pre-release initial", in: Input{Initial: semver.MustParse("1.0.0-rc.1")}, err: ErrInvalid},
		{name: "bad input even when up to date", tags: []string{"v1.0.0"}, head: []string{"v1.0.0"}, in: Input{Pre: "1rc"}, err: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Tags, in.HeadTags, in.Messages = tagInfos(tt.tags...), tagInfos(tt.head...), tt.msgs
			got, err := PlanRelease(in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("PlanRelease error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("PlanRelease: %v", err)
			}
			prev := ""
			if got.Previous != nil {
				prev = got.Previous.Name
			}
			if prev != tt.wantPrev {
				t.Errorf("Previous = %q, want %q", prev, tt.wantPrev)
			}
			if tt.existing != "" {
				if !got.UpToDate || got.Existing == nil || got.Existing.Name != tt.existing {
					t.Fatalf("plan = %+v, want up to date with %s", got, tt.existing)
				}
				if got.Next != got.Existing.Version || got.Bump != BumpNone {
					t.Errorf("up-to-date plan Next = %v, Bump = %v", got.Next, got.Bump)
				}
				return
			}
			if got.UpToDate {
				t.Fatalf("plan is up to date with %s, want %s", got.Existing.Name, tt.want)
			}
			if got.Next.String() != tt.want || got.Bump != tt.wantBump {
				t.Errorf("Next, Bump = %s, %v; want %s, %v", got.Next, got.Bump, tt.want, tt.wantBump)
			}
		})
	}
}

func TestPlanReleaseIgnoresTagsWithoutVersion(t *testing.T) {
	in := Input{
		Tags:     append(tagInfos("v1.0.0"), TagInfo{Name: "broken"}),
		HeadTags: []TagInfo{{Name: "broken"}},
		Messages: []string{"fix: x"},
	}
	got, err := PlanRelease(in)
	if err != nil || got.Next.String() != "1.0.1" {
		t.Fatalf("PlanRelease = %+v, %v; want 1.0.1", got, err)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name     string
		tags     []string
		head     []string
		msgs     []string
		in       Input
		suffix   string
		want     string
		wantTag  string
		snapshot bool
		err      error
	}{
		{name: "released HEAD", tags: []string{"v1.4.2"}, head: []string{"v1.4.2"}, want: "1.4.2", wantTag: "v1.4.2"},
		{name: "rc on HEAD", tags: []string{"v1.4.2", "v1.5.0-rc.1"}, head: []string{"v1.5.0-rc.1"}, msgs: []string{"feat: x"},
			want: "1.5.0-rc.1", wantTag: "v1.5.0-rc.1"},
		{name: "highest on HEAD", tags: []string{"v1.5.0-rc.2", "v1.5.0"}, head: []string{"v1.5.0", "v1.5.0-rc.2"},
			want: "1.5.0", wantTag: "v1.5.0"},
		{name: "snapshot", tags: []string{"v1.4.2"}, msgs: []string{"fix: x"}, want: "1.4.3-SNAPSHOT", snapshot: true},
		{name: "snapshot suffix", tags: []string{"v1.4.2"}, msgs: []string{"feat: x"}, suffix: "dev", want: "1.5.0-dev", snapshot: true},
		{name: "pre and version are ignored", tags: []string{"v1.4.2"}, msgs: []string{"fix: x"}, in: Input{Pre: "rc", Version: "9.9.9"},
			want: "1.4.3-SNAPSHOT", snapshot: true},
		{name: "no tags", msgs: []string{"chore: init"}, want: "0.1.0-SNAPSHOT", snapshot: true},
		{name: "odd tags", tags: oddTags, msgs: []string{"fix: x"}, want: "2.0.0-SNAPSHOT", snapshot: true},
		{name: "no relevant commit since the release", tags: []string{"v1.4.2"}, want: "1.4.2", wantTag: "v1.4.2"},
		{name: "bad suffix", msgs: []string{"fix: x"}, suffix: "a b", err: ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Tags, in.HeadTags, in.Messages = tagInfos(tt.tags...), tagInfos(tt.head...), tt.msgs
			got, err := Describe(in, tt.suffix)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Describe error = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Describe: %v", err)
			}
			if got.Version.String() != tt.want || got.Tag != tt.wantTag || got.Snapshot != tt.snapshot {
				t.Errorf("Describe = %s, %q, %v; want %s, %q, %v", got.Version, got.Tag, got.Snapshot, tt.want, tt.wantTag, tt.snapshot)
			}
		})
	}
}
