// Package sshx is cododemo's SSH client: one connection per node, many
// sessions on it, host keys pinned on first contact and verified after,
// keys from an identity file or the SSH agent. `verify`, `ssh` and `exec`
// share it.
package sshx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Config says how to reach and trust a node.
type Config struct {
	// User to log in as.
	User string
	// IdentityFile is a private key (unencrypted; encrypted keys belong in
	// the agent). Optional when an agent is available.
	IdentityFile string
	// AgentSocket is the SSH agent's socket ($SSH_AUTH_SOCK); "" for none.
	AgentSocket string
	// HostKeys verifies and pins host keys. Required unless
	// InsecureIgnoreHostKey is set.
	HostKeys *KnownHosts
	// InsecureIgnoreHostKey accepts any host key: anyone on the path can
	// impersonate the node. Only behind an explicit, loudly named flag.
	InsecureIgnoreHostKey bool
	// Timeout bounds the TCP connect plus the SSH handshake.
	Timeout time.Duration
	// ForwardAgent gives the node's sessions an SSH agent (ssh -A), so
	// commands there (fleetctl journal of a unit on another machine) can
	// log in onward. The agent holds only the identity file's key (the
	// lab's own), served in this process on this connection's forwarded
	// channels; only without a usable identity file is the agent at
	// AgentSocket forwarded instead. See forwardAgent for why. Anyone with
	// root on the node can use the forwarded key while the connection
	// lasts.
	ForwardAgent bool
}

// Client is one SSH connection to a node, safe for concurrent sessions.
type Client struct {
	Node string
	Addr string
	conn *ssh.Client
	// forwardAgent asks for agent forwarding (see newSession).
	forwardAgent bool
	agentMu      sync.Mutex
	agentGranted bool
}

// Result is what a remote command did.
type Result struct {
	Stdout, Stderr []byte
	// ExitStatus is the command's exit code; -1 when it died of a signal.
	ExitStatus int
	Signal     string
}

// UnreachableError says the node could not be reached or logged in to.
type UnreachableError struct {
	Node, Addr string
	Err        error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("%s: ssh %s: %v", e.Node, e.Addr, e.Err)
}
func (e *UnreachableError) Unwrap() error { return e.Err }

// Dial connects and logs in to node at addr (host:port). The context and
// cfg.Timeout both bound the connect and the handshake: a node whose sshd
// accepts TCP but never speaks cannot hang the caller.
func Dial(ctx context.Context, node, addr string, cfg Config) (*Client, error) {
	fail := func(err error) (*Client, error) {
		return nil, &UnreachableError{Node: node, Addr: addr, Err: err}
	}
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	auth, closeAgent, err := authMethods(cfg)
	if err != nil {
		return fail(err)
	}
	defer closeAgent()
	var hostKey ssh.HostKeyCallback
	switch {
	case cfg.InsecureIgnoreHostKey:
		hostKey = ssh.InsecureIgnoreHostKey()
	case cfg.HostKeys != nil:
		hostKey = cfg.HostKeys.Callback(node)
	default:
		return fail(errors.New("no known_hosts file given and host key checking not disabled"))
	}
	sc := &ssh.ClientConfig{
		User:            cfg.User,
		Auth:            auth,
		HostKeyCallback: hostKey,
		Timeout:         cfg.Timeout,
	}
	if cfg.HostKeys != nil && !cfg.InsecureIgnoreHostKey {
		// Ask for the key type already pinned, so a server offering several
		// host keys is checked against the one we have.
		sc.HostKeyAlgorithms = cfg.HostKeys.Algorithms(addr)
	}
	var d net.Dialer
	tcp, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fail(err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = tcp.SetDeadline(dl)
	}
	// Closing the socket on cancellation interrupts a handshake blocked on
	// a silent server.
	stop := context.AfterFunc(ctx, func() { _ = tcp.Close() })
	c, chans, reqs, err := ssh.NewClientConn(tcp, addr, sc)
	if !stop() {
		if err == nil {
			_ = c.Close()
		}
		return fail(fmt.Errorf("handshake: %w", context.Cause(ctx)))
	}
	if err != nil {
		_ = tcp.Close()
		var hk *HostKeyChangedError
		if errors.As(err, &hk) {
			return nil, hk // loud on its own; not "unreachable"
		}
		return fail(err)
	}
	_ = tcp.SetDeadline(time.Time{})
	cl := &Client{Node: node, Addr: addr, conn: ssh.NewClient(c, chans, reqs)}
	if cfg.ForwardAgent {
		if err := forwardAgent(cl.conn, cfg); err != nil {
			_ = cl.Close()
			return fail(fmt.Errorf("agent forwarding: %w", err))
		}
		cl.forwardAgent = true
	}
	return cl, nil
}

// forwardAgent serves the agent the node's sessions get. The identity
// file's key comes first: on a lab it is the lab's own key, made for the
// lab, which opens only the lab's nodes and which every node already
// trusts, so forwarding it gives a node nothing it could not reach
// anyway, and the user's other keys (their agent's) never reach a VM. It is held in this process and
// served on the channels the node opens back over this one connection,
// so no agent socket is made on this machine, it works when the user has
// no agent running (macOS always sets SSH_AUTH_SOCK, often to an agent
// that lacks the lab key), and it is gone when the connection closes.
// Only when there is no usable identity file (none, or encrypted) is the
// agent at AgentSocket forwarded, as OpenSSH's ssh -A does.
func forwardAgent(conn *ssh.Client, cfg Config) error {
	if raw, ok := plainKey(cfg.IdentityFile); ok {
		kr := agent.NewKeyring()
		if err := kr.Add(agent.AddedKey{PrivateKey: raw, Comment: "cododemo: " + filepath.Base(cfg.IdentityFile)}); err != nil {
			return err
		}
		// A node may add, remove or lock keys in it: that changes only
		// this connection's in-memory keyring, never anything on this
		// machine.
		return agent.ForwardToAgent(conn, kr)
	}
	if cfg.AgentSocket == "" {
		return errors.New("needs an unencrypted identity file (the lab's key) or an SSH agent (SSH_AUTH_SOCK)")
	}
	// Each channel the node opens back is served by a fresh connection
	// to the local agent.
	return agent.ForwardToRemote(conn, cfg.AgentSocket)
}

// plainKey reads an unencrypted private key.
func plainKey(path string) (any, bool) {
	if path == "" {
		return nil, false
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	raw, err := ssh.ParseRawPrivateKey(pem)
	return raw, err == nil
}

// newSession opens a session, asking for agent forwarding when the client
// forwards the agent. OpenSSH's sshd grants that once per connection
// ("authentication forwarding requested twice" otherwise) and then gives
// every later session of the connection the same SSH_AUTH_SOCK, so only
// the first session asks; later ones wait until it has its answer, so no
// command starts before the node has the agent.
func (c *Client) newSession() (*ssh.Session, error) {
	if !c.forwardAgent {
		return c.conn.NewSession()
	}
	c.agentMu.Lock()
	defer c.agentMu.Unlock()
	s, err := c.conn.NewSession()
	if err != nil || c.agentGranted {
		return s, err
	}
	if err := agent.RequestAgentForwarding(s); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("agent forwarding: %w", err)
	}
	c.agentGranted = true
	return s, nil
}

func authMethods(cfg Config) ([]ssh.AuthMethod, func(), error) {
	var signers []ssh.Signer
	noop := func() {}
	if cfg.IdentityFile != "" {
		pem, err := os.ReadFile(cfg.IdentityFile)
		if err != nil {
			return nil, noop, fmt.Errorf("identity file: %w", err)
		}
		s, err := ssh.ParsePrivateKey(pem)
		var pp *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &pp) && cfg.AgentSocket != "":
			// Encrypted: the agent may hold it.
		case errors.As(err, &pp):
			return nil, noop, fmt.Errorf("identity file %s is passphrase-protected: add it to ssh-agent (ssh-add) and set SSH_AUTH_SOCK", cfg.IdentityFile)
		case err != nil:
			return nil, noop, fmt.Errorf("identity file %s: %w", cfg.IdentityFile, err)
		default:
			signers = append(signers, s)
		}
	}
	closeAgent := noop
	var agentSigners func() ([]ssh.Signer, error)
	if cfg.AgentSocket != "" {
		conn, err := net.Dial("unix", cfg.AgentSocket)
		if err == nil {
			closeAgent = func() { _ = conn.Close() }
			agentSigners = agent.NewClient(conn).Signers
		} else if len(signers) == 0 {
			return nil, noop, fmt.Errorf("ssh agent %s: %w", cfg.AgentSocket, err)
		}
	}
	if len(signers) == 0 && agentSigners == nil {
		return nil, noop, errors.New("no identity file and no SSH agent (SSH_AUTH_SOCK)")
	}
	cb := func() ([]ssh.Signer, error) {
		out := signers
		if agentSigners != nil {
			if as, err := agentSigners(); err == nil {
				out = append(append([]ssh.Signer(nil), out...), as...)
			}
		}
		return out, nil
	}
	return []ssh.AuthMethod{ssh.PublicKeysCallback(cb)}, closeAgent, nil
}

// Close ends the connection and every session on it.
func (c *Client) Close() error { return c.conn.Close() }

// Run runs cmd in a new session and waits. A non-zero exit is not an
// error: it is in Result. Errors are transport failures or ctx ending, in
// which case the session is closed (the remote command gets SIGHUP).
func (c *Client) Run(ctx context.Context, cmd string) (Result, error) {
	return c.RunInput(ctx, cmd, nil)
}

// RunInput is Run with stdin.
func (c *Client) RunInput(ctx context.Context, cmd string, stdin io.Reader) (Result, error) {
	var res Result
	s, err := c.newSession()
	if err != nil {
		return res, fmt.Errorf("%s: new session: %w", c.Node, err)
	}
	defer s.Close()
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr, s.Stdin = &stdout, &stderr, stdin
	done := make(chan error, 1)
	if err := s.Start(WithToolPath(cmd)); err != nil {
		return res, fmt.Errorf("%s: start %q: %w", c.Node, firstWord(cmd), err)
	}
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL) // OpenSSH ignores this; closing the channel does the work
		_ = s.Close()
		return res, fmt.Errorf("%s: %s: %w", c.Node, firstWord(cmd), context.Cause(ctx))
	}
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	var ee *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitStatus = ee.ExitStatus()
		if ee.Signal() != "" {
			res.ExitStatus, res.Signal = -1, ee.Signal()
		}
	default:
		return res, fmt.Errorf("%s: %s: %w", c.Node, firstWord(cmd), err)
	}
	return res, nil
}

// ToolDir is where a node keeps the tools cododemo installs (fleetd and
// fleetctl; etcd and etcdctl when etcd comes from its release): /usr is
// read-only on Flatcar, so they live in /opt/bin. A command sshd runs gets
// sshd's default PATH (plus whatever PAM reads from /etc/environment, which
// cododemo now writes itself), and neither names /opt/bin. So every command
// cododemo runs on a node gets it first on its PATH, here, once.
const ToolDir = "/opt/bin"

// WithToolPath is cmd as sent over the wire: the same shell command with
// ToolDir first on its PATH.
func WithToolPath(cmd string) string {
	return "PATH=" + ToolDir + ":$PATH; export PATH; " + cmd
}

// WithoutToolPath undoes WithToolPath, for stand-in sshds that answer
// commands by their text.
func WithoutToolPath(wire string) string {
	cmd, _ := strings.CutPrefix(wire, WithToolPath(""))
	return cmd
}

func firstWord(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return "command"
	}
	if len(f) > 1 && !strings.HasPrefix(f[1], "-") {
		return f[0] + " " + f[1]
	}
	return f[0]
}
