// Package sshcmd implements `cododemo ssh`: a login shell or one command on
// a lab node, through cododemo's own SSH client (pkg/sshx) rather than
// `vagrant ssh`, which pays a Ruby start-up on every call. Its target
// flags are pkg/sshtarget's, shared with `cododemo exec` and `verify`.
package sshcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/fleettrust"
	"github.com/cododemo/cododemo/pkg/sshtarget"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// ExitConnect is the exit status when the node could not be reached or
// the session broke: OpenSSH's ssh uses 255 too, so scripts can tell it
// from the remote command's own failures.
const ExitConnect = 255

// Options are the parsed flags and arguments.
type Options struct {
	IO     *cmdutil.IOStreams
	Getenv func(string) string
	// OpenTerminal finds the local terminal behind IO.In; tests pass a fake.
	OpenTerminal func(io.Reader) (Terminal, bool)

	sshtarget.Flags
	TTY          bool
	NoStdin      bool
	ForwardAgent bool

	Node    string
	Command string
}

// NewCmdSSH builds `cododemo ssh`.
func NewCmdSSH(f *cmdutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Getenv: f.Getenv, OpenTerminal: OpenTerminal}
	cmd := &cobra.Command{
		Use:   "ssh NODE [-- CMD...]",
		Short: "Log in to a lab node, or run a command on it, over SSH",
		Long: `Ssh logs in to a node with cododemo's own SSH client (no "vagrant ssh", so
no Ruby start-up per call), using the lab's inventory, per-lab key and
pinned host keys: a node's key is pinned on first contact, and a changed
key is refused loudly.

Without CMD: an interactive login shell on a remote terminal; the local
terminal is in raw mode until the session ends, and window size changes
are forwarded. When stdin is not a terminal, the shell reads it as a
script (like "ssh -T").

With CMD: runs it (words joined with spaces, as OpenSSH does), streams
its output, and exits with its exit status. Flags go before NODE;
everything after NODE is the command.

With -A the node gets an agent holding the lab's key (served by this
process on this connection only; your own agent only when the node has
no identity file), and fleetctl there is given the lab's pinned host keys
(~/.fleetctl/known_hosts), so fleetctl journal of a unit on another node
works. Root on the node can use the forwarded key while you are logged in.

Exit status: the remote command's; 255 when the node cannot be reached or
the session breaks; 2 for usage or configuration errors.`,
		Example: `  cododemo ssh core-01
  cododemo ssh core-02 -- systemctl status etcd-member
  cododemo ssh core-02 journalctl -u docker -n 20
  cododemo ssh -t core-01 -- top
  cododemo ssh --inventory hosts.yaml node-a -- uptime`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || args[0] == "--" {
				return cmdutil.Usage(errors.New("name the node to log in to: cododemo ssh NODE [-- CMD...]"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Node = args[0]
			rest := args[1:]
			if len(rest) > 0 && rest[0] == "--" {
				rest = rest[1:]
			}
			o.Command = strings.Join(rest, " ")
			nodes, err := f.ResolveTarget(cmd, o.Flags)
			if err != nil {
				return err
			}
			return run(cmd.Context(), o, nodes)
		},
	}
	// Everything after NODE is the remote command, flags included
	// (`cododemo ssh core-01 ls -la`), as with ssh.
	cmd.Flags().SetInterspersed(false)
	o.AddFlags(cmd.Flags())
	cmd.Flags().BoolVarP(&o.TTY, "tty", "t", false, "give CMD a remote terminal too (for full-screen programs such as top); needs a local terminal")
	cmd.Flags().BoolVarP(&o.NoStdin, "no-stdin", "n", false, "do not forward stdin to CMD (for use in background jobs)")
	cmd.Flags().BoolVarP(&o.ForwardAgent, "forward-agent", "A", false, "give the node an agent holding the lab key (your SSH_AUTH_SOCK agent only when the node has no identity file), so fleetctl there can reach the other nodes; root on the node can use that key meanwhile")
	return cmd
}

func run(ctx context.Context, o *Options, nodes *sshtarget.Nodes) error {
	if ctx == nil {
		ctx = context.Background()
	}
	found, err := nodes.Lookup(o.Node)
	if err != nil {
		return err
	}
	nodes.Base.ForwardAgent = o.ForwardAgent
	client, err := nodes.Dial(ctx, found[0])
	if err != nil {
		fmt.Fprintln(o.IO.ErrOut, "Error:", err)
		return &cmdutil.SilentError{Code: ExitConnect}
	}
	defer client.Close()
	if o.ForwardAgent {
		trustFleet(ctx, o.IO.ErrOut, nodes, found[0].Name, client)
	}
	code, err := session(ctx, o, client)
	if err != nil {
		fmt.Fprintln(o.IO.ErrOut, "Error:", err)
		return &cmdutil.SilentError{Code: ExitConnect}
	}
	if code != 0 {
		return &cmdutil.SilentError{Code: code}
	}
	return nil
}

// trustFleet writes the node's fleetctl known_hosts with the lab's pinned
// host keys (pkg/fleettrust) before an -A session, so fleetctl journal
// there can log in to the unit's machine. A failure is a warning: the
// session itself does not need it.
func trustFleet(ctx context.Context, errOut io.Writer, nodes *sshtarget.Nodes, node string, client *sshx.Client) {
	if nodes.Base.InsecureIgnoreHostKey || nodes.Base.HostKeys == nil {
		return
	}
	cmd, missing, err := fleettrust.Command(nodes.Inv, nodes.Base.HostKeys)
	if len(missing) > 0 {
		fmt.Fprintf(errOut, "warning: no pinned host key for %s yet (`cododemo verify` pins them): fleetctl on %s will not log in there\n", strings.Join(missing, ", "), node)
	}
	if err != nil {
		fmt.Fprintf(errOut, "warning: fleetctl on %s: %v\n", node, err)
		return
	}
	res, err := client.Run(ctx, cmd)
	if err == nil && res.ExitStatus != 0 {
		err = fmt.Errorf("exit %d: %s", res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
	}
	if err != nil {
		fmt.Fprintf(errOut, "warning: could not write fleetctl's known_hosts (%s) on %s: %v\n", fleettrust.File, node, err)
	}
}

// sessionRunner is the part of *sshx.Client a session needs.
type sessionRunner interface {
	Stream(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
	Terminal(ctx context.Context, cmd string, pty sshx.PTY, in io.Reader, out, errOut io.Writer) (int, error)
}

// session picks a terminal session (no command, or -t, with a local
// terminal) or a plain streamed one.
func session(ctx context.Context, o *Options, s sessionRunner) (int, error) {
	in := o.IO.In
	if o.NoStdin {
		in = nil
	}
	if (o.Command == "" || o.TTY) && !o.NoStdin {
		if t, ok := o.OpenTerminal(o.IO.In); ok {
			return interactive(ctx, t, s, o.Command, o.Getenv("TERM"), in, o.IO.Out, o.IO.ErrOut)
		}
		if o.TTY {
			fmt.Fprintln(o.IO.ErrOut, "warning: stdin is not a terminal: running without a remote terminal")
		}
	}
	return s.Stream(ctx, o.Command, in, o.IO.Out, o.IO.ErrOut)
}

// interactive runs a terminal session with the local terminal in raw mode,
// restored on every way out (errors, remote exit, panics).
func interactive(ctx context.Context, t Terminal, s sessionRunner, cmd, termType string, in io.Reader, out, errOut io.Writer) (int, error) {
	size, err := t.Size()
	if err != nil || size.Rows <= 0 || size.Cols <= 0 {
		size = sshx.WindowSize{Rows: 24, Cols: 80}
	}
	restore, err := t.MakeRaw()
	if err != nil {
		return -1, fmt.Errorf("local terminal: raw mode: %w", err)
	}
	defer func() { _ = restore() }()
	sizes, stop := t.Resizes()
	defer stop()
	return s.Terminal(ctx, cmd, sshx.PTY{Term: termType, Size: size, Resize: sizes}, in, out, errOut)
}
