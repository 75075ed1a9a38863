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
}

// TestForwardLabKey: with an identity file, -A forwards an in-process
// agent holding only that key (the lab's), with no agent running on this
// machine, and in preference to the user's agent; what the node does to
// it lasts only as long as the connection.
func TestForwardLabKey(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 1, EtcdMembers: 1})
	n := c.Nodes[0]
	pemBytes, _ := os.ReadFile(c.IdentityFile)
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	fp := ssh.FingerprintSHA256(signer.PublicKey())
	kh := sshx.NewKnownHosts(c.KnownHostsPath)
	run := func(cfg sshx.Config, cmd string) (string, int) {
		cl, err := dial(t, c, n, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		code, err := cl.Stream(context.Background(), cmd, nil, &out, &out)
		if err != nil {
			t.Fatal(err)
		}
		return out.String(), code
	}
	cfg := sshx.Config{IdentityFile: c.IdentityFile, HostKeys: kh, ForwardAgent: true}
	out, code := run(cfg, "ssh-add -l")
	if code != 0 || !strings.Contains(out, fp) || !strings.Contains(out, "cododemo: id_ed25519") || strings.Count(out, "SHA256:") != 1 {
		t.Errorf("no agent on this machine: exit %d %q, want only the lab key %s", code, out, fp)
	}
	if out, code := run(cfg, "ssh-add -D"); code != 0 {
		t.Errorf("ssh-add -D: exit %d %q", code, out)
	}
	if out, code := run(cfg, "ssh-add -l"); code != 0 || !strings.Contains(out, fp) {
		t.Errorf("a new connection after ssh-add -D on the last: exit %d %q, want the lab key", code, out)
	}
	// sshd grants forwarding once per connection; every session of it
	// has the agent.
	cl, err := dial(t, c, n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		res, err := cl.Run(context.Background(), "ssh-add -l")
		if err != nil || res.ExitStatus != 0 || !strings.Contains(string(res.Stdout), fp) {
			t.Errorf("session %d on one connection: %v exit %d %q %q", i+1, err, res.ExitStatus, res.Stdout, res.Stderr)
		}
	}
	// A user's agent (here a socket that does not exist) is not what is
	// forwarded when the lab key is there.
	cfg.AgentSocket = filepath.Join(t.TempDir(), "no-agent.sock")
	if out, code := run(cfg, "ssh-add -l"); code != 0 || !strings.Contains(out, "cododemo: id_ed25519") {
		t.Errorf("with SSH_AUTH_SOCK set: exit %d %q, want the lab key", code, out)
	}
}
