package termtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestClean checks each way remote text can act on a terminal, and that
// plain text passes unchanged.
func TestClean(t *testing.T) {
	long := strings.Repeat("x", MaxLine+100)
	cut := strings.Repeat("x", MaxLine-markerRoom) + " [… 140 bytes cut]"
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello, world", "hello, world"},
		{"unicode, tabs and newlines", "✓ déployé\tréussi\n日本語 🚀\n", "✓ déployé\tréussi\n日本語 🚀\n"},
		{"empty", "", ""},
		{"window title (OSC 0, BEL)", "\x1b]0;pwned\x07done", `\x1b]0;pwned\x07done`},
		{"window title (OSC 2, ST)", "\x1b]2;pwned\x1b\\done", `\x1b]2;pwned\x1b\done`},
		{"disguised link (OSC 8)", "\x1b]8;;https://evil.example/\x1b\\https://good.example/\x1b]8;;\x1b\\",
			`\x1b]8;;https://evil.example/\x1b\https://good.example/\x1b]8;;\x1b\`},
		{"clipboard write (OSC 52)", "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07", `\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07`},
		{"clear screen (CSI 2J)", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`},
		{"hidden text (SGR 8)", "ok \x1b[8msecret\x1b[0m", `ok \x1b[8msecret\x1b[0m`},
		{"carriage return overwrite", "rm -rf /\rls     ", `rm -rf /\x0dls     `},
		{"CRLF line ends", "one\r\ntwo\r\n", "one\ntwo\n"},
		{"backspaces", "evil\b\b\b\bgood", `evil\x08\x08\x08\x08good`},
		{"DEL and NUL", "a\x7fb\x00c", `a\x7fb\x00c`},
		{"C1 CSI (U+009B)", "\u009b2J", `\u009b2J`},
		{"C1 NEL and OSC", "a\u0085b\u009d0;t\u009c", `a\u0085b\u009d0;t\u009c`},
		{"raw C1 byte", "\x9b2J", `\x9b2J`},
		{"bidi override", "access\u202e\u2066// admin\u2069\u2066", `access\u202e\u2066// admin\u2069\u2066`},
		{"bidi embeddings", "\u202a\u202b\u202c\u202d", `\u202a\u202b\u202c\u202d`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"U+FFFD itself", "a\uFFFDb", "a\uFFFDb"},
		{"long line cut", long, cut},
		{"only the long line cut", "short\n" + long + "\nshort", "short\n" + cut + "\nshort"},
		{"escapes count towards the cap", strings.Repeat("\x1b", MaxLine), strings.Repeat(`\x1b`, (MaxLine-markerRoom)/4) + " [… 6184 bytes cut]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clean(tt.in)
			if got != tt.want {
				t.Errorf("Clean(%.100q) =\n%.300q\nwant\n%.300q", tt.in, got, tt.want)
			}
			if again := Clean(got); again != got {
				t.Errorf("Clean is not idempotent: %.300q, then %.300q", got, again)
			}
		})
	}
}

// TestCleanLinesCap checks a chosen cap, and that a cap too small to
// hold the marker is raised.
func TestCleanLinesCap(t *testing.T) {
	for _, tc := range []struct {
		limit, want int
	}{{200, 200}, {10, minLine}, {0, minLine}} {
		got := CleanLines(strings.Repeat("é", 500), tc.limit)
		if len(got) > tc.want || !strings.HasSuffix(got, " bytes cut]") || !utf8.ValidString(got) {
			t.Errorf("CleanLines(1000 bytes, %d) = %d bytes %q; want at most %d, cut at a character, with the marker", tc.limit, len(got), got, tc.want)
		}
	}
}

// TestCleanKeepsPlainText checks that text needing no change is returned
// as it is, without a copy.
func TestCleanKeepsPlainText(t *testing.T) {
	s := "deployed 1.2.3 to prod\n✓ done"
	if n := testing.AllocsPerRun(100, func() { _ = Clean(s) }); n != 0 {
		t.Errorf("Clean of plain text allocates %v times", n)
	}
}

// FuzzClean checks that no control character, C1 control, bidi
// formatting character or invalid UTF-8 survives Clean, that no line is
// over MaxLine bytes, and that Clean is idempotent.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b]0;t\x07\x1b[2J", "a\r\nb\rc\bd", "\u009b\u202e\xff", strings.Repeat("\x1b", MaxLine)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Clean(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Clean(%q) = %q: invalid UTF-8", s, got)
		}
		for _, r := range got {
			if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f || unsafeRune(r) {
				t.Fatalf("Clean(%q) = %q holds %U", s, got, r)
			}
		}
		for _, l := range strings.Split(got, "\n") {
			if len(l) > MaxLine {
				t.Fatalf("Clean(%q) has a line of %d bytes", s, len(l))
			}
		}
		if again := Clean(got); again != got {
			t.Fatalf("Clean is not idempotent on %q: %q, then %q", s, got, again)
		}
		if clean(s, MaxLine) && got != s {
			t.Fatalf("Clean changed clean text %q to %q", s, got)
		}
	})
}

// TestClip cuts on a rune boundary, the marker within the bound.
func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{strings.Repeat("é", 100), 11, "éééé…"},
		{"short", 11, "short"},
		{"abcdef", 4, "a…"},
	} {
		if got := Clip(c.in, c.n); got != c.want || len(got) > max(c.n, len(c.want)) {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
