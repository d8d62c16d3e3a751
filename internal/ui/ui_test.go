package ui

import (
	"bytes"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/progress"
)

func TestPlainWhenNotATerminal(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
		noColor  bool
		wantESC  bool
	}{
		{"pipe", false, false, false},
		{"terminal", true, false, true},
		{"terminal with --no-color", true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			u := New(&out, &errw, Options{Terminal: &tc.terminal, NoColor: tc.noColor})
			u.Report(progress.Event{Kind: progress.Update, Step: "push", Done: 5, Total: 10, Unit: "B"})
			u.Report(progress.Event{Kind: progress.Finish, Step: "push", Msg: "pushed"})
			u.Table([]string{"ENV", "VERSION"}, [][]string{{"dev", "1.0.0"}})
			got := errw.String() + out.String()
			if strings.Contains(got, "\033") != tc.wantESC {
				t.Errorf("escape codes: got %q", got)
			}
			if !strings.Contains(errw.String(), "push     pushed") {
				t.Errorf("step line: %q", errw.String())
			}
		})
	}
}

func TestNoColorEnv(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	yes := true
	var out, errw bytes.Buffer
	u := New(&out, &errw, Options{Terminal: &yes})
	u.Report(progress.Event{Kind: progress.Update, Step: "push", Done: 5, Total: 10, Unit: "B"})
	u.Failure("bad")
	if strings.Contains(errw.String(), "\033") || strings.Contains(errw.String(), "[====") {
		t.Errorf("NO_COLOR must mean no colour and no bars: %q", errw.String())
	}
}

func TestTableAligns(t *testing.T) {
	var out bytes.Buffer
	u := New(&out, &bytes.Buffer{}, Options{})
	u.Table([]string{"ENV", "VERSION"}, [][]string{{"showcase", "1.0.0"}, {"dev", "1.1.0-SNAPSHOT"}})
	want := "ENV       VERSION\nshowcase  1.0.0\ndev       1.1.0-SNAPSHOT\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestAmount(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		unit string
		want string
	}{{999, "B", "999 B"}, {1500, "B", "1.5 kB"}, {2_500_000, "B", "2.5 MB"}, {3_000_000_000, "B", "3.00 GB"}, {7, "", "7"}} {
		if got := Amount(tc.n, tc.unit); got != tc.want {
			t.Errorf("Amount(%d, %q) = %q, want %q", tc.n, tc.unit, got, tc.want)
		}
	}
}

// hostile is remote text that would retitle the window, clear the
// screen, plant a link and write the clipboard if it reached a terminal.
const hostile = "\x1b]0;pwned\x07\x1b[2J\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\\x1b]52;c;ZXZpbA==\x07\u009b2J\u202egnp.exe"

// TestRemoteTextIsCleaned checks every way the UI writes text: step
// lines, the progress bar, failures, hints, tables and results. Its own
// styling still reaches a terminal; the remote escape sequences do not.
func TestRemoteTextIsCleaned(t *testing.T) {
	for _, terminal := range []bool{false, true} {
		var out, errw bytes.Buffer
		u := New(&out, &errw, Options{Terminal: &terminal, Verbose: true})
		u.Report(progress.Event{Kind: progress.Update, Step: "push", Msg: hostile, Done: 10, Total: 10, Unit: "B"})
		for _, k := range []progress.Kind{progress.Info, progress.Start, progress.Finish, progress.Skip, progress.Warn} {
			u.Report(progress.Event{Kind: k, Step: "deploy", Msg: hostile})
		}
		u.Failure(hostile)
		u.Hint(hostile)
		u.Table([]string{"ENV", "NOTES"}, [][]string{{"dev", hostile + "\nfake\trow"}})
		u.ErrTable([]string{"STEP"}, [][]string{{hostile}})
		u.Prompt(hostile)
		if err := u.Println(hostile); err != nil {
			t.Fatal(err)
		}
		if err := u.Print(hostile); err != nil {
			t.Fatal(err)
		}
		got := errw.String() + out.String()
		for _, bad := range []string{"\x1b]", "\x07", "\x1b[2J", "\u009b", "\u202e"} {
			if strings.Contains(got, bad) {
				t.Errorf("terminal %v: output holds %q:\n%q", terminal, bad, got)
			}
		}
		want := 12 // five step lines, failure, hint, two tables, prompt, two results
		if terminal {
			want++ // and the bar
		}
		if n := strings.Count(got, `\x1b]0;pwned\x07\x1b[2J`); n != want {
			t.Errorf("terminal %v: the escaped text is shown %d times, want %d:\n%q", terminal, n, want, got)
		}
		if terminal && !strings.Contains(errw.String(), "\r\033[K") {
			t.Errorf("the progress bar lost its own control sequence: %q", errw.String())
		}
		if strings.Contains(out.String(), "\nfake") {
			t.Errorf("a table cell drew a line of its own: %q", out.String())
		}
	}
}

// TestDocumentIsExact checks that a document Slipway encoded itself is
// written byte for byte.
func TestDocumentIsExact(t *testing.T) {
	var out bytes.Buffer
	u := New(&out, &bytes.Buffer{}, Options{})
	doc := []byte("{\"a\": \"\\u001b\"}\n" + strings.Repeat("x", 5000) + "\n")
	if err := u.Document(doc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), doc) {
		t.Errorf("Document changed the bytes")
	}
}
