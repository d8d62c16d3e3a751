package ui

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"golang.org/x/term"

	"github.com/slipwayhq/slipway/internal/progress"
	"github.com/slipwayhq/slipway/internal/termtext"
)

// Options choose how output looks.
type Options struct {
	NoColor bool // --no-color; NO_COLOR in the environment has the same effect
	Verbose bool // show Info events
	// Terminal overrides terminal detection (for tests); nil means detect.
	Terminal *bool
}

// UI writes results to Out and progress to Err.
//
// Every text line it writes passes Clean first: messages, tables and
// results carry text from registries, clusters and git servers, and
// none of it may act on the terminal. Slipway's own styling (colours,
// the progress bar's in-place updates) is added after cleaning. Write
// through its methods, not to Out and Err directly; the exceptions are
// documents Slipway encodes itself (Document) and the output of the
// team's own ci tasks, which passes through as it is.
type UI struct {
	Out, Err io.Writer
	tty      bool // Err is a terminal and colour is on: progress bars, in-place updates
	verbose  bool
	r        *lipgloss.Renderer // styles for Err
	ro       *lipgloss.Renderer // styles for Out

	mu      sync.Mutex
	bar     string // the progress line currently drawn on Err, if any
	lastBar time.Time
}

// New returns a UI writing results to out and progress to err.
func New(out, err io.Writer, o Options) *UI {
	tty := isTerminal(err)
	if o.Terminal != nil {
		tty = *o.Terminal
	}
	noColor := o.NoColor || os.Getenv("NO_COLOR") != ""
	outTTY := isTerminal(out)
	if o.Terminal != nil {
		outTTY = *o.Terminal
	}
	// Bars and in-place updates, like colour, only on a terminal and never
	// with NO_COLOR: plain step lines are what logs want.
	return &UI{Out: out, Err: err, tty: tty && !noColor, verbose: o.Verbose,
		r: renderer(err, tty && !noColor), ro: renderer(out, outTTY && !noColor)}
}

func renderer(w io.Writer, color bool) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(w)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	return r
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Clean returns remote text safe to write to a terminal: control
// characters, escape sequences in any form, bidirectional overrides and
// invalid UTF-8 shown as visible escapes (ESC as \x1b), each line cut to
// termtext.MaxLine bytes with a marker saying how much was cut. Plain
// text is unchanged, and cleaning twice is cleaning once.
func Clean(s string) string { return termtext.Clean(s) }

// oneLine is Clean for a place that holds one line (a table cell, the
// progress bar): newlines and tabs become spaces, so that remote text
// cannot draw rows or lines of its own.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, Clean(s))
}

// Terminal reports whether progress goes to a terminal.
func (u *UI) Terminal() bool { return u.tty }

var (
	green  = lipgloss.Color("2")
	red    = lipgloss.Color("1")
	yellow = lipgloss.Color("3")
	faint  = lipgloss.Color("8")
)

func (u *UI) style(c lipgloss.Color) lipgloss.Style { return u.r.NewStyle().Foreground(c) }

// Bold renders s in bold where styling is on.
func (u *UI) Bold(s string) string { return u.r.NewStyle().Bold(true).Render(s) }

// Report renders one progress event on Err. It makes UI a progress.Reporter.
func (u *UI) Report(e progress.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch e.Kind {
	case progress.Update:
		if !u.tty || time.Since(u.lastBar) < 80*time.Millisecond && e.Done != e.Total {
			return
		}
		u.lastBar = time.Now()
		u.drawBar(e)
		return
	case progress.Info:
		if !u.verbose {
			return
		}
		u.line(u.style(faint).Render("  " + stepMsg(e)))
	case progress.Start:
		// A finished step gets its own line; a started one is news only
		// to those who asked for more.
		if u.verbose {
			u.line(u.style(faint).Render("→ " + stepMsg(e)))
		}
	case progress.Finish:
		u.line(u.style(green).Render("✓") + " " + stepMsg(e))
	case progress.Skip:
		u.line(u.style(faint).Render("• " + stepMsg(e)))
	case progress.Warn:
		u.line(u.style(yellow).Render("! " + stepMsg(e)))
	}
}

var _ progress.Reporter = (*UI)(nil)

// stepMsg is an event's step and message as a cleaned line.
func stepMsg(e progress.Event) string {
	if e.Step == "" {
		return Clean(e.Msg)
	}
	return Clean(fmt.Sprintf("%-8s %s", e.Step, e.Msg))
}

// line prints s on Err, replacing any progress bar.
func (u *UI) line(s string) {
	u.clearBar()
	fmt.Fprintln(u.Err, s)
}

func (u *UI) clearBar() {
	if u.bar != "" {
		fmt.Fprint(u.Err, "\r\033[K")
		u.bar = ""
	}
}

const barWidth = 24

func (u *UI) drawBar(e progress.Event) {
	var b strings.Builder
	b.WriteString("\r\033[K")
	fmt.Fprintf(&b, "%-8s ", oneLine(e.Step))
	if e.Total > 0 {
		done := int(float64(barWidth) * float64(min(e.Done, e.Total)) / float64(e.Total))
		b.WriteString("[" + u.style(green).Render(strings.Repeat("=", done)) + strings.Repeat(" ", barWidth-done) + "] ")
		fmt.Fprintf(&b, "%s/%s", Amount(e.Done, e.Unit), Amount(e.Total, e.Unit))
	} else {
		b.WriteString(Amount(e.Done, e.Unit))
	}
	if e.Msg != "" {
		b.WriteString(" " + oneLine(e.Msg))
	}
	u.bar = b.String()
	fmt.Fprint(u.Err, u.bar)
}

// Done ends any progress line; call it before the command prints its result.
func (u *UI) Done() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearBar()
}

// Failure prints a failed step line on Err.
func (u *UI) Failure(msg string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.line(u.style(red).Render("✗") + " " + Clean(msg))
}

// Hint prints a next-step line on Err.
func (u *UI) Hint(msg string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.line(u.style(faint).Render("  " + Clean(msg)))
}

// Println prints text, cleaned, and a newline on Out: a command's text
// result.
func (u *UI) Println(text string) error {
	_, err := fmt.Fprintln(u.Out, Clean(text))
	return err
}

// Print prints text, cleaned, on Out, as it ends.
func (u *UI) Print(text string) error {
	_, err := fmt.Fprint(u.Out, Clean(text))
	return err
}

// Prompt prints a question, cleaned, on Err, with no newline: the answer
// follows on the same line.
func (u *UI) Prompt(question string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clearBar()
	fmt.Fprint(u.Err, Clean(question))
}

// Document writes a document Slipway encoded itself (a JSON Schema,
// rendered manifests, a seed script) to Out as it is: its encoder has
// already escaped what it holds, as encoding/json does for -o json, and
// a byte changed, or a long line cut, would break it for the program
// that reads it.
func (u *UI) Document(b []byte) error {
	_, err := u.Out.Write(b)
	return err
}

// Amount formats n in unit: bytes as B/kB/MB/GB, anything else as a count.
func Amount(n int64, unit string) string {
	if unit != "B" {
		return fmt.Sprint(n)
	}
	const k = 1000
	switch {
	case n < k:
		return fmt.Sprintf("%d B", n)
	case n < k*k:
		return fmt.Sprintf("%.1f kB", float64(n)/k)
	case n < k*k*k:
		return fmt.Sprintf("%.1f MB", float64(n)/(k*k))
	}
	return fmt.Sprintf("%.2f GB", float64(n)/(k*k*k))
}
