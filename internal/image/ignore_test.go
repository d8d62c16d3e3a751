package image

import "testing"

func TestMatcher(t *testing.T) {
	tests := []struct {
		patterns []string
		path     string
		dir      bool
		want     bool
	}{
		{[]string{"*.log"}, "a.log", false, true},
		{[]string{"*.log"}, "deep/down/a.log", false, true},
		{[]string{"*.log"}, "a.log.txt", false, false},
		{[]string{"# comment", ""}, "# comment", false, false},
		{[]string{`\#hash`}, "#hash", false, true},
		{[]string{"tmp/"}, "x/tmp", true, true},
		{[]string{"tmp/"}, "x/tmp", false, false},
		{[]string{"/build"}, "build", true, true},
		{[]string{"/build"}, "sub/build", true, false},
		{[]string{"docs/*.md"}, "docs/a.md", false, true},
		{[]string{"docs/*.md"}, "x/docs/a.md", false, false},
		{[]string{"**/docs/*.md"}, "x/docs/a.md", false, true},
		{[]string{"a/**/z"}, "a/z", false, true},
		{[]string{"a/**/z"}, "a/b/c/z", false, true},
		{[]string{"a/**"}, "a/b/c", false, true},
		{[]string{"a/**"}, "b/a/c", false, false},
		{[]string{"*.log", "!keep.log"}, "keep.log", false, false},
		{[]string{"!keep.log", "*.log"}, "keep.log", false, true},
		{[]string{"file?.txt"}, "file1.txt", false, true},
		{[]string{"[ab].txt"}, "b.txt", false, true},
		{[]string{"trailing   "}, "trailing", false, true},
		{nil, "anything", false, false},
	}
	for _, tt := range tests {
		m, err := newMatcher("test", tt.patterns)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.match(tt.path, tt.dir); got != tt.want {
			t.Errorf("%q match(%q, dir=%v) = %v, want %v", tt.patterns, tt.path, tt.dir, got, tt.want)
		}
	}
	if _, err := newMatcher("test", []string{"ok", "[bad"}); err == nil {
		t.Error("bad pattern accepted")
	}
}
