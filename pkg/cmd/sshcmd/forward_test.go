package sshcmd

import (
	"context"
	"os"
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
