package status

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/exec"
)

// runCLI runs `cododemo status args...` in dir with runner.
func runCLI(t testing.TB, dir string, r exec.Runner, env map[string]string, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	f := &cmdutil.Factory{
		IO:      &cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Runner:  r,
		Getenv:  func(k string) string { return env[k] },
		WorkDir: dir,
	}
	root := &cobra.Command{Use: "cododemo", SilenceUsage: true, SilenceErrors: true}
	cmdutil.AddGlobalFlags(root)
	root.AddCommand(NewCmdStatus(f))
	root.SetArgs(append([]string{"status"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func writeLab(t testing.TB, yaml, vagrantfile string) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cododemo.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if vagrantfile != "" {
		src, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "vagrant", vagrantfile))
		if err != nil {
			t.Fatal(err)
		}
		_ = os.MkdirAll(filepath.Join(dir, ".cododemo"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, ".cododemo", "Vagrantfile"), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// created marks node as a machine Vagrant has made (its id file).
func created(t testing.TB, dir, node, provider string) {
	m := filepath.Join(dir, ".cododemo", ".vagrant", "machines", node, provider)
	if err := os.MkdirAll(m, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m, "id"), []byte("0b6c7e5e"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestStatusTableFromFakeVagrant(t *testing.T) {
	dir := writeLab(t, "nodes:\n  count: 3\n", "Vagrantfile.multi")
	created(t, dir, "core-01", "virtualbox")
	fake := &exec.Fake{Handler: func(c exec.Cmd) (string, error) {
		return "1,core-01,state,running\n1,core-01,state-human-short,running\n1,core-02,state,poweroff\n1,core-02,state-human-short,poweroff\n", nil
	}}
	out, _, err := runCLI(t, dir, fake, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "NODE     STATE        IP\ncore-01  running      192.168.56.101\ncore-02  poweroff     192.168.56.102\ncore-03  not created  192.168.56.103\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	c := fake.Calls[0]
	if c.Dir != filepath.Join(dir, ".cododemo") || strings.Join(c.Args, " ") != "status --machine-readable" {
		t.Fatalf("ran %v in %s", c.Args, c.Dir)
	}
}

func TestStatusNotRendered(t *testing.T) {
	dir := writeLab(t, "nodes:\n  count: 2\n", "")
	fake := &exec.Fake{}
	out, errOut, err := runCLI(t, dir, fake, nil, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Rendered || len(rep.Nodes) != 2 || rep.Nodes[1].State != "not_created" || len(fake.Calls) != 0 {
		t.Fatalf("%+v calls=%d", rep, len(fake.Calls))
	}
	if errOut != "" {
		t.Fatalf("stderr with -o json: %q", errOut)
	}
}

func TestStatusErrorCarriesAdvice(t *testing.T) {
	dir := writeLab(t, "nodes:\n  count: 1\n", "Vagrantfile.multi")
	created(t, dir, "core-01", "virtualbox")
	captured, _ := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "vagrant", "status-no-virtualbox.csv"))
	fake := &exec.Fake{Handler: func(exec.Cmd) (string, error) { return string(captured), errors.New("exit status 1") }}
	_, _, err := runCLI(t, dir, fake, nil)
	if err == nil || !strings.Contains(err.Error(), "vagrant status: The provider 'virtualbox'") || !strings.Contains(err.Error(), "hint: ") {
		t.Fatalf("got %v", err)
	}
}

// A lab rendered but never brought up is "not created" from its state dir,
// even where the provider cannot run: the real vagrant runs here with
// VirtualBox absent, and would fail if it were asked.
func TestStatusNeverBroughtUpNeedsNoProvider(t *testing.T) {
	dir := writeLab(t, "provider: virtualbox\nnodes:\n  count: 3\n", "Vagrantfile.multi")
	out, errOut, err := runCLI(t, dir, exec.OS{}, map[string]string{"VAGRANT_HOME": t.TempDir()}, "-o", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.SchemaVersion != SchemaVersion || SchemaVersion != 1 || !rep.Rendered || len(rep.Nodes) != 3 {
		t.Fatalf("%+v", rep)
	}
	for _, n := range rep.Nodes {
		if n.State != "not_created" || n.StateHuman != "not created" || n.Provider != "virtualbox" {
			t.Fatalf("%+v", n)
		}
	}
	if !strings.Contains(out, `"schema_version": 1`) {
		t.Errorf("no schema_version in %s", out)
	}
}
