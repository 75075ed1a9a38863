package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/vagrant"
)

// A reload that stops at a node which does not boot again says which, why
// and what its console showed, and names the log.
func TestRunExplainsTheNode(t *testing.T) {
	state := t.TempDir()
	for _, f := range []string{"Vagrantfile", ".vagrant/machines/core-02/libvirt/id", "console/core-02.log"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(state, f)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.WriteFile(filepath.Join(state, "Vagrantfile"), nil, 0o644)
	_ = os.WriteFile(filepath.Join(state, ".vagrant/machines/core-02/libvirt/id"), []byte("x"), 0o644)
	_ = os.WriteFile(filepath.Join(state, "console/core-02.log"), []byte("Welcome to GRUB\nerror: no such device\n"), 0o644)
	var out bytes.Buffer
	o := Options{StateDir: state, Nodes: []string{"core-01", "core-02"}, Out: &out}
	err := Run(context.Background(), o, "reload", func(context.Context, vagrant.Output, ...string) error {
		return &vagrant.NodeError{Node: "core-02", Op: "vagrant reload", Phase: vagrant.PhaseSSH,
			Err: vagrant.NewError("Vagrant::Errors::VMBootTimeout", "Timed out while waiting for the machine to boot.")}
	})
	msg := err.Error()
	for _, want := range []string{
		"core-02 did not come back up: timed out waiting for the machine to boot\n",
		"    | error: no such device\n",
		"Vagrant's full output, with any backtrace: " + filepath.Join(state, "logs", "reload-"),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if !vagrant.IsType(err, "VMBootTimeout") {
		t.Error("Vagrant's error is no longer wrapped")
	}
	// A failure Vagrant did not tie to a node keeps its old form.
	plain := errors.New("exit status 1")
	err = Run(context.Background(), o, "halt", func(context.Context, vagrant.Output, ...string) error { return plain })
	if !errors.Is(err, plain) || !strings.HasPrefix(err.Error(), "halt: exit status 1 (full log: ") {
		t.Errorf("halt: %v", err)
	}
}
