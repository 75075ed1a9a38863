package sshx_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cododemo/cododemo/pkg/sshx"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// TestForwardAgent: with ForwardAgent, a command on the node reaches the
// local agent (OpenSSH's ssh-add lists its key through the forwarded
// socket); without it, there is no agent on the node.
func TestForwardAgent(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 1, EtcdMembers: 1})
	n := c.Nodes[0]
	pemBytes, _ := os.ReadFile(c.IdentityFile)
	raw, err := ssh.ParseRawPrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: raw, Comment: "workshop-forwarded-key"}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, conn); conn.Close() }()
		}
	}()
	kh := sshx.NewKnownHosts(c.KnownHostsPath)
	list := func(cfg sshx.Config) (sshx.Result, error) {
		cl, err := dial(t, c, n, cfg)
		if err != nil {
			return sshx.Result{}, err
		}
		var out, errOut strings.Builder
		code, err := cl.Stream(context.Background(), "ssh-add -l", nil, &out, &errOut)
		return sshx.Result{Stdout: []byte(out.String()), Stderr: []byte(errOut.String()), ExitStatus: code}, err
	}
	res, err := list(sshx.Config{AgentSocket: sock, HostKeys: kh, ForwardAgent: true})
	if err != nil || res.ExitStatus != 0 || !strings.Contains(string(res.Stdout), "workshop-forwarded-key") {
		t.Errorf("forwarded: %v exit %d %q %q", err, res.ExitStatus, res.Stdout, res.Stderr)
	}
	res, err = list(sshx.Config{AgentSocket: sock, HostKeys: kh})
	if err != nil || res.ExitStatus == 0 {
		t.Errorf("not forwarded, yet the node has an agent: %v exit %d %q", err, res.ExitStatus, res.Stdout)
	}
	if _, err := dial(t, c, n, sshx.Config{IdentityFile: c.IdentityFile, HostKeys: kh, ForwardAgent: true}); err == nil ||
		!strings.Contains(err.Error(), "agent forwarding needs an SSH agent (SSH_AUTH_SOCK)") {
		t.Errorf("forwarding without an agent: %v", err)
	}
}
