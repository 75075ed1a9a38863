package halt

import (
	"bytes"
	"context"
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

func TestHaltPrefixesAndLogs(t *testing.T) {
	state := t.TempDir()
	_ = os.WriteFile(filepath.Join(state, "Vagrantfile"), []byte("#"), 0o644)
	machine := filepath.Join(state, ".vagrant", "machines", "core-02", "virtualbox")
	_ = os.MkdirAll(machine, 0o755)
	_ = os.WriteFile(filepath.Join(machine, "id"), []byte("0b6c7e5e"), 0o644)
	fake := &exec.Fake{Handler: func(c exec.Cmd) (string, error) {
		return "1,core-02,ui,info,==> core-02: Attempting graceful shutdown of VM...\n", nil
	}}
	var errOut bytes.Buffer
	o := &Options{lifecycle.Options{
		Out: &errOut, StateDir: state, Nodes: []string{"core-01", "core-02"},
		Names: []string{"core-02"}, Now: func() time.Time { return time.Unix(0, 0).UTC() },
		Driver: vagrant.New(fake, state, "virtualbox", nil),
	}}
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if errOut.String() != "core-02 | Attempting graceful shutdown of VM...\n" {
		t.Fatalf("output %q", errOut.String())
	}
	if got := strings.Join(fake.Calls[0].Args, " "); got != "halt --machine-readable core-02" {
		t.Fatal(got)
	}
	log, err := os.ReadFile(filepath.Join(state, "logs", "halt-19700101-000000.log"))
	if err != nil || string(log) != errOut.String() {
		t.Fatalf("log %q %v", log, err)
	}
	o.Names = []string{"core-09"}
	if err := Run(context.Background(), o); !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "core-09: not a node") {
		t.Fatalf("unknown node: %v", err)
	}
}
