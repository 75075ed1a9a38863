package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/cododemo/cododemo/pkg/termtable"
)

// WriteJSON writes the report as indented JSON (schema_version inside).
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// ANSI colours for the status column, on terminals only.
var statusColor = map[Status]string{
	StatusOK:   "\x1b[32m",
	StatusWarn: "\x1b[33m",
	StatusFail: "\x1b[31m",
	StatusSkip: "\x1b[90m",
}

// WriteTable writes one row per check: code, check, status, finding, fix;
// then a summary line. color adds ANSI colour to the status column. On a
// terminal (width > 0) the fix goes on its own line under the finding and
// long text wraps to the width; elsewhere each row is one line.
func WriteTable(w io.Writer, r Report, color bool, width int) error {
	header := []string{"CODE", "CHECK", "STATUS", "FINDING", "FIX"}
	if width > 0 {
		header = header[:4]
	}
	rows := [][]string{header}
	for _, f := range r.Findings {
		status := strings.ToUpper(string(f.Status))
		if color {
			status = statusColor[f.Status] + status + "\x1b[0m"
		}
		fix := oneLine(f.Fix)
		if width > 0 {
			rows = append(rows, []string{f.Code, f.Check, status, oneLine(f.Finding)})
			if fix != "" {
				rows = append(rows, []string{"", "", "", "fix: " + fix})
			}
			continue
		}
		if fix == "" {
			fix = "-"
		}
		rows = append(rows, []string{f.Code, f.Check, status, oneLine(f.Finding), fix})
	}
	if err := termtable.Write(w, rows, width); err != nil {
		return err
	}
	s := r.Summary
	verdict := "ready"
	if !r.OK {
		verdict = "NOT ready: fix the FAIL rows before `cododemo up`"
	} else if s.Warn > 0 {
		verdict = "ready, with warnings"
	}
	_, err := fmt.Fprintf(w, "\n%d ok, %d warn, %d fail, %d skip: %s\n", s.OK, s.Warn, s.Fail, s.Skip, verdict)
	return err
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
