// Package execcmd implements `cododemo exec`: one command on many lab nodes
// at once over cododemo's SSH client, output prefixed per node, then a
// summary of every node's exit status.
package execcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/nodeout"
	"github.com/cododemo/cododemo/pkg/sshtarget"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// Options are the parsed flags and arguments.
type Options struct {
	IO *cmdutil.IOStreams

	sshtarget.Flags
	All      bool
	Parallel int
	Timeout  time.Duration

	Nodes   []string
	Command string
}

// NewCmdExec builds `cododemo exec`.
func NewCmdExec(f *cmdutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "exec [--all | NODE...] -- CMD...",
		Short: "Run a command on several lab nodes at once",
		Long: `Exec runs one command on the named nodes (or all of them) in parallel over
cododemo's own SSH client, with the lab's inventory, key and pinned host
keys. Every line of output is prefixed with its node ("core-02 | ..."):
stdout lines on stdout, stderr lines on stderr. A summary of each node's
exit status follows on stderr.

A node that cannot be reached is reported by name after --connect-timeout
instead of holding up the others.

Exit status: 0 when the command exited 0 on every node; 1 when it failed
or could not run on any node (the summary says which, and why); 2 for
usage or configuration errors.`,
		Example: `  cododemo exec --all -- systemctl is-active etcd-member
  cododemo exec core-01 core-03 -- 'journalctl -u docker -n 5 --no-pager'
  cododemo exec --all --timeout 30s -- etcdctl endpoint health`,
		Args: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash < 0 {
				return cmdutil.Usage(errors.New("put the command after --: cododemo exec [--all | NODE...] -- CMD"))
			}
			if len(args) == dash {
				return cmdutil.Usage(errors.New("no command after --"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			o.Nodes, o.Command = args[:dash], strings.Join(args[dash:], " ")
			switch {
			case o.All && len(o.Nodes) > 0:
				return cmdutil.Usage(fmt.Errorf("--all and node names (%s) both given: pick one", strings.Join(o.Nodes, ", ")))
			case !o.All && len(o.Nodes) == 0:
				return cmdutil.Usage(errors.New("name the nodes before --, or pass --all"))
			case o.Parallel < 1:
				return cmdutil.Usage(fmt.Errorf("--parallel %d: want at least 1", o.Parallel))
			case o.Timeout < 0:
				return cmdutil.Usage(fmt.Errorf("--timeout %s: want a positive duration, or 0 for none", o.Timeout))
			}
			nodes, err := f.ResolveTarget(cmd, o.Flags)
			if err != nil {
				return err
			}
			return run(cmd.Context(), o, nodes)
		},
	}
	fl := cmd.Flags()
	o.AddFlags(fl)
	fl.BoolVarP(&o.All, "all", "a", false, "run on every node of the inventory")
	fl.IntVar(&o.Parallel, "parallel", 16, "nodes worked on at once")
	fl.DurationVar(&o.Timeout, "timeout", 0, "time limit for the command on each node, connect included (0: none)")
	return cmd
}

// result is what happened on one node.
type result struct {
	node string
	code int
	// err: the command could not run or finish (unreachable, host key,
	// broken session, timeout).
	err error
}

func run(ctx context.Context, o *Options, nodes *sshtarget.Nodes) error {
	if ctx == nil {
		ctx = context.Background()
	}
	targets := nodes.Inv.Nodes
	if !o.All {
		var err error
		if targets, err = nodes.Lookup(o.Nodes...); err != nil {
			return err
		}
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	outs := nodeout.New(o.IO.Out, names, nodeout.Options{})
	errs := nodeout.New(o.IO.ErrOut, names, nodeout.Options{})

	results := make([]result, len(targets))
	sem := make(chan struct{}, o.Parallel)
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				results[i] = result{node: t.Name, code: -1, err: context.Cause(ctx)}
				return
			}
			results[i] = runOne(ctx, o, nodes, t, outs.Writer(t.Name), errs.Writer(t.Name))
		}()
	}
	wg.Wait()
	_ = outs.Close()
	_ = errs.Close()

	failed := summarize(o.IO.ErrOut, results)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed != "" {
		fmt.Fprintln(o.IO.ErrOut, failed)
		return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
	}
	return nil
}

func runOne(ctx context.Context, o *Options, nodes *sshtarget.Nodes, n inventory.Node, stdout, stderr io.Writer) result {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	res := result{node: n.Name, code: -1}
	c, err := nodes.Dial(ctx, n)
	if err != nil {
		res.err = err
		return res
	}
	defer c.Close()
	ow, ew := &lineEnd{w: stdout}, &lineEnd{w: stderr}
	res.code, res.err = c.Stream(ctx, o.Command, nil, ow, ew)
	// A last line without a newline would otherwise stay in the prefixing
	// writer, unseen.
	ow.finish()
	ew.finish()
	return res
}

// summarize writes one line per node and returns the failure sentence, or
// "" when every node exited 0.
func summarize(w io.Writer, results []result) string {
	width := 0
	for _, r := range results {
		width = max(width, len(r.node))
	}
	var failed []string
	for _, r := range results {
		var status, short string
		var ue *sshx.UnreachableError
		var hk *sshx.HostKeyChangedError
		switch {
		case errors.As(r.err, &ue):
			status, short = "unreachable: "+ue.Err.Error(), "unreachable"
		case errors.As(r.err, &hk):
			status, short = strings.TrimPrefix(hk.Error(), r.node+": "), "host key changed"
		case errors.Is(r.err, context.DeadlineExceeded):
			status, short = "timed out: "+strings.TrimPrefix(r.err.Error(), r.node+": "), "timed out"
		case r.err != nil:
			status, short = "failed: "+strings.TrimPrefix(r.err.Error(), r.node+": "), "failed"
		default:
			status, short = fmt.Sprintf("exit %d", r.code), fmt.Sprintf("exit %d", r.code)
		}
		fmt.Fprintf(w, "%-*s  %s\n", width, r.node, status)
		if r.err != nil || r.code != 0 {
			failed = append(failed, fmt.Sprintf("%s (%s)", r.node, short))
		}
	}
	if len(failed) == 0 {
		return ""
	}
	return fmt.Sprintf("exec: failed on %d of %d nodes: %s", len(failed), len(results), strings.Join(failed, ", "))
}

// lineEnd remembers whether the last byte written ended a line.
type lineEnd struct {
	mu      sync.Mutex
	w       io.Writer
	written bool
	last    byte
}

func (l *lineEnd) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(p) > 0 {
		l.written, l.last = true, p[len(p)-1]
	}
	return l.w.Write(p)
}

func (l *lineEnd) finish() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.written && l.last != '\n' {
		_, _ = l.w.Write([]byte{'\n'})
		l.last = '\n'
	}
}
