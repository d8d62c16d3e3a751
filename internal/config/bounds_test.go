package config

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// hostileFile is an input built to cost a parser as much as it can.
type hostileFile struct {
	name string
	ci   bool // ci.yaml rather than slipway.yaml
	data string
	want string // a substring of the error, or "" when any outcome will do
}

const projectHead = "apiVersion: slipway/v1\napp: hello\n"

func hostileFiles() []hostileFile {
	var out []hostileFile
	add := func(name string, ci bool, want string, build func(b *strings.Builder)) {
		var b strings.Builder
		build(&b)
		out = append(out, hostileFile{name: name, ci: ci, data: b.String(), want: want})
	}
	add("one megabyte", false, "at most 256 KiB", func(b *strings.Builder) {
		b.WriteString(projectHead + "image: {workdir: \"")
		b.WriteString(strings.Repeat("a", 1<<20))
		b.WriteString("\"}\n")
	})
	add("billion laughs", false, "expands to more than", func(b *strings.Builder) {
		b.WriteString(projectHead + "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
		for i := 1; i < 10; i++ {
			fmt.Fprintf(b, "x%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
		}
		b.WriteString("image: {entrypoint: *a9}\n")
	})
	add("laughs in ci.yaml", true, "expands to more than", func(b *strings.Builder) {
		b.WriteString("apiVersion: slipway/v1\ntasks:\n  a0: &a0 {run: x, env: {A: b, B: c, C: d, D: e}}\n")
		for i := 1; i < 12; i++ {
			fmt.Fprintf(b, "  a%d: &a%d {run: x, env: {A: *a%d, B: *a%d, C: *a%d, D: *a%d}}\n", i, i, i-1, i-1, i-1, i-1)
		}
		b.WriteString("pipeline: [a11]\n")
	})
	add("a quarter of a million ports", false, "", func(b *strings.Builder) {
		b.WriteString(projectHead + "image:\n  ports: [")
		for b.Len() < 250<<10 {
			b.WriteString("x,")
		}
		b.WriteString("x]\n")
	})
	add("deeply nested parallel steps", true, "", func(b *strings.Builder) {
		b.WriteString("apiVersion: slipway/v1\ntasks: {t: x}\npipeline: ")
		for i := 0; i < 9000; i++ {
			b.WriteString("[{parallel: ")
		}
		b.WriteString("[t]")
		for i := 0; i < 9000; i++ {
			b.WriteString("}]")
		}
		b.WriteString("\n")
	})
	add("a long requires chain that loops", false, "requirements loop", func(b *strings.Builder) {
		b.WriteString(projectHead + "registries: {r: example.com/x}\nenvironments:\n")
		const n = 6000
		for i := 0; i < n; i++ {
			fmt.Fprintf(b, "  e%d: {registry: r, requires: e%d}\n", i, (i+1)%n)
		}
	})
	add("every environment names an unknown registry", false, "unknown registry", func(b *strings.Builder) {
		b.WriteString(projectHead + "registries:\n")
		for i := 0; i < 2000; i++ {
			fmt.Fprintf(b, "  registry-%d: example.com/x\n", i)
		}
		b.WriteString("environments:\n")
		for i := 0; i < 4000; i++ {
			fmt.Fprintf(b, "  e%d: {registry: nope-%d}\n", i, i)
		}
	})
	add("a huge unknown key", false, "unknown field", func(b *strings.Builder) {
		b.WriteString(projectHead + "? " + strings.Repeat("k", 250<<10) + "\n: 1\n")
	})
	add("a huge misspelt value", false, "is not valid", func(b *strings.Builder) {
		b.WriteString(projectHead + "release: {bump: " + strings.Repeat("m", 250<<10) + "}\n")
	})
	add("thousands of duplicate keys", false, "duplicate key", func(b *strings.Builder) {
		b.WriteString(projectHead)
		for b.Len() < 250<<10 {
			b.WriteString("app: hello\n")
		}
	})
	add("a second document", false, "second YAML document", func(b *strings.Builder) {
		b.WriteString(projectHead + "---\napiVersion: slipway/v1\n")
	})
	add("deep block nesting", false, "", func(b *strings.Builder) {
		b.WriteString(projectHead + "image:\n")
		for i := 1; i < 700; i++ {
			b.WriteString(strings.Repeat(" ", i) + "x:\n")
		}
	})
	return out
}

// TestHostileInputIsBounded holds the promise that any file up to 1 MB is
// accepted or refused with a bounded error, allocating less than 100 MB. The
// time each takes is logged, not asserted; `make fuzz` explores further.
func TestHostileInputIsBounded(t *testing.T) {
	project, err := ParseProject(ProjectFile, []byte(projectHead))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hostileFiles() {
		t.Run(h.name, func(t *testing.T) {
			if len(h.data) > 1<<20+64 {
				t.Fatalf("the input is %d bytes; keep hostile inputs within 1 MB", len(h.data))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			if h.ci {
				_, err = ParseCI(CIFile, []byte(h.data), project)
			} else {
				_, err = ParseProject(ProjectFile, []byte(h.data))
			}
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes: %v, %.1f MB allocated", len(h.data), took, float64(alloc)/(1<<20))
			if alloc > 100<<20 {
				t.Errorf("allocated %.1f MB; want under 100 MB", float64(alloc)/(1<<20))
			}
			if h.want != "" {
				if err == nil || !strings.Contains(err.Error(), h.want) {
					t.Fatalf("want an error containing %q, got %v", h.want, firstLine(err))
				}
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("want a configuration problem (exit 2), got %T: %v", err, firstLine(err))
			}
			msg := err.Error()
			if len(msg) > 64<<10 {
				t.Errorf("the error is %d bytes; it must quote only short prefixes and list a bounded number of problems", len(msg))
			}
			for _, line := range strings.Split(msg, "\n") {
				if len(line) > 2000 {
					t.Errorf("an error line is %d bytes: %.200s...", len(line), line)
					break
				}
			}
		})
	}
}

func firstLine(err error) string {
	if err == nil {
		return "<nil>"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"abcdefghijkl", 4, "abcd…(12 bytes)"},
		{"ééééé", 3, "é…(10 bytes)"}, // never cuts a rune in half
	}
	for _, tt := range tests {
		if got := clip(tt.in, tt.max); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestClipArgsQuotesOnlyFileValues(t *testing.T) {
	long := strings.Repeat("x", 500)
	args := clipArgs("%s: %q and %d%% of %q", []any{long, long, 5, "ok"})
	if args[0] != long {
		t.Errorf("a %%s argument was clipped")
	}
	if s := args[1].(string); len(s) > maxQuoted+20 {
		t.Errorf("a %%q argument was not clipped: %d bytes", len(s))
	}
	if args[3] != "ok" {
		t.Errorf("args after %%%% are misaligned: %v", args[3])
	}
}

func TestCanaryOfACanaryIsRefused(t *testing.T) {
	src := projectHead + `registries: {r: example.com/x}
environments:
  prod: {registry: r}
  canary: {registry: r, canaryOf: prod}
  pre: {registry: r, canaryOf: canary}
  a: {registry: r, canaryOf: b}
  b: {registry: r, canaryOf: a}
`
	_, err := ParseProject(ProjectFile, []byte(src))
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{
		`environments.pre.canaryOf: "canary" is itself a canary (of "prod")`,
		`environments.a.canaryOf: "b" is itself a canary`,
		`environments.b.canaryOf: "a" is itself a canary`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestImageEnvNames(t *testing.T) {
	_, err := ParseProject(ProjectFile, []byte(projectHead+"image:\n  env: {GOOD_1: x, \"1BAD\": y, \"A-B\": z, \"X=Y\": w}\n"))
	if err == nil {
		t.Fatal("want problems")
	}
	for _, want := range []string{`image.env.1BAD: "1BAD" is not an environment variable name`, `image.env.A-B:`, `image.env.X=Y:`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "GOOD_1") {
		t.Errorf("GOOD_1 is a valid name:\n%v", err)
	}
}
