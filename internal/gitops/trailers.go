package gitops

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/slipwayhq/slipway/internal/gitremote"
)

// Trailers are what Slipway records in the trailers of its commits, and
// reads back for History. Anyone who may push to the repository can write
// them too, so ParseTrailers keeps only values in their valid form.
type Trailers struct {
	// App and Env name what was deployed where.
	App string `json:"app,omitempty"`
	Env string `json:"env,omitempty"`
	// Version is the version deployed; Digest the image's digest
	// (sha256:...); SourceCommit the commit of the app's repository it
	// was built from.
	Version      string `json:"version,omitempty"`
	Digest       string `json:"digest,omitempty"`
	SourceCommit string `json:"sourceCommit,omitempty"`
	// By is who deployed, Reason why (free text, one line).
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Reverts is the commit a revert undoes; Restores the commit whose
	// files a restore brings back.
	Reverts  string `json:"reverts,omitempty"`
	Restores string `json:"restores,omitempty"`
}

// Bounds of trailer values and messages.
const (
	maxName     = 63   // App and Env
	maxVersion  = 128  // Version
	maxText     = 256  // By and Reason
	maxMessage  = 4096 // the message a caller gives, before the trailers
	maxTrailers = 16 << 10
	maxQuote    = 64 // what an error quotes of a value
)

var (
	nameValue    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	versionValue = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]*$`)
	digestValue  = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	hashValue    = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
	trailerKey   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)
)

// trailerField is one trailer: its key, where its value lives and what
// values are valid.
type trailerField struct {
	key   string
	value func(*Trailers) *string
	valid func(string) bool
	form  string // the valid form, for errors
}

// fields are the trailers in the order Slipway writes them.
var fields = []trailerField{
	{"Slipway-App", func(t *Trailers) *string { return &t.App }, isName, "a name of letters, digits, '.', '_' and '-'"},
	{"Slipway-Env", func(t *Trailers) *string { return &t.Env }, isName, "a name of letters, digits, '.', '_' and '-'"},
	{"Slipway-Version", func(t *Trailers) *string { return &t.Version }, isVersion, "a version of letters, digits, '.', '+', '_' and '-'"},
	{"Slipway-Digest", func(t *Trailers) *string { return &t.Digest }, digestValue.MatchString, "sha256: and 64 hex digits"},
	{"Slipway-Source-Commit", func(t *Trailers) *string { return &t.SourceCommit }, hashValue.MatchString, "a full commit hash"},
	{"Slipway-By", func(t *Trailers) *string { return &t.By }, isText, "one line of printable text"},
	{"Slipway-Reason", func(t *Trailers) *string { return &t.Reason }, isText, "one line of printable text"},
	{"Slipway-Reverts", func(t *Trailers) *string { return &t.Reverts }, hashValue.MatchString, "a full commit hash"},
	{"Slipway-Restores", func(t *Trailers) *string { return &t.Restores }, hashValue.MatchString, "a full commit hash"},
}

func isName(s string) bool    { return len(s) <= maxName && nameValue.MatchString(s) }
func isVersion(s string) bool { return len(s) <= maxVersion && versionValue.MatchString(s) }

// isText reports whether s is one line of printable text within maxText
// bytes, with no space at either end (a trailer's value loses them).
func isText(s string) bool {
	return s != "" && len(s) <= maxText && strings.TrimSpace(s) == s && printable(s, false)
}

// printable reports whether s is valid UTF-8 without control characters
// (but newline and tab when multiline), format characters (which include
// the bidirectional overrides) or line and paragraph separators.
func printable(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}

// FormatTrailers writes t as a trailer block: a "Key: value" line for each
// value set, in a fixed order. A value outside its valid form is an error
// wrapping ErrInvalid.
func FormatTrailers(t Trailers) (string, error) {
	var b strings.Builder
	for _, f := range fields {
		v := *f.value(&t)
		if v == "" {
			continue
		}
		if !f.valid(v) {
			return "", fmt.Errorf("writing trailer %s %q: %w: must be %s", f.key, gitremote.Cut(v, maxQuote), ErrInvalid, f.form)
		}
		fmt.Fprintf(&b, "%s: %s\n", f.key, v)
	}
	return b.String(), nil
}

// Message is a commit message: msg (a subject line, then optionally a
// blank line and a body), a blank line, and t's trailers. msg must be
// printable (newlines and tabs allowed) and at most 4 KiB.
func Message(msg string, t Trailers) (string, error) {
	msg = strings.TrimSpace(msg)
	switch {
	case msg == "":
		return "", fmt.Errorf("writing a commit message: %w: it is empty", ErrInvalid)
	case len(msg) > maxMessage:
		return "", fmt.Errorf("writing a commit message: %w: %d bytes, more than %d", ErrInvalid, len(msg), maxMessage)
	case !printable(msg, true):
		return "", fmt.Errorf("writing commit message %q: %w: it holds a control or formatting character", gitremote.Cut(msg, maxQuote), ErrInvalid)
	case ParseTrailers(msg) != Trailers{}:
		// Without trailers of ours after it, they would be read as ours.
		return "", fmt.Errorf("writing commit message %q: %w: it ends in Slipway trailers of its own", gitremote.Cut(msg, maxQuote), ErrInvalid)
	}
	block, err := FormatTrailers(t)
	if err != nil {
		return "", err
	}
	if block == "" {
		return msg + "\n", nil
	}
	return msg + "\n\n" + block, nil
}

// ParseTrailers reads Slipway's trailers from a commit message: the
// "Key: value" lines of its last paragraph, when that is not its first
// (the subject is never a trailer). Keys match without regard to case, as
// git's do. Only the last 16 KiB of a message are read. A value outside
// its valid form, a key given twice and a value continued on the next line
// are left out: the rest of the trailers still count.
func ParseTrailers(message string) Trailers {
	block, ok := lastParagraph(message)
	if !ok {
		return Trailers{}
	}
	var t Trailers
	seen := map[int]int{} // field index -> times seen
	last := -1            // the field of the previous line, for continuations
	for _, line := range strings.Split(block, "\n") {
		if line != "" && (line[0] == ' ' || line[0] == '\t') {
			if last >= 0 {
				seen[last] = 2 // a value on several lines is not one of ours
			}
			continue
		}
		last = -1
		key, value, found := strings.Cut(line, ":")
		if !found || !trailerKey.MatchString(key) {
			continue
		}
		for i, f := range fields {
			if strings.EqualFold(key, f.key) {
				seen[i]++
				last = i
				*f.value(&t) = strings.TrimSpace(value)
			}
		}
	}
	for i, f := range fields {
		if v := f.value(&t); seen[i] != 1 || !f.valid(*v) {
			*v = ""
		}
	}
	return t
}

// lastParagraph returns the last paragraph of message (of its last 16 KiB),
// and false when that is its first paragraph.
func lastParagraph(message string) (string, bool) {
	cut := len(message) > maxTrailers
	if cut {
		message = message[len(message)-maxTrailers:]
	}
	message = strings.ReplaceAll(message, "\r\n", "\n")
	lines := strings.Split(strings.TrimRight(message, " \t\n"), "\n")
	start := -1
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) == "" {
			start = i + 1
			break
		}
	}
	if start < 0 && !cut {
		return "", false // one paragraph: the subject
	}
	start = max(start, 1) // a line cut at the start is not whole
	if start >= len(lines) {
		return "", false
	}
	return strings.Join(lines[start:], "\n"), true
}

// ValidVersion and ValidDigest say whether s may be a Slipway-Version or
// Slipway-Digest trailer's value, for values read from elsewhere (a
// cluster's annotations) before they go into a commit.
func ValidVersion(s string) bool { return isVersion(s) }

// ValidDigest: see ValidVersion.
func ValidDigest(s string) bool { return digestValue.MatchString(s) }
