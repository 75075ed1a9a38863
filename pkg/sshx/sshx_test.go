package sshx_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/cododemo/cododemo/pkg/sshx"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

func addr(n *testnodes.Node) string { return net.JoinHostPort(n.Addr, strconv.Itoa(n.SSHPort)) }

func dial(t *testing.T, c *testnodes.Cluster, n *testnodes.Node, cfg sshx.Config) (*sshx.Client, error) {
	t.Helper()
	if cfg.User == "" {
		cfg.User = c.User
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 3 * time.Second
	}
	cl, err := sshx.Dial(context.Background(), n.Name, addr(n), cfg)
	if err == nil {
		t.Cleanup(func() { cl.Close() })
	}
	return cl, err
}

func TestPinVerifyAndChangedKey(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 2})
	kh := sshx.NewKnownHosts(c.KnownHostsPath)
	cfg := sshx.Config{IdentityFile: c.IdentityFile, HostKeys: kh}
	for _, n := range c.Nodes {
		if _, err := dial(t, c, n, cfg); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(c.KnownHostsPath)
	if strings.Count(string(data), "\n") != 2 || !strings.Contains(string(data), "["+c.Nodes[1].Addr+"]:") {
		t.Fatalf("known_hosts after first contact:\n%s", data)
	}
	// Pinned now: a store that refuses new hosts still accepts them.
	strict := sshx.NewKnownHosts(c.KnownHostsPath)
	strict.NoPin = true
	if _, err := dial(t, c, c.Nodes[0], sshx.Config{IdentityFile: c.IdentityFile, HostKeys: strict}); err != nil {
		t.Fatalf("pinned host refused: %v", err)
	}
	if err := c.Nodes[1].ChangeHostKey(); err != nil {
		t.Fatal(err)
	}
	_, err := dial(t, c, c.Nodes[1], cfg)
	var hk *sshx.HostKeyChangedError
	if !errors.As(err, &hk) {
		t.Fatalf("changed key: got %v", err)
	}
	if hk.Node != "core-02" || hk.Line != 2 || !strings.Contains(err.Error(), "HOST KEY CHANGED") || !strings.Contains(err.Error(), c.KnownHostsPath) {
		t.Errorf("changed-key error not loud enough: %v (%+v)", err, hk)
	}
	// The file is left as it was: the old key stays pinned.
	after, _ := os.ReadFile(c.KnownHostsPath)
	if string(after) != string(data) {
		t.Errorf("known_hosts changed after a mismatch")
	}
	// Only the explicit insecure option gets through.
	if _, err := dial(t, c, c.Nodes[1], sshx.Config{IdentityFile: c.IdentityFile, InsecureIgnoreHostKey: true}); err != nil {
		t.Errorf("insecure: %v", err)
	}
	if _, err := dial(t, c, c.Nodes[1], sshx.Config{IdentityFile: c.IdentityFile}); err == nil {
		t.Error("dial without host key checking and without the insecure option succeeded")
	}
	// NoPin refuses a host it has never seen.
	fresh := sshx.NewKnownHosts(filepath.Join(t.TempDir(), "kh"))
	fresh.NoPin = true
	var uh *sshx.UnknownHostError
	if _, err := dial(t, c, c.Nodes[0], sshx.Config{IdentityFile: c.IdentityFile, HostKeys: fresh}); !errors.As(err, &uh) {
		t.Errorf("NoPin unknown host: %v", err)
	}
}

func TestRunAndSessionsOnOneConnection(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 1, EtcdMembers: 1})
	cl, err := dial(t, c, c.Nodes[0], sshx.Config{IdentityFile: c.IdentityFile, HostKeys: sshx.NewKnownHosts(c.KnownHostsPath)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := cl.Run(ctx, "echo out; echo err >&2; exit 3")
	if err != nil || res.ExitStatus != 3 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Errorf("run: %+v %v", res, err)
	}
	res, err = cl.Run(ctx, "kill -9 $$")
	if err != nil || res.ExitStatus != -1 || res.Signal != "KILL" {
		t.Errorf("signal: %+v %v", res, err)
	}
	// Many sessions at once on the one connection.
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			r, err := cl.Run(ctx, "echo "+strconv.Itoa(i))
			if err == nil && strings.TrimSpace(string(r.Stdout)) != strconv.Itoa(i) {
				err = errors.New("wrong output " + string(r.Stdout))
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// A cancelled context ends a long command promptly.
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := cl.Run(cctx, "sleep 30"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancel: %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("cancel took %s", d)
	}
	// The tools cododemo installs in /opt/bin are found without a login
	// shell: a real sshd's exec PATH does not name it (verify's fleetctl
	// once failed with "command not found" for want of this).
	res, err = cl.Run(ctx, `echo "$PATH"`)
	if err != nil || !strings.HasPrefix(string(res.Stdout), sshx.ToolDir+":") {
		t.Errorf("PATH on the node = %q (%v), want %s first", res.Stdout, err, sshx.ToolDir)
	}
	// stdin reaches the command.
	res, err = cl.RunInput(ctx, "cat", strings.NewReader("hello"))
	if err != nil || string(res.Stdout) != "hello" {
		t.Errorf("stdin: %+v %v", res, err)
	}
}

func TestAgentAndKeyErrors(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 1, EtcdMembers: 1})
	n := c.Nodes[0]
	kh := sshx.NewKnownHosts(c.KnownHostsPath)
	// An agent holding the key, no identity file.
	pemBytes, _ := os.ReadFile(c.IdentityFile)
	raw, err := ssh.ParseRawPrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
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
	if _, err := dial(t, c, n, sshx.Config{AgentSocket: sock, HostKeys: kh}); err != nil {
		t.Errorf("agent login: %v", err)
	}
	// A passphrase-protected key without an agent: say what to do.
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, _ := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("secret"))
	enc := filepath.Join(t.TempDir(), "enc")
	_ = os.WriteFile(enc, pem.EncodeToMemory(blk), 0o600)
	if _, err := dial(t, c, n, sshx.Config{IdentityFile: enc, HostKeys: kh}); err == nil || !strings.Contains(err.Error(), "ssh-add") {
		t.Errorf("encrypted key: %v", err)
	}
	// A key the node does not accept: unreachable with the reason.
	other := filepath.Join(t.TempDir(), "other")
	blk, _ = ssh.MarshalPrivateKey(priv, "")
	_ = os.WriteFile(other, pem.EncodeToMemory(blk), 0o600)
	_, err = dial(t, c, n, sshx.Config{IdentityFile: other, HostKeys: kh})
	var ue *sshx.UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := dial(t, c, n, sshx.Config{HostKeys: kh}); err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK") {
		t.Errorf("no key at all: %v", err)
	}
}

func TestDialTimesOutOnSilentServer(t *testing.T) {
	// A listener that accepts and never speaks, like a hung sshd.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, _ := ssh.MarshalPrivateKey(priv, "")
	_ = os.WriteFile(key, pem.EncodeToMemory(blk), 0o600)
	t0 := time.Now()
	_, err = sshx.Dial(context.Background(), "core-09", l.Addr().String(), sshx.Config{
		User: "core", IdentityFile: key, HostKeys: sshx.NewKnownHosts(filepath.Join(dir, "kh")), Timeout: 300 * time.Millisecond})
	var ue *sshx.UnreachableError
	if !errors.As(err, &ue) || ue.Node != "core-09" {
		t.Errorf("silent server: %v", err)
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("timeout took %s", d)
	}
}
