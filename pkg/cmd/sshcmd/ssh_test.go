package sshcmd

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/cmdutil/cmdtest"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// cli runs `cododemo ssh args...` in-process the way pkg/app wires it and
// returns the exit code and both streams.
type cli struct {
	dir string
	in  io.Reader
}

func (c cli) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := cmdutil.Factory{
		IO:      &cmdutil.IOStreams{In: c.in},
		Getenv:  func(k string) string { return map[string]string{"HOME": c.dir, "TERM": "vt100"}[k] },
		WorkDir: c.dir,
	}
	r := cmdtest.Run(ctx, f, append([]string{"ssh"}, args...), NewCmdSSH)
	return r.Code, r.Stdout, r.Stderr
}

func TestSSHCommandAgainstRealSSHD(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 2})
	run := cli{dir: c.Dir}
	inv := []string{"--inventory", c.InventoryPath, "--connect-timeout", "3s"}

	t.Run("output and exit status", func(t *testing.T) {
		code, out, errOut := run.run(t, append(inv, "core-02", "--", `echo "on $(hostname -I 2>/dev/null || true)"; echo to-stderr >&2; exit 3`)...)
		if code != 3 || !strings.HasPrefix(out, "on ") || errOut != "to-stderr\n" {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
		code, out, errOut = run.run(t, append(inv, "core-01", "--", "true")...)
		if code != 0 || out != "" || errOut != "" {
			t.Fatalf("true: exit %d stdout %q stderr %q", code, out, errOut)
		}
	})

	t.Run("words after NODE are the command, flags included", func(t *testing.T) {
		code, out, errOut := run.run(t, append(inv, "core-01", "echo", "-n", "a", "b")...)
		if code != 0 || out != "a b" {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
	})

	t.Run("stdin is forwarded, -n keeps it back", func(t *testing.T) {
		withIn := cli{dir: c.Dir, in: strings.NewReader("hello\n")}
		code, out, errOut := withIn.run(t, append(inv, "core-01", "--", "tr", "a-z", "A-Z")...)
		if code != 0 || out != "HELLO\n" {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
		code, out, _ = withIn.run(t, append(inv, "-n", "core-01", "--", "cat")...)
		if code != 0 || out != "" {
			t.Fatalf("-n: exit %d stdout %q", code, out)
		}
	})

	t.Run("no command and no terminal: stdin is the shell's script", func(t *testing.T) {
		script := cli{dir: c.Dir, in: strings.NewReader("echo from-shell\nexit 4\n")}
		code, out, errOut := script.run(t, append(inv, "core-01")...)
		if code != 4 || out != "from-shell\n" {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
	})

	t.Run("unknown node lists the nodes", func(t *testing.T) {
		code, _, errOut := run.run(t, append(inv, "core-09", "--", "true")...)
		if code != 2 || !strings.Contains(errOut, `no node "core-09"`) || !strings.Contains(errOut, "core-01, core-02") {
			t.Fatalf("exit %d stderr %q", code, errOut)
		}
		code, _, errOut = run.run(t, inv...)
		if code != 2 || !strings.Contains(errOut, "name the node") {
			t.Fatalf("no node: exit %d stderr %q", code, errOut)
		}
	})

	t.Run("changed host key is refused", func(t *testing.T) {
		// Pinned by the runs above.
		if err := c.Node("core-02").ChangeHostKey(); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := run.run(t, append(inv, "core-02", "--", "echo", "SHOULD-NOT-RUN")...)
		if code != ExitConnect || out != "" || !strings.Contains(errOut, "HOST KEY CHANGED") || !strings.Contains(errOut, "core-02") {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
	})

	t.Run("unreachable node is named, no hang", func(t *testing.T) {
		c.Node("core-01").StopSSHD()
		code, _, errOut := run.run(t, append(inv, "core-01", "--", "true")...)
		if code != ExitConnect || !strings.Contains(errOut, "core-01: ssh ") || !strings.Contains(errOut, "refused") {
			t.Fatalf("exit %d stderr %q", code, errOut)
		}
		// A hung sshd (TCP accepted, nothing said) ends at --connect-timeout.
		if err := c.Node("core-01").StartSSHD(); err != nil {
			t.Fatal(err)
		}
		c.Node("core-01").FreezeSSHD()
		code, _, errOut = run.run(t, "--inventory", c.InventoryPath, "--connect-timeout", "500ms", "core-01", "--", "true")
		if code != ExitConnect || !strings.Contains(errOut, "core-01") {
			t.Fatalf("frozen: exit %d stderr %q", code, errOut)
		}
	})
}

func TestSSHUsesTheLabInventory(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 1})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cododemo.yaml"), []byte("nodes:\n  count: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := cli{dir: dir}
	code, _, errOut := run.run(t, "core-01", "--", "true")
	if code != 2 || !strings.Contains(errOut, "cododemo up") || !strings.Contains(errOut, filepath.Join(dir, ".cododemo", "inventory.yaml")) {
		t.Fatalf("no inventory yet: exit %d stderr %q", code, errOut)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".cododemo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := inventory.Write(filepath.Join(dir, ".cododemo", "inventory.yaml"), c.Inventory); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run.run(t, "core-01", "--", "echo", "lab")
	if code != 0 || out != "lab\n" {
		t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
	}
	kh, err := os.ReadFile(filepath.Join(dir, ".cododemo", "known_hosts"))
	if err != nil || !strings.Contains(string(kh), c.Nodes[0].Addr) {
		t.Fatalf("host key not pinned in the lab's known_hosts: %v\n%s", err, kh)
	}
}
