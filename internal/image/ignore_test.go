package image

import (
	"bufio"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/projfs"
)

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

// TestReadIgnoreFile: .slipwayignore's lines are cut as bufio.ScanLines
// cuts them (they enter the inputs hash), and the file is refused as a
// symlink, which could lead to any file on the machine.
func TestReadIgnoreFile(t *testing.T) {
	tests := []struct {
		name    string
		f       file
		want    []string
		wantErr error
	}{
		{"none", file{}, nil, nil},
		{"empty", file{content: ""}, nil, nil},
		{"lines", file{content: "a\nb"}, []string{"a", "b"}, nil},
		{"CRLF", file{content: "a\r\nb\r\n"}, []string{"a", "b"}, nil},
		{"blank lines", file{content: "\na\n\n"}, []string{"", "a", ""}, nil},
		{"a symlink", file{link: "/etc/passwd"}, nil, projfs.ErrSymlink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.name != "none" {
				writeProject(t, dir, map[string]file{IgnoreFile: tt.f})
			}
			got, err := readIgnoreFile(dir)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("lines %q, want %q", got, tt.want)
			}
			if tt.wantErr == nil && tt.name != "none" {
				var scanned []string
				s := bufio.NewScanner(strings.NewReader(tt.f.content))
				for s.Scan() {
					scanned = append(scanned, s.Text())
				}
				if !slices.Equal(got, scanned) {
					t.Errorf("lines %q, bufio.Scanner's %q", got, scanned)
				}
			}
		})
	}
}
