// Package render implements `cododemo render`.
package render

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/lab"
)

// Options are the flags of `cododemo render`.
type Options struct {
	IO      *cmdutil.IOStreams
	Check   bool
	Matrix  bool
	Force   bool
	Version string
}

// NewCmdRender builds `cododemo render`.
func NewCmdRender(f *cmdutil.Factory) *cobra.Command {
	opts := &Options{IO: f.IO, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write the Vagrantfile and per-node Ignition or cloud-config into the state dir",
		Long: `Render the lab: a Vagrantfile plus, for every node, Ignition (translated
from Butane in strict mode) or cloud-config, each checked by the real
validator before anything is written. Files are written atomically; a file
you edited by hand since the last render is not overwritten without --force.`,
		Example: `  cododemo render
  cododemo render --nodes 5 --channel beta
  cododemo render --check            # validate only, write nothing
  cododemo render --check --matrix   # every distro x channel x format x provider x size`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Matrix && !opts.Check {
				return cmdutil.Usage(fmt.Errorf("--matrix goes with --check"))
			}
			mode := lab.SecretsCreate
			if opts.Check {
				mode = lab.SecretsEphemeral
			}
			lab, err := f.LoadLab(cmd, mode)
			if err != nil {
				return err
			}
			if opts.Matrix {
				return runMatrix(opts, lab)
			}
			return runRender(opts, lab)
		},
	}
	fl := cmd.Flags()
	config.AddLabFlags(fl)
	fl.BoolVar(&opts.Check, "check", false, "render and validate, write nothing")
	fl.BoolVar(&opts.Matrix, "matrix", false, "with --check: every supported combination")
	fl.BoolVar(&opts.Force, "force", false, "overwrite files edited by hand since the last render")
	return cmd
}

func runRender(opts *Options, l *lab.Lab) error {
	if opts.Check {
		res, _, err := l.Render(opts.Version)
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "ok: %s, %d files valid (nothing written)\n", lab.Describe(l.Plan.Lab), len(res.Files))
		PrintNotes(opts.IO.ErrOut, res.Notes)
		return nil
	}
	res, err := l.WriteRender(opts.Version, opts.Force, opts.IO.Out)
	if err != nil {
		return err
	}
	PrintNotes(opts.IO.ErrOut, res.Notes)
	return nil
}

// PrintNotes prints what a render says the user must know.
func PrintNotes(w io.Writer, notes []string) {
	for _, n := range notes {
		fmt.Fprintln(w, "note:", n)
	}
}
