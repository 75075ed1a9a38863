package sshcmd

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/cmdutil/cmdtest"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// TestForwardAgentFlag: `cododemo ssh -A` gives the remote command an
// agent holding the lab key (the workshop's fleetctl journal of a unit on
// another node needs it), also when no agent runs here; without -A it
// has none.
func TestForwardAgentFlag(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 1})
	pemBytes, _ := os.ReadFile(c.IdentityFile)
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	fp := ssh.FingerprintSHA256(signer.PublicKey())
	run := func(args ...string) cmdtest.Result {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		f := cmdutil.Factory{Getenv: func(k string) string { return map[string]string{"HOME": c.Dir}[k] }, WorkDir: c.Dir}
		return cmdtest.Run(ctx, f, append([]string{"ssh", "--inventory", c.InventoryPath}, args...), NewCmdSSH)
	}
	if r := run("-A", "core-01", "--", "ssh-add", "-l"); r.Code != 0 || !strings.Contains(r.Stdout, fp) {
		t.Errorf("-A: exit %d %q %q, want the lab key %s", r.Code, r.Stdout, r.Stderr, fp)
	}
	if r := run("core-01", "--", "ssh-add", "-l"); r.Code == 0 {
		t.Errorf("without -A the node has an agent: %q", r.Stdout)
	}
}

// TestForwardAgentTrustsFleet: `cododemo ssh -A` also gives the node's
// fleetctl the pinned host keys, so a real OpenSSH ssh from there to
// another node (as fleetctl journal does) passes strict host key checking
// with ~/.fleetctl/known_hosts and logs in with the forwarded lab key.
func TestForwardAgentTrustsFleet(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 2, EtcdMembers: 1})
	run := func(args ...string) cmdtest.Result {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		f := cmdutil.Factory{Getenv: func(k string) string { return map[string]string{"HOME": c.Dir}[k] }, WorkDir: c.Dir}
		return cmdtest.Run(ctx, f, append([]string{"ssh", "--inventory", c.InventoryPath}, args...), NewCmdSSH)
	}
	n2 := c.Nodes[1]
	onward := []string{"ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
		"-o", `UserKnownHostsFile="$HOME/.fleetctl/known_hosts"`, "-o", "GlobalKnownHostsFile=/dev/null",
		"-p", strconv.Itoa(n2.SSHPort), c.User + "@" + n2.Addr, "'echo on $CODODEMO_ROOT'"}
	// core-02 not contacted yet: its key is not pinned, and -A says so.
	r := run(append([]string{"-A", "core-01", "--"}, onward...)...)
	if r.Code == 0 || !strings.Contains(r.Stderr, "warning: no pinned host key for core-02 yet") || !strings.Contains(r.Stderr, "Host key verification failed") {
		t.Errorf("core-02 not pinned: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := run("core-02", "--", "true"); r.Code != 0 {
		t.Fatalf("pin core-02: %d %s", r.Code, r.Stderr)
	}
	r = run(append([]string{"-A", "core-01", "--"}, onward...)...)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "on "+n2.Root || r.Stderr != "" {
		t.Errorf("-A: exit %d %q %q, want core-02's answer", r.Code, r.Stdout, r.Stderr)
	}
	if r := run(append([]string{"core-01", "--"}, onward...)...); r.Code == 0 || !strings.Contains(r.Stderr, "Permission denied (publickey)") {
		t.Errorf("without -A: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
}
