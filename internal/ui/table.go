package ui

import (
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// Table prints rows under headers on Out, columns aligned. Cells are
// plain text, often remote (annotations, pod messages): each is cleaned
// and kept to one line before it is measured and styled.
func (u *UI) Table(headers []string, rows [][]string) { u.table(u.Out, u.ro, headers, rows) }

// ErrTable prints a table on Err, with progress, not results.
func (u *UI) ErrTable(headers []string, rows [][]string) {
	u.mu.Lock()
	u.clearBar()
	u.mu.Unlock()
	u.table(u.Err, u.r, headers, rows)
}

// table pads by hand rather than with lipgloss/table, which draws borders
// and pads the last column too: scripts read these lines. Not
// text/tabwriter either: it counts colour codes as width, lipgloss.Width
// does not.
func (u *UI) table(w io.Writer, r *lipgloss.Renderer, headers []string, rows [][]string) {
	headers = cleanCells(headers)
	cleaned := make([][]string, len(rows))
	for i, row := range rows {
		cleaned[i] = cleanCells(row)
	}
	rows = cleaned
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = lipgloss.Width(h)
	}
	for _, r := range rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], lipgloss.Width(c))
			}
		}
	}
	head := r.NewStyle().Bold(true)
	line := func(cells []string, style *lipgloss.Style) {
		var b strings.Builder
		for i, c := range cells {
			pad := ""
			if i < len(cells)-1 {
				pad = strings.Repeat(" ", widths[i]-lipgloss.Width(c)+2)
			}
			if style != nil {
				c = style.Render(c)
			}
			b.WriteString(c + pad)
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(headers, &head)
	for _, r := range rows {
		line(r, nil)
	}
}

// cleanCells returns cells, each made one clean line.
func cleanCells(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = oneLine(c)
	}
	return out
}
