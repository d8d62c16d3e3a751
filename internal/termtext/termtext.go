package termtext

import (
	"iter"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLine is the most bytes of one line that Clean lets through. Remote
// text (a registry's error body, an event, an annotation) has no length
// bound of its own; a line this long is already more than a reader
// reads.
const MaxLine = 2048

// minLine is the least cap CleanLines accepts, so that a cut line always
// has room for some text and the marker.
const minLine = 80

// markerRoom is the most bytes the cut marker " [… N bytes cut]" takes.
const markerRoom = 40

// Clean returns s made safe to write to a terminal, each line cut to
// MaxLine bytes. It is CleanLines(s, MaxLine).
func Clean(s string) string { return CleanLines(s, MaxLine) }

// CleanLines returns s made safe to write to a terminal:
//
//   - C0 controls other than '\n' and '\t', and DEL, become the four
//     characters \xNN: ESC shows as \x1b, so no escape sequence (OSC
//     titles, links and clipboard writes, CSI screen clears, SGR hidden
//     text), carriage return or backspace can act;
//   - a carriage return right before '\n' is dropped (CRLF line ends);
//   - C1 controls (U+0080 to U+009F, such as the one-character CSI
//     U+009B) and the bidirectional embeddings, overrides and isolates
//     (U+202A to U+202E, U+2066 to U+2069), which make text read
//     otherwise than it is stored, become \uNNNN;
//   - each byte that is not part of valid UTF-8 becomes \xNN;
//   - a line longer than limit bytes after that is cut, at a character,
//     to at most limit bytes that end in " [… N bytes cut]" (limit is at
//     least 80).
//
// Any other text, printable Unicode, tabs and newlines included, is
// returned unchanged, so CleanLines(CleanLines(s, n), n) equals
// CleanLines(s, n). The escapes are for reading, not for decoding: a
// backslash in s is left as it is.
func CleanLines(s string, limit int) string {
	limit = max(limit, minLine)
	if clean(s, limit) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), 1<<20))
	for i := 0; ; i++ {
		line, rest, more := strings.Cut(s, "\n")
		if more {
			line = strings.TrimSuffix(line, "\r")
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		writeLine(&b, line, limit)
		if !more {
			return b.String()
		}
		s = rest
	}
}

// clean reports whether s needs no change: nothing to escape, no line
// over limit bytes.
func clean(s string, limit int) bool {
	line := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == '\n' {
				line = 0
			} else if c < 0x20 && c != '\t' || c == 0x7f {
				return false
			} else if line++; line > limit {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || unsafeRune(r) {
			return false
		}
		if line += size; line > limit {
			return false
		}
		i += size
	}
	return true
}

// unsafeRune reports whether r, a valid non-ASCII rune, is a C1 control
// or a bidirectional formatting character that reorders what follows.
func unsafeRune(r rune) bool {
	return r >= 0x80 && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// writeLine writes line, which holds no '\n', escaped and cut to limit
// bytes.
func writeLine(b *strings.Builder, line string, limit int) {
	total := 0
	for t := range tokens(line) {
		total += len(t)
	}
	keep := total
	if total > limit {
		keep = limit - markerRoom
	}
	written := 0
	for t := range tokens(line) {
		if written+len(t) > keep {
			break
		}
		b.WriteString(t)
		written += len(t)
	}
	if written < total {
		b.WriteString(" [… " + strconv.Itoa(total-written) + " bytes cut]")
	}
}

// tokens yields each character of line as it is to be written: itself,
// or its escape.
func tokens(line string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := 0; i < len(line); {
			t, size := token(line[i:])
			if !yield(t) {
				return
			}
			i += size
		}
	}
}

// token is the first character of s as it is to be written, and its
// size in s.
func token(s string) (string, int) {
	c := s[0]
	switch {
	case c < 0x20 && c != '\t' || c == 0x7f:
		return byteEscape(c), 1
	case c < utf8.RuneSelf:
		return s[:1], 1
	}
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case r == utf8.RuneError && size == 1:
		return byteEscape(c), 1
	case unsafeRune(r):
		return runeEscape(r), size
	}
	return s[:size], size
}

const hexDigits = "0123456789abcdef"

func byteEscape(c byte) string {
	return string([]byte{'\\', 'x', hexDigits[c>>4], hexDigits[c&0xf]})
}

func runeEscape(r rune) string {
	return string([]byte{'\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf]})
}

// Clip shortens s to at most n bytes, cut on a rune boundary and marked
// with "…".
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n-len("…"), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
