// Package termtable prints aligned columns for people. Unlike
// text/tabwriter it measures cells by what a terminal shows, so ANSI colour
// codes take no room, and it can fit rows to the terminal's width by
// wrapping the last column.
package termtable

import (
	"io"
	"strings"
	"unicode/utf8"
)

// Gap is the space between columns.
const Gap = 2

// MinLast is the narrowest the last column is wrapped to; when the other
// columns leave less, lines run long rather than into a one-word column.
const MinLast = 24

// Write prints rows (the first is usually a header) in columns. A row with
// fewer cells leaves the rest empty; an empty leading cell continues the
// row above (a hint under a failure). With width > 0 the last column is
// wrapped at spaces so that lines fit in width columns.
func Write(w io.Writer, rows [][]string, width int) error {
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	if cols == 0 {
		return nil
	}
	widths := make([]int, cols)
	for _, r := range rows {
		for i, c := range r[:len(r)-1] { // the last cell of a row is not padded
			widths[i] = max(widths[i], Width(c))
		}
	}
	indent := 0
	for _, wd := range widths[:cols-1] {
		indent += wd + Gap
	}
	room := 0
	if width > 0 && width-indent >= MinLast {
		room = width - indent
	}
	var b strings.Builder
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			if i == len(r)-1 {
				break
			}
			line.WriteString(c)
			line.WriteString(strings.Repeat(" ", widths[i]-Width(c)+Gap))
		}
		last := r[len(r)-1]
		start := 0
		for i := range len(r) - 1 {
			start += widths[i] + Gap
		}
		parts := []string{last}
		if room > 0 && start == indent {
			parts = Wrap(last, room)
		}
		for j, p := range parts {
			if j > 0 {
				line.WriteString("\n")
				line.WriteString(strings.Repeat(" ", start))
			}
			line.WriteString(p)
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Width is how many columns s takes on a terminal: runes, without ANSI
// escape sequences.
func Width(s string) int { return utf8.RuneCountInString(Strip(s)) }

// Strip removes ANSI CSI escape sequences (colours: ESC [ ... letter).
func Strip(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && !(s[j] >= 0x40 && s[j] <= 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Wrap breaks s at spaces into lines of at most width columns (a longer
// word stays whole). A cell painted as a whole (colour, text, reset) is
// painted again on every line, so no colour leaks into the next column.
func Wrap(s string, width int) []string {
	prefix, body, suffix := painted(s)
	words := strings.Fields(body)
	if len(words) == 0 {
		return []string{s}
	}
	var lines []string
	cur := words[0]
	for _, wd := range words[1:] {
		if utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(wd) > width {
			lines = append(lines, cur)
			cur = wd
			continue
		}
		cur += " " + wd
	}
	lines = append(lines, cur)
	for i := range lines {
		lines[i] = prefix + lines[i] + suffix
	}
	return lines
}

// painted splits "\x1b[2mtext\x1b[0m" into its escape prefix, the text and
// the reset; plain text has neither.
func painted(s string) (prefix, body, suffix string) {
	for strings.HasPrefix(s[len(prefix):], "\x1b[") {
		end := strings.IndexFunc(s[len(prefix)+2:], func(r rune) bool { return r >= 0x40 && r <= 0x7e })
		if end < 0 {
			break
		}
		prefix = s[:len(prefix)+2+end+1]
	}
	body = s[len(prefix):]
	if prefix != "" && strings.HasSuffix(body, "\x1b[0m") {
		body, suffix = strings.TrimSuffix(body, "\x1b[0m"), "\x1b[0m"
	}
	if strings.Contains(body, "\x1b") {
		// Colour inside the text: wrap it as it is.
		return "", s, ""
	}
	return prefix, body, suffix
}
