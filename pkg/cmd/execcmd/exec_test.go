package execcmd

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/cmdutil/cmdtest"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

func runCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := cmdutil.Factory{Getenv: func(k string) string { return map[string]string{"HOME": dir}[k] }, WorkDir: dir}
	r := cmdtest.Run(ctx, f, append([]string{"exec"}, args...), NewCmdExec)
	return r.Code, r.Stdout, r.Stderr
}

// sorted returns the lines of s sorted: nodes run in parallel, so only
// each node's own lines keep their order.
func sorted(s string) string {
	l := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(l)
	return strings.Join(l, "\n") + "\n"
}

func TestExecOverRealNodes(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	if err := c.Node("core-02").WriteFile("/fail", "3"); err != nil {
		t.Fatal(err)
	}
	inv := []string{"--inventory", c.InventoryPath, "--connect-timeout", "3s"}
	// Each node prints two stdout lines (the last without a newline), one
	// stderr line, and exits with the number in its /fail, if any.
	script := `echo "hello from $(basename "$(dirname "$CODODEMO_ROOT")")"; echo warn >&2; printf 'no newline'; ` +
		`if [ -e "$CODODEMO_ROOT/fail" ]; then exit "$(cat "$CODODEMO_ROOT/fail")"; fi`

	t.Run("one node fails", func(t *testing.T) {
		code, out, errOut := runCLI(t, c.Dir, append(inv, "--all", "--", script)...)
		if code != 1 {
			t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		var want strings.Builder
		for _, n := range []string{"core-01", "core-02", "core-03"} {
			want.WriteString(n + " | hello from " + n + "\n" + n + " | no newline\n")
		}
		if sorted(out) != sorted(want.String()) {
			t.Errorf("stdout:\n%s\nwant (any order of nodes):\n%s", out, want.String())
		}
		for _, l := range []string{"core-01 | warn\n", "core-02 | warn\n", "core-03 | warn\n",
			"core-01  exit 0\n", "core-02  exit 3\n", "core-03  exit 0\n",
			"exec: failed on 1 of 3 nodes: core-02 (exit 3)\n"} {
			if !strings.Contains(errOut, l) {
				t.Errorf("stderr lacks %q:\n%s", l, errOut)
			}
		}
	})

	t.Run("named nodes only, all exit 0", func(t *testing.T) {
		code, out, errOut := runCLI(t, c.Dir, append(inv, "core-03", "core-01", "--", "echo", "ok")...)
		if code != 0 || sorted(out) != "core-01 | ok\ncore-03 | ok\n" || strings.Contains(errOut, "core-02") {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--all", "true"}, "after --"},
			{[]string{"--all", "--"}, "no command"},
			{[]string{"--", "true"}, "--all"},
			{[]string{"--all", "core-01", "--", "true"}, "pick one"},
			{[]string{"core-01", "core-07", "--", "true"}, `no node "core-07"`},
			{[]string{"--all", "--parallel", "0", "--", "true"}, "--parallel"},
		} {
			code, _, errOut := runCLI(t, c.Dir, append(inv, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("%v: exit %d stderr %q, want 2 and %q", tc.args, code, errOut, tc.want)
			}
		}
		code, _, errOut := runCLI(t, c.Dir, append(inv, "core-01", "core-07", "--", "true")...)
		if code != 2 || !strings.Contains(errOut, "nodes: core-01, core-02, core-03") {
			t.Errorf("unknown node does not list the nodes: %q", errOut)
		}
	})

	t.Run("timeout names the node", func(t *testing.T) {
		code, _, errOut := runCLI(t, c.Dir, append(inv, "--timeout", "1s", "--all", "--", `[ -e "$CODODEMO_ROOT/fail" ] && sleep 30; true`)...)
		if code != 1 || !strings.Contains(errOut, "core-02  timed out") || !strings.Contains(errOut, "core-02 (timed out)") || !strings.Contains(errOut, "core-01  exit 0") {
			t.Fatalf("exit %d stderr %q", code, errOut)
		}
	})

	t.Run("changed host key and unreachable nodes are named", func(t *testing.T) {
		if err := c.Node("core-01").ChangeHostKey(); err != nil {
			t.Fatal(err)
		}
		c.Node("core-02").StopSSHD()
		code, out, errOut := runCLI(t, c.Dir, append(inv, "--all", "--", "echo", "ran")...)
		if code != 1 || out != "core-03 | ran\n" {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
		for _, l := range []string{"core-01  HOST KEY CHANGED", "core-02  unreachable: ", "refused", "core-03  exit 0",
			"exec: failed on 2 of 3 nodes: core-01 (host key changed), core-02 (unreachable)"} {
			if !strings.Contains(errOut, l) {
				t.Errorf("stderr lacks %q:\n%s", l, errOut)
			}
		}
	})

	t.Run("a hung node ends at the connect timeout", func(t *testing.T) {
		if err := c.Node("core-02").StartSSHD(); err != nil {
			t.Fatal(err)
		}
		c.Node("core-02").FreezeSSHD()
		// The same --connect-timeout as the other cases, not a short one:
		// it bounds the healthy core-03's handshake too, and on a loaded
		// machine sshd's fork and key exchange alone can pass 500ms, which
		// made this case fail with both nodes "unreachable".
		code, out, errOut := runCLI(t, c.Dir, append(inv, "core-02", "core-03", "--", "echo", "ran")...)
		if code != 1 || out != "core-03 | ran\n" || !strings.Contains(errOut, "core-02  unreachable: ") || !strings.Contains(errOut, "core-02 (unreachable)") {
			t.Fatalf("exit %d stdout %q stderr %q", code, out, errOut)
		}
	})
}
