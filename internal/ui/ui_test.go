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
