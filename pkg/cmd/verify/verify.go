// Package verify implements `cododemo verify`.
package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/sshtarget"
)

// Options are the parsed flags.
type Options struct {
	IO     *cmdutil.IOStreams
	Getenv func(string) string

	// Connector overrides SSH (unit tests).
	Connector health.Connector

	sshtarget.Flags
	Output     string
	Only, Skip []string
	Deep       bool
	Wait       time.Duration
	Timeout    time.Duration
	Parallel   int

	// Resolved by complete.
	nodes  *sshtarget.Nodes
	checks health.Selection
	format cmdutil.Output
}

// NewCmdVerify builds `cododemo verify`.
func NewCmdVerify(f *cmdutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the lab (or any CoreOS-family cluster) is healthy, over SSH",
		Long: `Verify logs in to every node over SSH (one connection per node, nodes in
parallel) and checks, per node: SSH, the OS and its version against the lock,
systemd's state (failed units with their journal when degraded), Docker and
the local etcd member; across the cluster: every etcd member healthy, exactly
the expected members, one leader agreed by all, a quorum write read back on
every node, and fleet's machine list (with --deep, a unit scheduled by fleet).

Host keys are pinned in known_hosts on first contact and verified after; a
changed key fails loudly.

Exit status: 0 healthy, 1 unhealthy, 2 usage or configuration error.

Checks: ` + strings.Join(health.CheckNames(), ", ") + `
Groups: etcd (all etcd-*), fleet (all fleet-*).`,
		Example: `  cododemo verify                          # the current lab
  cododemo verify --inventory hosts.yaml   # any cluster
  cododemo verify --wait 5m                # until healthy, or fail after 5 minutes
  cododemo verify --only etcd,ssh -o json
  cododemo verify --skip docker,fleet -o junit > verify.xml`,
		Args: func(cmd *cobra.Command, args []string) error { return cmdutil.Usage(cobra.NoArgs(cmd, args)) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := complete(cmd, f, o); err != nil {
				return err
			}
			return run(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	o.Flags.AddFlags(fl)
	fl.StringSliceVar(&o.Only, "only", nil, "run only these checks or groups (comma-separated)")
	fl.StringSliceVar(&o.Skip, "skip", nil, "skip these checks or groups (comma-separated)")
	fl.BoolVar(&o.Deep, "deep", false, "also schedule a test unit with fleet (slow)")
	fl.DurationVar(&o.Wait, "wait", 0, "retry with backoff until healthy or this long has passed (e.g. 5m)")
	fl.DurationVar(&o.Timeout, "timeout", health.DefaultTimeout, "time limit for each check")
	fl.IntVar(&o.Parallel, "parallel", health.DefaultParallel, "nodes worked on at once")
	cmdutil.AddOutputFlag(cmd, &o.Output, cmdutil.OutputTable, cmdutil.OutputJSON, cmdutil.OutputJUnit)
	return cmd
}

// complete turns flags and the lab into a ready inventory; every error is
// a usage or configuration error (exit 2).
func complete(cmd *cobra.Command, f *cmdutil.Factory, o *Options) error {
	var err error
	if o.format, err = cmdutil.CheckOutput(o.Output, cmdutil.OutputTable, cmdutil.OutputJSON, cmdutil.OutputJUnit); err != nil {
		return err
	}
	if o.checks, err = health.Select(o.Only, o.Skip, o.Deep); err != nil {
		return cmdutil.Usage(err)
	}
	if o.Parallel < 1 {
		return cmdutil.Usage(fmt.Errorf("--parallel %d: want at least 1", o.Parallel))
	}
	if o.Timeout <= 0 || o.ConnectTimeout <= 0 || o.Wait < 0 {
		return cmdutil.Usage(errors.New("--timeout, --connect-timeout and --wait must be positive"))
	}
	if o.nodes, err = f.ResolveTarget(cmd, o.Flags); err != nil {
		return err
	}
	return nil
}

func run(ctx context.Context, o *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	conn := o.Connector
	if conn == nil {
		sc := o.nodes.Connector()
		conn = sc
		defer sc.Close()
	}
	rep := health.Run(ctx, o.nodes.Inv, conn, health.RunOptions{
		Options:  health.Options{Checks: o.checks, Timeout: o.Timeout, Parallel: o.Parallel},
		Wait:     o.Wait,
		Progress: o.IO.ErrOut,
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var err error
	switch o.format {
	case cmdutil.OutputJSON:
		err = health.WriteJSON(o.IO.Out, rep)
	case cmdutil.OutputJUnit:
		err = health.WriteJUnit(o.IO.Out, rep)
	default:
		err = health.WriteTable(o.IO.Out, rep, o.IO.ColorOut(), o.IO.OutWidth)
	}
	if err != nil {
		return err
	}
	if !rep.Healthy() {
		return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
	}
	return nil
}
