package workshop

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/cmdutil/cmdtest"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

func runCLI(t *testing.T, dir string, args ...string) cmdtest.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	f := cmdutil.Factory{Getenv: func(k string) string { return map[string]string{"HOME": dir}[k] }, WorkDir: dir}
	return cmdtest.Run(ctx, f, append([]string{"workshop"}, args...), func(f *cmdutil.Factory) *cobra.Command { return NewCmdWorkshop(f) })
}

func TestListJSON(t *testing.T) {
	r := runCLI(t, t.TempDir(), "list", "-o", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	var doc struct {
		SchemaVersion int `json:"schema_version"`
		Exercises     []struct {
			ID         string   `json:"id"`
			Needs      []string `json:"needs"`
			Disruptive bool     `json:"disruptive"`
		} `json:"exercises"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range doc.Exercises {
		got[e.ID] = e.Disruptive
		if e.ID == "fleet-web" && strings.Join(e.Needs, ",") != "etcd,fleet,docker" {
			t.Errorf("fleet-web needs %v", e.Needs)
		}
	}
	if doc.SchemaVersion != 1 || !got["failover"] || got["etcd-replication"] || len(doc.Exercises) < 9 {
		t.Errorf("list: %+v", doc)
	}
	if r := runCLI(t, t.TempDir(), "list"); r.Code != 0 || !strings.Contains(r.Stdout, "failover  ") {
		t.Errorf("table: %d %s", r.Code, r.Stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"show", "nope", "--inventory", "x.yaml"}, `no exercise "nope" (known: etcd-replication,`},
		{[]string{"run"}, "give one exercise ID or --all"},
		{[]string{"run", "e3", "--all"}, "give one exercise ID or --all"},
		{[]string{"run", "e3", "-o", "xml"}, `--output "xml"`},
		{[]string{"show", "e3", "--format", "pdf"}, `--format "pdf": want text or md`},
		{[]string{"check", "e3", "--inventory", "missing.yaml"}, "inventory:"},
		{[]string{"list", "--exercises", "nowhere"}, "exercises:"},
	} {
		r := runCLI(t, dir, tc.args...)
		if r.Code != 2 || !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.Code, r.Stderr, tc.want)
		}
	}
	// A broken override names its file and line.
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("id: bad\nsource: new\nsteps:\n  - run: x\n    retry: often\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, dir, "list", "--exercises", dir); r.Code != 2 || !strings.Contains(r.Stderr, "bad.yaml:5:12: steps.0.retry: want a duration") {
		t.Errorf("bad override: %d %q", r.Code, r.Stderr)
	}
}

// TestRunCheckResetOnStandIns drives the commands against real sshd +
// etcd stand-ins with --inventory, as on any cluster.
func TestRunCheckResetOnStandIns(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	inv := []string{"--inventory", c.InventoryPath, "--timeout", "10s"}

	r := runCLI(t, c.Dir, append([]string{"show", "etcd-replication", "--format", "md"}, inv...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "On core-02 ("+c.Node("core-02").Addr+")") {
		t.Fatalf("show: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}

	r = runCLI(t, c.Dir, append([]string{"check", "e3"}, inv...)...)
	if r.Code != 1 || !strings.Contains(r.Stdout, "1 of 3 checkpoints reached") || !strings.Contains(r.Stdout, "[ ] key written: missing: core-01: want \"this is awesome\"") {
		t.Errorf("check before: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}

	r = runCLI(t, c.Dir, append([]string{"run", "etcd-replication", "-o", "json"}, inv...)...)
	var rep struct {
		SchemaVersion int  `json:"schema_version"`
		Passed        bool `json:"passed"`
		Exercises     []struct {
			Status string `json:"status"`
			Steps  []struct {
				Phase, Step, Status string
			} `json:"steps"`
		} `json:"exercises"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("run -o json: exit %d: %v\n%s\n%s", r.Code, err, r.Stdout, r.Stderr)
	}
	if r.Code != 0 || !rep.Passed || rep.SchemaVersion != 1 || rep.Exercises[0].Status != "pass" {
		t.Errorf("run: exit %d %+v\n%s", r.Code, rep, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "$ [core-01] etcdctl put mykey") {
		t.Errorf("presenter view not on stderr with -o json: %s", r.Stderr)
	}

	// JUnit, with one member dead: the run fails (exit 1) and names it.
	c.Node("core-02").KillEtcd()
	r = runCLI(t, c.Dir, append([]string{"run", "e3", "-o", "junit"}, inv...)...)
	var ju struct {
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Body string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(r.Stdout), &ju); err != nil {
		t.Fatalf("junit: %v\n%s", err, r.Stdout)
	}
	if r.Code != 1 || ju.Failures == 0 {
		t.Fatalf("dead member: exit %d failures %d", r.Code, ju.Failures)
	}
	found := false
	for _, cs := range ju.Suites[0].Cases {
		if cs.Failure != nil {
			t.Logf("%s: %s", cs.Name, cs.Failure.Body)
			if strings.Contains(cs.Failure.Body, "etcd member(s) down: core-02") {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no failure names the dead member core-02:\n%s", r.Stdout)
	}

	r = runCLI(t, c.Dir, append([]string{"reset", "e3"}, inv...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "etcd-replication: reset") {
		t.Errorf("reset: %d %s %s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestPauseWaitsForEnter: --pause asks before each step on stderr; q
// stops the exercise (a skip, not a failure) and the cleanup still runs.
func TestPauseWaitsForEnter(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := cmdutil.Factory{Getenv: func(string) string { return "" }, WorkDir: c.Dir,
		IO: &cmdutil.IOStreams{In: strings.NewReader("\n\n\nq\n")}}
	r := cmdtest.Run(ctx, f, []string{"workshop", "run", "e3", "--pause", "--inventory", c.InventoryPath},
		func(f *cmdutil.Factory) *cobra.Command { return NewCmdWorkshop(f) })
	if r.Code != 0 || strings.Count(r.Stderr, "Enter to run, q to stop") != 4 || !strings.Contains(r.Stderr, "[next: read on another node]") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{"-- put (node 1)", "core-01 | OK", "-- cleanup", "SKIP  E3", "0 fail, 1 skip"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "-- read on another node") {
		t.Error("the step after q ran")
	}
}
