package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
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
// then a summary line. color adds ANSI colour to the status column.
func WriteTable(w io.Writer, r Report, color bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tCHECK\tSTATUS\tFINDING\tFIX")
	for _, f := range r.Findings {
		status := strings.ToUpper(string(f.Status))
		if color {
			// Pad before colouring: tabwriter counts the escape bytes.
			status = statusColor[f.Status] + fmt.Sprintf("%-4s", status) + "\x1b[0m"
		}
		fix := f.Fix
		if fix == "" {
			fix = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Code, f.Check, status, oneLine(f.Finding), oneLine(fix))
	}
	if err := tw.Flush(); err != nil {
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
