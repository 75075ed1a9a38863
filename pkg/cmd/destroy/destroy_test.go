package destroy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/lifecycle"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

func setup(t *testing.T, tty bool, answer string) (*Options, *exec.Fake, *bytes.Buffer) {
	lab := t.TempDir()
	state := filepath.Join(lab, ".cododemo")
	_ = os.MkdirAll(state, 0o755)
	_ = os.WriteFile(filepath.Join(state, "Vagrantfile"), []byte("#"), 0o644)
	machine := filepath.Join(state, ".vagrant", "machines", "core-01", "virtualbox")
	_ = os.MkdirAll(machine, 0o755)
	_ = os.WriteFile(filepath.Join(machine, "id"), []byte("0b6c7e5e"), 0o644)
	fake := &exec.Fake{Handler: func(exec.Cmd) (string, error) { return "", nil }}
	var errOut bytes.Buffer
	return &Options{
		IO: &cmdutil.IOStreams{In: strings.NewReader(answer), ErrOut: &errOut, ErrTTY: tty},
		Options: lifecycle.Options{StateDir: state, Out: &errOut, Live: tty,
			Nodes: []string{"core-01"}, Now: time.Now, Driver: vagrant.New(fake, state, "", nil)},
		LabDir: lab, Lab: "cododemo"}, fake, &errOut
}

func TestDestroyNeedsConfirmation(t *testing.T) {
	o, fake, _ := setup(t, false, "")
	if err := Run(context.Background(), o); !cmdutil.IsUsage(err) || len(fake.Calls) != 0 {
		t.Fatalf("without -f off a terminal: %v, %d calls", err, len(fake.Calls))
	}
	o, fake, _ = setup(t, true, "n\n")
	if err := Run(context.Background(), o); err == nil || len(fake.Calls) != 0 {
		t.Fatalf("answered no: %v", err)
	}
	o, fake, _ = setup(t, true, "y\n")
	if err := Run(context.Background(), o); err != nil || len(fake.Calls) != 1 {
		t.Fatalf("answered yes: %v", err)
	}
	if got := strings.Join(fake.Calls[0].Args, " "); got != "destroy --force --machine-readable" {
		t.Fatal(got)
	}
	if _, err := os.Stat(o.StateDir); err != nil {
		t.Fatal("state dir removed without --purge")
	}
}

func TestDestroyPurge(t *testing.T) {
	o, _, _ := setup(t, false, "")
	o.Force, o.Purge = true, true
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(o.StateDir); !os.IsNotExist(err) {
		t.Fatalf("state dir still there: %v", err)
	}
	if _, err := os.Stat(o.LabDir); err != nil {
		t.Fatal("lab dir removed")
	}
}

// A lab rendered but never brought up is purged without asking Vagrant,
// whose provider may not be usable: here vagrant would fail if run.
func TestDestroyPurgeNeverBroughtUp(t *testing.T) {
	o, fake, errOut := setup(t, false, "")
	if err := os.RemoveAll(filepath.Join(o.StateDir, ".vagrant")); err != nil {
		t.Fatal(err)
	}
	fake.Handler = func(exec.Cmd) (string, error) {
		return "", errors.New("The provider 'virtualbox' could not be found")
	}
	o.Force, o.Purge = true, true
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if len(fake.Calls) != 0 {
		t.Errorf("vagrant was run: %v", fake.Calls)
	}
	if _, err := os.Stat(o.StateDir); !os.IsNotExist(err) {
		t.Fatalf("state dir still there: %v", err)
	}
	if !strings.Contains(errOut.String(), "No VM of this lab was created yet") || !strings.Contains(errOut.String(), "Removed ") {
		t.Errorf("stderr: %q", errOut.String())
	}
}

func TestPurgeRefusesForeignDirs(t *testing.T) {
	lab := t.TempDir()
	if err := safeToPurge(lab, lab); err == nil {
		t.Fatal("would purge the lab dir itself")
	}
	other := filepath.Join(lab, "src")
	_ = os.MkdirAll(other, 0o755)
	_ = os.WriteFile(filepath.Join(other, "main.go"), nil, 0o644)
	if err := safeToPurge(other, lab); err == nil || !strings.Contains(err.Error(), "does not look like") {
		t.Fatalf("would purge a foreign dir: %v", err)
	}
}
