// Package doctor implements `cododemo doctor`: every problem of this laptop
// that would stop the lab, each with a stable code and its fix.
package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/doctor"
	"github.com/cododemo/cododemo/pkg/doctor/probe"
	"github.com/cododemo/cododemo/pkg/lab"
)

// Options are the parsed flags plus what the command needs injected.
type Options struct {
	IO     *cmdutil.IOStreams
	Output cmdutil.Output
	// Timeout bounds each probe on its own.
	Timeout time.Duration
	// Load reads the lab (config, lock, plan) into a doctor.Target.
	Load func() (doctor.Target, []string, error)
	// Probes reads the host.
	Probes doctor.Probes
}

// NewCmdDoctor builds `cododemo doctor`.
func NewCmdDoctor(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO}
	var output string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check this machine can run the lab, and say how to fix what cannot",
		Long: `Check Vagrant, the provider (VirtualBox or libvirt), hardware virtualisation,
the host and box architectures, memory, disk, ports, the lab's subnet against
VirtualBox's host-only range and the host's own networks (docker0, VPNs), the
box cache and the lab's SSH key. Nothing is created and no network address is
contacted.

Each finding has a stable code (CD001...) to read out to a presenter. The exit
status is 1 when any check fails (the lab would not start), 0 otherwise, and 2
when the lab's configuration is invalid. ` + "`cododemo up`" + ` runs the same checks
first and stops on a failure.`,
		Example: `  cododemo doctor
  cododemo doctor -o json > doctor.json     # for a bug report or a room dashboard
  cododemo doctor --provider libvirt`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := cmdutil.CheckOutput(output, cmdutil.OutputTable, cmdutil.OutputJSON)
			if err != nil {
				return err
			}
			if opts.Timeout <= 0 {
				return cmdutil.Usage(fmt.Errorf("--probe-timeout %s: must be positive", opts.Timeout))
			}
			opts.Output = out
			opts.Load = func() (doctor.Target, []string, error) {
				return LoadTarget(f.LabSource(cmd))
			}
			opts.Probes = probe.New(f.Runner, f.Getenv)
			return runDoctor(cmd.Context(), opts)
		},
	}
	cmdutil.AddOutputFlag(cmd, &output, cmdutil.OutputTable, cmdutil.OutputJSON)
	cmd.Flags().DurationVar(&opts.Timeout, "probe-timeout", doctor.DefaultTimeout, "give up on any single probe (a stuck tool) after this long")
	config.AddLabFlags(cmd.Flags())
	return cmd
}

// LoadTarget loads the lab, its lock and its plan as `up` will, and
// returns the doctor's view of it with the config's warnings. A bad config
// or lock is a usage error (exit 2).
func LoadTarget(src config.Source) (doctor.Target, []string, error) {
	// The doctor reports a lock that does not fit the lab as a finding.
	l, err := lab.Load(lab.Options{Source: src, Secrets: lab.SecretsNone, AllowLockMismatch: true})
	if err != nil {
		return doctor.Target{}, nil, err
	}
	return doctor.NewTarget(l.Plan, l.StatePath()), l.Warnings, nil
}

func runDoctor(ctx context.Context, o *Options) error {
	t, warnings, err := o.Load()
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(o.IO.ErrOut, "warning:", w)
	}
	r := doctor.Run(ctx, o.Probes, t, doctor.Options{Timeout: o.Timeout})
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.Output == cmdutil.OutputJSON {
		err = doctor.WriteJSON(o.IO.Out, r)
	} else {
		err = doctor.WriteTable(o.IO.Out, r, o.IO.ColorOut(), o.IO.OutWidth)
	}
	if err != nil {
		return err
	}
	if !r.OK {
		// The report already says what failed; only the exit code is left.
		return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
	}
	return nil
}
