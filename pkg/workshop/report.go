package workshop

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cododemo/cododemo/pkg/junit"

	"github.com/cododemo/cododemo/pkg/health"
)

// SchemaVersion is the JSON report's schema version. Like verify's, fields
// are only ever added within a version.
//
//	{
//	  "schema_version": 1,
//	  "passed": true,                // no exercise failed (skips allowed)
//	  "started_at": "RFC 3339 time",
//	  "duration_ms": 5120,
//	  "nodes": ["core-01", ...],
//	  "summary": {"pass": 2, "fail": 0, "skip": 1},   // exercises
//	  "exercises": [
//	    {"id": "etcd-replication", "source": "E3", "title": "...",
//	     "status": "pass",           // pass | fail | skip
//	     "duration_ms": 812,
//	     "steps": [
//	       {"phase": "step",         // step | probe | cleanup
//	        "step": "put", "node": "core-01", "status": "pass",
//	        "duration_ms": 31, "tries": 1,
//	        "message": "...", "hint": "..."}
//	     ]}
//	  ]
//	}
const SchemaVersion = 1

// Report is a run of one or more exercises.
type Report struct {
	Started  time.Time
	Duration time.Duration
	Nodes    []string
	Results  []*Result
}

// Passed says no exercise failed.
func (r *Report) Passed() bool {
	for _, x := range r.Results {
		if x.Status == health.Fail {
			return false
		}
	}
	return true
}

func (r *Report) count(s health.Status) int {
	n := 0
	for _, x := range r.Results {
		if x.Status == s {
			n++
		}
	}
	return n
}

type jsonReport struct {
	SchemaVersion int            `json:"schema_version"`
	Passed        bool           `json:"passed"`
	StartedAt     time.Time      `json:"started_at"`
	DurationMS    int64          `json:"duration_ms"`
	Nodes         []string       `json:"nodes"`
	Summary       map[string]int `json:"summary"`
	Exercises     []jsonExercise `json:"exercises"`
}

type jsonExercise struct {
	ID         string        `json:"id"`
	Source     string        `json:"source"`
	Title      string        `json:"title"`
	Status     health.Status `json:"status"`
	DurationMS int64         `json:"duration_ms"`
	Steps      []jsonStep    `json:"steps"`
}

type jsonStep struct {
	Phase      string        `json:"phase"`
	Step       string        `json:"step"`
	Node       string        `json:"node"`
	Status     health.Status `json:"status"`
	DurationMS int64         `json:"duration_ms"`
	Tries      int           `json:"tries"`
	Message    string        `json:"message"`
	Hint       string        `json:"hint,omitempty"`
}

// WriteJSON writes the report as indented JSON (schema above).
func WriteJSON(w io.Writer, r *Report) error {
	out := jsonReport{SchemaVersion: SchemaVersion, Passed: r.Passed(), StartedAt: r.Started.UTC(),
		DurationMS: r.Duration.Milliseconds(), Nodes: r.Nodes, Exercises: []jsonExercise{},
		Summary: map[string]int{"pass": r.count(health.Pass), "fail": r.count(health.Fail), "skip": r.count(health.Skip)}}
	if out.Nodes == nil {
		out.Nodes = []string{}
	}
	for _, x := range r.Results {
		je := jsonExercise{ID: x.ID, Source: x.Source, Title: x.Title, Status: x.Status, DurationMS: x.Duration.Milliseconds(), Steps: []jsonStep{}}
		for _, s := range x.Steps {
			je.Steps = append(je.Steps, jsonStep{Phase: s.Phase, Step: s.Step, Node: s.Node, Status: s.Status,
				DurationMS: s.Duration.Milliseconds(), Tries: s.Tries, Message: s.Message, Hint: s.Hint})
		}
		out.Exercises = append(out.Exercises, je)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteJUnit writes one suite per exercise, one case per step (cleanup
// steps as "cleanup: <name>").
func WriteJUnit(w io.Writer, r *Report) error {
	doc := junit.Suites{Name: "cododemo workshop", Time: secs(r.Duration)}
	for _, x := range r.Results {
		s := junit.Suite{Name: x.Source + " " + x.ID, Time: secs(x.Duration), Timestamp: x.Started.UTC().Format(time.RFC3339)}
		for _, st := range x.Steps {
			name := st.Step
			if st.Phase != PhaseStep {
				name = st.Phase + ": " + st.Step
			}
			c := junit.Case{Name: name, Classname: "cododemo.workshop." + x.ID, Time: secs(st.Duration)}
			switch st.Status {
			case health.Fail:
				body := fmt.Sprintf("on %s after %d tries: %s", st.Node, st.Tries, st.Message)
				if st.Hint != "" {
					body += "\nhint: " + st.Hint
				}
				c.Failure = &junit.Message{Message: firstLine(st.Message), Type: "fail", Body: body}
				s.Failures++
			case health.Skip:
				c.Skipped = &junit.Message{Message: st.Message}
				s.Skipped++
			default:
				c.SystemOut = st.Node + ": " + st.Message
			}
			s.Tests++
			s.Cases = append(s.Cases, c)
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	return junit.Write(w, doc)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteSummary writes one line per exercise and, under a failed one, the
// step that failed with its node, message and hint.
func WriteSummary(w io.Writer, r *Report) error {
	var b strings.Builder
	b.WriteString("\n")
	for _, x := range r.Results {
		fmt.Fprintf(&b, "%-4s  %-6s %-20s %s\n", strings.ToUpper(string(x.Status)), x.Source, x.ID, fmtDur(x.Duration))
		for _, s := range x.Steps {
			if s.Status != health.Fail && !(s.Phase == PhaseProbe) {
				continue
			}
			fmt.Fprintf(&b, "      %s %q on %s: %s\n", s.Phase, s.Step, s.Node, strings.ReplaceAll(s.Message, "\n", "\n        "))
			if s.Hint != "" {
				fmt.Fprintf(&b, "        hint: %s\n", s.Hint)
			}
		}
	}
	verdict := "PASSED"
	if !r.Passed() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "\n%s: %d exercises, %d pass, %d fail, %d skip in %s\n", verdict, len(r.Results),
		r.count(health.Pass), r.count(health.Fail), r.count(health.Skip), fmtDur(r.Duration))
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtDur(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}
