package bootfail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/vagrant"
)

// A boot console is full of terminal escapes (systemd's colours), carriage
// returns and the odd control byte; the tail shows the text.
func TestConsoleTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "core-01.log")
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "line %d\r\n", i)
	}
	b.WriteString("\x1b[0;32m  OK  \x1b[0m] Reached target \x1b]0;title\x07Network.\r\n\r\n")
	b.WriteString("progress 10%\rprogress 99%\r\n")
	b.WriteString("bell\x07 and \x00nul\n")
	b.WriteString("localhost login: ")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ConsoleTail(p, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"line 29", "  OK  ] Reached target Network.", "progress 99%", "bell and nul", "localhost login:"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ConsoleTail =\n%q\nwant\n%q", got, want)
	}
}

// Only the end of a long console is read; its first, cut line is dropped.
func TestConsoleTailLongFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "core-01.log")
	line := strings.Repeat("x", 99) + "\n"
	if err := os.WriteFile(p, []byte("first\n"+strings.Repeat(line, 2000)+"last\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ConsoleTail(p, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2] != "last" || got[0] != strings.Repeat("x", 99) {
		t.Errorf("ConsoleTail = %q", got)
	}
	if got, _ := ConsoleTail(p, 5000); len(got) > maxTail/100+1 || got[0] != strings.Repeat("x", 99) {
		t.Errorf("read more than the tail, or a cut line: %d lines, first %q", len(got), got[0])
	}
}

func TestExplain(t *testing.T) {
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "console"), 0o700); err != nil {
		t.Fatal(err)
	}
	var console strings.Builder
	for i := range 25 {
		fmt.Fprintf(&console, "boot line %d\n", i)
	}
	console.WriteString("dracut-initqueue: Warning: Could not boot.\n")
	for _, n := range []string{"core-01", "core-03"} {
		if err := os.WriteFile(filepath.Join(state, "console", n+".log"), []byte(console.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	timeout := vagrant.NewError("Fog::Errors::TimeoutError", "The specified wait_for timeout (2 seconds) was exceeded")
	noBox := vagrant.NewError("Vagrant::Errors::BoxNotFound", "The box 'flatcar-stable' could not be found.")
	err := errors.Join(
		&vagrant.NodeError{Node: "core-01", Op: "vagrant up", Phase: vagrant.PhaseBoot, Err: timeout},
		&vagrant.NodeError{Node: "core-02", Op: "vagrant up", Phase: vagrant.PhaseStarting, Err: errors.New("not started: core-01 failed before its import finished")},
		// A console from an earlier boot is not shown for a box that is missing.
		&vagrant.NodeError{Node: "core-03", Op: "vagrant up", Phase: vagrant.PhaseBox, Err: noBox},
	)
	ex := Explain(err, state, "/lab/.cododemo/logs/up-1.log")
	got := ex.Error()
	for _, want := range []string{
		"core-01 did not come up: timed out waiting for the machine to get an IP address\n",
		"  vagrant: The specified wait_for timeout (2 seconds) was exceeded [TimeoutError]\n",
		"  hint: the node never asked libvirt's DHCP",
		"console/core-01.log",
		"  the last 20 lines of its console (" + filepath.Join(state, "console", "core-01.log") + "):\n    | boot line 6\n",
		"    | dracut-initqueue: Warning: Could not boot.\n",
		"core-02 did not come up: not started: core-01 failed before its import finished\n",
		"core-03 did not come up: the box is missing: it is not installed and Vagrant could not add it\n",
		"  hint: the box is not installed: run `cododemo box fetch`",
		"Vagrant's full output, with any backtrace: /lab/.cododemo/logs/up-1.log",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "boot line 5\n") || strings.Count(got, "| boot line") != 19 {
		t.Errorf("not the last 20 lines of core-01 alone:\n%s", got)
	}
	if !errors.Is(ex, timeout) || !vagrant.IsType(ex, "BoxNotFound") {
		t.Error("the node errors are no longer wrapped")
	}
	// Not a per-node failure: unchanged.
	plain := errors.New("vagrant status: exit status 1")
	if Explain(plain, state, "x") != plain {
		t.Error("a plain error was rewritten")
	}
}

// A node that was started but whose console stayed empty says so.
func TestExplainEmptyConsole(t *testing.T) {
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "console"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "console", "core-01.log"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := &vagrant.NodeError{Node: "core-01", Op: "vagrant up", Phase: vagrant.PhaseSSH,
		Err: vagrant.NewError("Vagrant::Errors::VMBootTimeout", "Timed out while waiting for the machine to boot.")}
	got := Explain(err, state, "").Error()
	if !strings.Contains(got, "timed out waiting for the machine to boot") || !strings.Contains(got, "is empty: the machine wrote nothing to its serial port") {
		t.Errorf("got:\n%s", got)
	}
	if strings.Contains(got, "full output") {
		t.Errorf("names a log it has not:\n%s", got)
	}
}
