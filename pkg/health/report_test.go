package health

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/junit"
	"github.com/cododemo/cododemo/pkg/termtable"
)

func sampleReport() *Report {
	return &Report{
		Started:  time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
		Duration: 412 * time.Millisecond,
		Attempts: 1,
		Nodes:    []string{"core-01", "core-02"},
		Verdicts: []Verdict{
			{Node: "core-01", Check: CheckSSH, Status: Pass, Duration: 40 * time.Millisecond, Message: "logged in"},
			{Node: "core-02", Check: CheckSystemd, Status: Fail, Duration: 30 * time.Millisecond,
				Message: "degraded: failed units: a.service\na.service journal:\n  boom", Hint: "look at it"},
			{Node: "core-02", Check: CheckOS, Status: Warn, Message: "channel beta"},
			{Node: ClusterNode, Check: CheckFleetMachines, Status: Skip, Message: "fleet is not in the inventory's services"},
		},
	}
}

func TestWriteJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	// The documented schema: these keys, these types.
	for key, kind := range map[string]string{"schema_version": "float64", "healthy": "bool", "started_at": "string",
		"duration_ms": "float64", "attempts": "float64", "nodes": "[]interface {}", "summary": "map[string]interface {}", "checks": "[]interface {}"} {
		if got := typeName(doc[key]); got != kind {
			t.Errorf("%s: %s, want %s", key, got, kind)
		}
	}
	if doc["schema_version"].(float64) != 1 || doc["healthy"].(bool) || doc["started_at"] != "2026-05-01T10:00:00Z" {
		t.Errorf("%v", doc)
	}
	sum := doc["summary"].(map[string]any)
	if sum["pass"].(float64) != 1 || sum["fail"].(float64) != 1 || sum["warn"].(float64) != 1 || sum["skip"].(float64) != 1 {
		t.Errorf("summary %v", sum)
	}
	c := doc["checks"].([]any)[1].(map[string]any)
	for _, k := range []string{"node", "check", "status", "duration_ms", "message", "hint"} {
		if _, ok := c[k]; !ok {
			t.Errorf("check entry lacks %q: %v", k, c)
		}
	}
	if c["status"] != "fail" || c["duration_ms"].(float64) != 30 {
		t.Errorf("%v", c)
	}
	// An empty report still has arrays, not nulls.
	buf.Reset()
	_ = WriteJSON(&buf, &Report{})
	if !strings.Contains(buf.String(), `"checks": []`) || !strings.Contains(buf.String(), `"nodes": []`) {
		t.Errorf("empty report: %s", buf.String())
	}
}

func typeName(v any) string {
	switch v.(type) {
	case float64:
		return "float64"
	case bool:
		return "bool"
	case string:
		return "string"
	case []any:
		return "[]interface {}"
	case map[string]any:
		return "map[string]interface {}"
	}
	return "missing"
}

func TestWriteJUnit(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var doc junit.Suites
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if doc.Tests != 4 || doc.Failures != 1 || doc.Skipped != 1 || len(doc.Suites) != 3 {
		t.Errorf("totals: %+v", doc)
	}
	s := doc.Suites[1]
	if s.Name != "core-02" || s.Cases[0].Failure == nil || !strings.Contains(s.Cases[0].Failure.Body, "hint: look at it") ||
		s.Cases[0].Failure.Message != "degraded: failed units: a.service" {
		t.Errorf("core-02 suite: %+v", s)
	}
	if !strings.Contains(s.Cases[1].SystemOut, "WARN") {
		t.Errorf("warning not in system-out: %+v", s.Cases[1])
	}
}

func TestWriteTable(t *testing.T) {
	var plain, colour bytes.Buffer
	_ = WriteTable(&plain, sampleReport(), false, 0)
	_ = WriteTable(&colour, sampleReport(), true, 0)
	out := plain.String()
	for _, want := range []string{"NODE", "core-02  systemd", "FAIL", "hint: look at it", "  boom", "UNHEALTHY: 2 nodes, 1 pass, 1 warn, 1 fail, 1 skip"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("escape codes without colour")
	}
	if !strings.Contains(colour.String(), red+"FAIL") {
		t.Errorf("no colour on a terminal:\n%q", colour.String())
	}
	// Colour codes take no room: the columns, hints included, line up as
	// in the plain table.
	if got := termtable.Strip(colour.String()); got != out {
		t.Errorf("coloured table misaligned:\n%s\nplain:\n%s", got, out)
	}
	var narrow bytes.Buffer
	r := sampleReport()
	r.Verdicts[0].Message = strings.Repeat("a long message that goes on ", 8)
	_ = WriteTable(&narrow, r, true, 70)
	for _, l := range strings.Split(narrow.String(), "\n") {
		if termtable.Width(l) > 70 {
			t.Errorf("line of %d columns on a 70-column terminal: %q", termtable.Width(l), l)
		}
	}
}

func TestWaitRetriesUntilHealthy(t *testing.T) {
	now := time.Unix(0, 0)
	var slept []time.Duration
	calls := 0
	var progress []string
	r := Wait(context.Background(), func(context.Context) *Report {
		calls++
		rep := &Report{Verdicts: []Verdict{{Node: "core-01", Check: "etcd-member", Status: Fail}}}
		if calls == 4 {
			rep.Verdicts[0].Status = Pass
		}
		return rep
	}, WaitOptions{
		Deadline: time.Minute, Backoff: time.Second, MaxBackoff: 3 * time.Second,
		Now:   func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) bool { slept = append(slept, d); now = now.Add(d); return true },
		Progress: func(a int, r *Report, next time.Duration) {
			progress = append(progress, strings.Join(r.Failing(), ","))
		},
	})
	if !r.Healthy() || r.Attempts != 4 {
		t.Errorf("healthy %v attempts %d", r.Healthy(), r.Attempts)
	}
	if len(slept) != 3 || slept[0] != time.Second || slept[1] != 2*time.Second || slept[2] != 3*time.Second {
		t.Errorf("backoff %v", slept)
	}
	if len(progress) != 3 || progress[0] != "core-01/etcd-member" {
		t.Errorf("progress %v", progress)
	}
}

func TestWaitGivesUpAtDeadline(t *testing.T) {
	now := time.Unix(0, 0)
	calls := 0
	r := Wait(context.Background(), func(context.Context) *Report {
		calls++
		return &Report{Verdicts: []Verdict{{Status: Fail}}}
	}, WaitOptions{
		Deadline: 10 * time.Second, Backoff: 4 * time.Second,
		Now:   func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) bool { now = now.Add(d); return true },
	})
	// 0s, 4s, 10s (the last pause shortened to the deadline), then stop.
	if r.Healthy() || calls != 3 || r.Attempts != 3 {
		t.Errorf("calls %d attempts %d", calls, r.Attempts)
	}
	calls = 0
	r = Wait(context.Background(), func(context.Context) *Report { calls++; return &Report{Verdicts: []Verdict{{Status: Fail}}} },
		WaitOptions{Deadline: time.Hour, MaxAttempts: 5, Sleep: func(context.Context, time.Duration) bool { return true }})
	if calls != 5 || r.Attempts != 5 || r.Healthy() {
		t.Errorf("MaxAttempts: %d calls, %d attempts", calls, r.Attempts)
	}
}
