// Package up implements `cododemo up`: flags into bringup.Options, the
// steps of pkg/bringup (preflight, pin, box, render, serve, boot,
// inventory, verify), then the verdict.
package up

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/bringup"
	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/lab"
)

// Options are `up`'s flags.
type Options = bringup.Options

// NewCmdUp builds `cododemo up`. runF runs the steps (nil: all of
// bringup.Steps); tests pass their own, as cli/cli's commands take theirs.
func NewCmdUp(f *cmdutil.Factory, runF func(context.Context, *bringup.State) error) *cobra.Command {
	o := &Options{}
	if runF == nil {
		runF = func(ctx context.Context, s *bringup.State) error { return bringup.Run(ctx, s, bringup.Steps()) }
	}
	cmd := &cobra.Command{
		Use:   "up [NODE...]",
		Short: "Preflight, render, bring the nodes up, serve their first boot, verify",
		Long: `up brings the lab up, or the part of it that is missing:

  1. preflight: the fatal doctor checks (--skip-preflight to override)
  2. lock: pins the exact OS release, box and artifacts when the lab has no lock yet
  3. box: fetched, verified and added to Vagrant under its real name and version
  4. render: Vagrantfile and node configs into the state dir
  5. first boot: serves Ignition configs too big to inline and the artifacts
     nodes install, on the narrowest address, only while nodes boot
  6. vagrant up, one node at a time where the provider needs it, output per node
  7. inventory and pinned host keys, then verify --wait (--no-verify to skip)

When a node fails the others are kept; run up again to bring up only what
is missing.`,
		Example: `  cododemo up
  cododemo up core-02            # bring back one node
  cododemo up --no-verify --serial
  cododemo up --dry-run          # the plan, nothing changed`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Nodes = args
			if o.Wait < 0 || o.CheckTimeout <= 0 {
				return cmdutil.Usage(errors.New("--timeout must be positive and --wait not negative"))
			}
			secrets := lab.SecretsCreate
			if o.DryRun {
				// Nothing written: not even the lab's key.
				secrets = lab.SecretsEphemeral
			}
			l, err := f.LoadLab(cmd, secrets)
			if err != nil {
				return err
			}
			if err := lab.CheckNames(o.Nodes, l.Plan.NodeNames()); err != nil {
				return err
			}
			if o.DryRun {
				bringup.DryRun(f.IO.Out, l, *o)
				return nil
			}
			return Run(cmd.Context(), f, o, l, runF)
		},
	}
	fl := cmd.Flags()
	config.AddLabFlags(fl)
	fl.BoolVar(&o.SkipPreflight, "skip-preflight", false, "DANGEROUS: start even when doctor finds a fatal problem")
	fl.BoolVar(&o.DryRun, "dry-run", false, "print the plan (nodes, addresses, downloads, what is started) and change nothing")
	fl.BoolVar(&o.NoVerify, "no-verify", false, "do not verify the lab once it is up")
	fl.BoolVar(&o.Serial, "serial", false, "bring nodes up strictly one after another")
	fl.BoolVar(&o.Force, "force", false, "overwrite rendered files edited by hand")
	fl.BoolVar(&o.Offline, "offline", false, "use only the cache and imported bundles")
	fl.StringVar(&o.Mirror, "mirror", "", "release server mirror base URL (config key mirror)")
	fl.DurationVar(&o.Wait, "wait", 10*time.Minute, "how long verify may retry until the lab is healthy")
	fl.DurationVar(&o.CheckTimeout, "timeout", health.DefaultTimeout, "time limit for each verify check (raise it on a slow or loaded machine)")
	return cmd
}

// Run is `up` for a loaded lab: the steps, then the verdict.
func Run(ctx context.Context, f *cmdutil.Factory, o *Options, l *lab.Lab, runF func(context.Context, *bringup.State) error) error {
	s := &bringup.State{Lab: l, Opts: *o, Env: bringup.Env{
		Runner: f.Runner, Getenv: f.Getenv, Version: f.Version,
		Out: f.IO.Out, ErrOut: f.IO.ErrOut, Live: f.IO.LiveErr(), Colour: f.IO.ColorOut(),
	}}
	err := runF(ctx, s)
	switch {
	case errors.Is(err, bringup.ErrUnhealthy):
		// The report says what failed; only the exit code is left.
		return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
	case err != nil:
		return err
	case s.Verified:
		fmt.Fprintf(f.IO.Out, "lab %s is up and healthy: %s\n", l.Lab.Name, strings.Join(l.Plan.NodeNames(), ", "))
	default:
		fmt.Fprintf(f.IO.Out, "lab %s is up (not verified); next: cododemo verify\n", l.Lab.Name)
	}
	return nil
}
