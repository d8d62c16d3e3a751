package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// Table prints rows under headers on Out, columns aligned. Cells may hold
// styled text; widths count what is seen, not escape codes.
func (u *UI) Table(headers []string, rows [][]string) {
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
	head := u.ro.NewStyle().Bold(true)
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
		fmt.Fprintln(u.Out, strings.TrimRight(b.String(), " "))
	}
	line(headers, &head)
	for _, r := range rows {
		line(r, nil)
	}
}
