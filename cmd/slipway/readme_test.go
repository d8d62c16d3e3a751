package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEFirstTenMinutes checks that every slipway command of the
// README's "In your own project" block is run by readme_first.txtar, the
// registry placeholder standing for the script's registry, so that the
// README's first commands are the ones a test runs.
func TestREADMEFirstTenMinutes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "In your own project:\n\n```sh\n")
	block, _, closed := strings.Cut(after, "```")
	if !ok || !closed {
		t.Fatal(`README.md has no "In your own project:" sh block`)
	}
	script, err := os.ReadFile("testdata/script/readme_first.txtar")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(block, "\n") {
		cmd, _, _ := strings.Cut(line, "#")
		cmd = strings.TrimSpace(cmd)
		if !strings.HasPrefix(cmd, "slipway ") {
			continue
		}
		n++
		want := "exec " + strings.ReplaceAll(cmd, "REGISTRY/TEAM", "$DEV_HOST/team") + "\n"
		if !strings.Contains(string(script), want) {
			t.Errorf("readme_first.txtar does not run the README's %q (want a line %q)", cmd, strings.TrimSpace(want))
		}
	}
	if n < 5 {
		t.Errorf("found %d slipway commands in the README block, want the first ten minutes' (at least 5)", n)
	}
}
