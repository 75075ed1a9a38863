package sshcmd

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/cmdutil/cmdtest"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// TestForwardAgentFlag: `cododemo ssh -A` gives the remote command the
// local agent (the workshop's fleetctl journal of a unit on another node
// needs it); without -A it has none.
func TestForwardAgentFlag(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 1})
	pemBytes, _ := os.ReadFile(c.IdentityFile)
	raw, err := ssh.ParseRawPrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: raw, Comment: "the-lab-key"}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, conn); conn.Close() }()
		}
	}()
	run := func(args ...string) cmdtest.Result {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		f := cmdutil.Factory{Getenv: func(k string) string { return map[string]string{"HOME": c.Dir, "SSH_AUTH_SOCK": sock}[k] }, WorkDir: c.Dir}
		return cmdtest.Run(ctx, f, append([]string{"ssh", "--inventory", c.InventoryPath}, args...), NewCmdSSH)
	}
	if r := run("-A", "core-01", "--", "ssh-add", "-l"); r.Code != 0 || !strings.Contains(r.Stdout, "the-lab-key") {
		t.Errorf("-A: exit %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := run("core-01", "--", "ssh-add", "-l"); r.Code == 0 {
		t.Errorf("without -A the node has an agent: %q", r.Stdout)
	}
}
