package gitops

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

var (
	aDigest = "sha256:" + strings.Repeat("ab", 32)
	aHash   = strings.Repeat("c0", 20)
	bHash   = strings.Repeat("d1", 20)
)

func fullTrailers() Trailers {
	return Trailers{App: "hello", Env: "prod", Version: "1.2.3-rc.1+build.5", Digest: aDigest, SourceCommit: aHash,
		By: "Ann Example <ann@example.com>", Reason: "ship the fix for #42", Reverts: bHash, Restores: aHash}
}

func TestFormatAndParseTrailers(t *testing.T) {
	msg, err := Message("deploy hello 1.2.3 to prod\n\nBuilt by CI.", fullTrailers())
	if err != nil {
		t.Fatal(err)
	}
	want := "deploy hello 1.2.3 to prod\n\nBuilt by CI.\n\n" +
		"Slipway-App: hello\nSlipway-Env: prod\nSlipway-Version: 1.2.3-rc.1+build.5\nSlipway-Digest: " + aDigest + "\n" +
		"Slipway-Source-Commit: " + aHash + "\nSlipway-By: Ann Example <ann@example.com>\nSlipway-Reason: ship the fix for #42\n" +
		"Slipway-Reverts: " + bHash + "\nSlipway-Restores: " + aHash + "\n"
	if msg != want {
		t.Errorf("Message =\n%s\nwant\n%s", msg, want)
	}
	if got := ParseTrailers(msg); got != fullTrailers() {
		t.Errorf("ParseTrailers = %+v", got)
	}
	if msg, _ := Message("just a subject", Trailers{}); msg != "just a subject\n" {
		t.Errorf("Message without trailers = %q", msg)
	}
}

func TestParseTrailers(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want Trailers
	}{
		{"none", "deploy\n", Trailers{}},
		{"the subject is never a trailer", "Slipway-App: hello\n", Trailers{}},
		{"the last paragraph only", "deploy\n\nSlipway-App: old\n\nbody\n\nSlipway-App: hello\n", Trailers{App: "hello"}},
		{"keys in any case, others kept apart", "deploy\n\nslipway-app: hello\nSigned-off-by: Ann <a@b>\nSLIPWAY-ENV: prod\n", Trailers{App: "hello", Env: "prod"}},
		{"CRLF", "deploy\r\n\r\nSlipway-App: hello\r\nSlipway-Env: prod\r\n", Trailers{App: "hello", Env: "prod"}},
		{"a key twice counts for neither", "deploy\n\nSlipway-Digest: " + aDigest + "\nSlipway-Digest: sha256:" + strings.Repeat("0", 64) + "\nSlipway-App: hello\n", Trailers{App: "hello"}},
		{"a continued value is not ours", "deploy\n\nSlipway-Reason: one\n  two\nSlipway-App: hello\n", Trailers{App: "hello"}},
		{"invalid values are left out", "deploy\n\nSlipway-Digest: sha256:xyz\nSlipway-App: ../etc\nSlipway-Version: 1.0 beta\nSlipway-Source-Commit: abc\nSlipway-Env: prod\n", Trailers{Env: "prod"}},
		{"control characters", "deploy\n\nSlipway-By: ann\x1b]0;pwned\x07\nSlipway-Reason: why\u202egnp.exe\nSlipway-App: hello\n", Trailers{App: "hello"}},
		{"too long", "deploy\n\nSlipway-Reason: " + strings.Repeat("r", maxText+1) + "\nSlipway-App: " + strings.Repeat("a", maxName+1) + "\n", Trailers{}},
		{"space around values", "deploy\n\nSlipway-App:   hello  \n", Trailers{App: "hello"}},
		{"no space after the colon", "deploy\n\nSlipway-App:hello\n", Trailers{App: "hello"}},
		{"a 64-digit hash", "deploy\n\nSlipway-Reverts: " + strings.Repeat("e", 64) + "\n", Trailers{Reverts: strings.Repeat("e", 64)}},
		{"an upper-case hash", "deploy\n\nSlipway-Reverts: " + strings.ToUpper(aHash) + "\n", Trailers{}},
		{"only the last 16 KiB", "deploy\n\n" + strings.Repeat("x", 20<<10) + "\nSlipway-App: hello\n", Trailers{App: "hello"}},
		{"a huge last paragraph", "deploy\n\nSlipway-App: hello\n" + strings.Repeat("Other: x\n", 4<<10), Trailers{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseTrailers(tt.msg); got != tt.want {
				t.Errorf("ParseTrailers = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFormatTrailersRefusesInvalid(t *testing.T) {
	long := strings.Repeat("z", 10_000)
	tests := []struct {
		name string
		t    Trailers
		key  string
	}{
		{"newline in a reason", Trailers{Reason: "one\nSlipway-Digest: " + aDigest}, "Slipway-Reason"},
		{"escape in who", Trailers{By: "ann\x1b[2J"}, "Slipway-By"},
		{"bad digest", Trailers{Digest: "sha256:123"}, "Slipway-Digest"},
		{"bad app", Trailers{App: "hello world"}, "Slipway-App"},
		{"short hash", Trailers{Reverts: "abc123"}, "Slipway-Reverts"},
		{"huge version", Trailers{Version: long}, "Slipway-Version"},
		{"leading space", Trailers{Reason: " why"}, "Slipway-Reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FormatTrailers(tt.t)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("FormatTrailers = %v, want ErrInvalid naming %s", err, tt.key)
			}
			if len(err.Error()) > 300 || strings.ContainsAny(err.Error(), "\n\x1b") {
				t.Errorf("the error quotes too much: %q", err)
			}
		})
	}
}

func TestMessageRefusesInvalid(t *testing.T) {
	for _, msg := range []string{"", "  \n ", strings.Repeat("m", maxMessage+1), "deploy\x00", "deploy \x1b[31mred", "deploy \u202e",
		"deploy\n\nSlipway-Digest: " + aDigest} {
		if _, err := Message(msg, Trailers{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Message(%q) = %v, want ErrInvalid", msg, err)
		}
	}
}

// FuzzParseTrailers checks that any message parses without panic into
// trailers that are all valid, and that a message Message accepts, with
// those trailers, parses back to exactly them.
func FuzzParseTrailers(f *testing.F) {
	full, _ := Message("deploy hello\n\nbody", fullTrailers())
	for _, s := range []string{"", "x", full, "deploy\n\nSlipway-App: a\nSlipway-App: b\n", "d\n\nSlipway-Reason: a\n b\n", "\n\n\n", "deploy\r\n\r\nSlipway-Env: x\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		got := ParseTrailers(msg)
		block, err := FormatTrailers(got)
		if err != nil {
			t.Fatalf("ParseTrailers(%q) = %+v, which FormatTrailers refuses: %v", msg, got, err)
		}
		for _, f := range fields {
			if v := *f.value(&got); v != "" && (!utf8.ValidString(v) || strings.ContainsAny(v, "\r\n\x00\x1b")) {
				t.Fatalf("%s = %q", f.key, v)
			}
		}
		again, err := Message("subject\n\n"+msg, got)
		if err != nil {
			return // msg is no message body; the trailers were checked above
		}
		if back := ParseTrailers(again); back != got {
			t.Fatalf("round trip of %q: %+v, then %+v", block, got, back)
		}
	})
}
