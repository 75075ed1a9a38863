package health

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cododemo/cododemo/pkg/junit"
	"github.com/cododemo/cododemo/pkg/termtable"
)

// ANSI colours for the table on a terminal.
const (
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	red    = "\x1b[31m"
	dim    = "\x1b[2m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

func paint(on bool, colour, s string) string {
	if !on {
		return s
	}
	return colour + s + reset
}

func statusColour(s Status) string {
	switch s {
	case Pass:
		return green
	case Warn:
		return yellow
	case Fail:
		return red
	}
	return dim
}

// WriteTable writes the report for people: one row per check, hints
// under failures, a summary line. colour is for terminals without NO_COLOR;
// width > 0 (a terminal's) wraps messages and hints to fit it.
func WriteTable(w io.Writer, r *Report, colour bool, width int) error {
	rows := [][]string{{"NODE", "CHECK", "STATUS", "TIME", "MESSAGE"}}
	for _, v := range r.Verdicts {
		lines := strings.Split(v.Message, "\n")
		status := paint(colour, statusColour(v.Status), strings.ToUpper(string(v.Status)))
		rows = append(rows, []string{v.Node, v.Check, status, fmtDuration(v.Duration), lines[0]})
		for _, l := range lines[1:] {
			rows = append(rows, []string{"", "", "", "", l})
		}
		if v.Hint != "" && v.Status != Pass {
			rows = append(rows, []string{"", "", "", "", paint(colour, dim, "hint: "+v.Hint)})
		}
	}
	if err := termtable.Write(w, rows, width); err != nil {
		return err
	}
	verdict := paint(colour, bold+green, "HEALTHY")
	if !r.Healthy() {
		verdict = paint(colour, bold+red, "UNHEALTHY")
	}
	attempts := ""
	if r.Attempts > 1 {
		attempts = fmt.Sprintf(" after %d attempts", r.Attempts)
	}
	_, err := fmt.Fprintf(w, "\n%s: %d nodes, %d pass, %d warn, %d fail, %d skip in %s%s\n", verdict, len(r.Nodes),
		r.Count(Pass), r.Count(Warn), r.Count(Fail), r.Count(Skip), fmtDuration(r.Duration), attempts)
	return err
}

func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d > 0:
		return "<1ms"
	}
	return "-"
}

// JSONReport is the -o json document (schema in the package doc).
type JSONReport struct {
	SchemaVersion int           `json:"schema_version"`
	Healthy       bool          `json:"healthy"`
	StartedAt     time.Time     `json:"started_at"`
	DurationMS    int64         `json:"duration_ms"`
	Attempts      int           `json:"attempts"`
	Nodes         []string      `json:"nodes"`
	Summary       JSONSummary   `json:"summary"`
	Checks        []JSONVerdict `json:"checks"`
}

// JSONSummary counts verdicts by status.
type JSONSummary struct {
	Pass int `json:"pass"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
}

// JSONVerdict is one check in the JSON report.
type JSONVerdict struct {
	Node       string `json:"node"`
	Check      string `json:"check"`
	Status     Status `json:"status"`
	DurationMS int64  `json:"duration_ms"`
	Message    string `json:"message"`
	Hint       string `json:"hint,omitempty"`
}

// ToJSON converts the report to its JSON form.
func ToJSON(r *Report) JSONReport {
	out := JSONReport{
		SchemaVersion: SchemaVersion, Healthy: r.Healthy(), StartedAt: r.Started.UTC(),
		DurationMS: r.Duration.Milliseconds(), Attempts: r.Attempts, Nodes: r.Nodes,
		Summary: JSONSummary{Pass: r.Count(Pass), Warn: r.Count(Warn), Fail: r.Count(Fail), Skip: r.Count(Skip)},
		Checks:  []JSONVerdict{},
	}
	if out.Nodes == nil {
		out.Nodes = []string{}
	}
	for _, v := range r.Verdicts {
		out.Checks = append(out.Checks, JSONVerdict{Node: v.Node, Check: v.Check, Status: v.Status,
			DurationMS: v.Duration.Milliseconds(), Message: v.Message, Hint: v.Hint})
	}
	return out
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ToJSON(r))
}

// WriteJUnit writes the report as JUnit XML: one suite per node (and one
// for the cluster), one test case per check. JUnit knows no warnings: a
// warning passes and says so in system-out.
func WriteJUnit(w io.Writer, r *Report) error {
	doc := junit.Suites{Name: "cododemo verify", Time: secs(r.Duration)}
	idx := map[string]int{}
	for _, v := range r.Verdicts {
		i, ok := idx[v.Node]
		if !ok {
			i = len(doc.Suites)
			idx[v.Node] = i
			doc.Suites = append(doc.Suites, junit.Suite{Name: v.Node, Timestamp: r.Started.UTC().Format(time.RFC3339)})
		}
		s := &doc.Suites[i]
		c := junit.Case{Name: v.Check, Classname: "cododemo.verify." + v.Node, Time: secs(v.Duration)}
		switch v.Status {
		case Fail:
			body := v.Message
			if v.Hint != "" {
				body += "\nhint: " + v.Hint
			}
			c.Failure = &junit.Message{Message: firstLine(v.Message), Type: "fail", Body: body}
			s.Failures++
		case Skip:
			c.Skipped = &junit.Message{Message: v.Message}
			s.Skipped++
		case Warn:
			c.SystemOut = "WARN: " + v.Message
		default:
			c.SystemOut = v.Message
		}
		s.Tests++
		s.Cases = append(s.Cases, c)
	}
	for i := range doc.Suites {
		var d time.Duration
		for _, v := range r.Verdicts {
			if v.Node == doc.Suites[i].Name {
				d += v.Duration
			}
		}
		doc.Suites[i].Time = secs(d)
		doc.Tests += doc.Suites[i].Tests
		doc.Failures += doc.Suites[i].Failures
		doc.Skipped += doc.Suites[i].Skipped
	}
	return junit.Write(w, doc)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
