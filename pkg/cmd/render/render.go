// Package render implements `cododemo render`.
package render

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/render"
)

// Options are the flags of `cododemo render`.
type Options struct {
	IO      *cmdutil.IOStreams
	Check   bool
	Matrix  bool
	Force   bool
	Version string
	Output  string
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
  cododemo render --check --matrix   # every channel x box generation x provider x format, validated
  cododemo render --check --matrix --channel stable -n 1 -o junit   # flags narrow the matrix
  cododemo render --check -o json    # one case per rendered file`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Matrix && !opts.Check {
				return cmdutil.Usage(fmt.Errorf("--matrix goes with --check"))
			}
			out, err := cmdutil.CheckOutput(opts.Output, cmdutil.OutputTable, cmdutil.OutputJSON, cmdutil.OutputJUnit)
			if err != nil {
				return err
			}
			if out != cmdutil.OutputTable && !opts.Check {
				return cmdutil.Usage(fmt.Errorf("--output %s goes with --check: a render that writes reports what it wrote", out))
			}
			var filter render.MatrixFilter
			if opts.Matrix {
				if filter, err = matrixFilter(cmd.Flags()); err != nil {
					return err
				}
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
				return runMatrix(opts, lab, filter, out)
			}
			return runRender(opts, lab, out)
		},
	}
	fl := cmd.Flags()
	config.AddLabFlags(fl)
	fl.BoolVar(&opts.Check, "check", false, "render and validate, write nothing")
	fl.BoolVar(&opts.Matrix, "matrix", false, "with --check: every supported combination")
	fl.BoolVar(&opts.Force, "force", false, "overwrite files edited by hand since the last render")
	cmdutil.AddOutputFlag(cmd, &opts.Output, cmdutil.OutputTable, cmdutil.OutputJSON, cmdutil.OutputJUnit)
	return cmd
}

func runRender(opts *Options, l *lab.Lab, out cmdutil.Output) error {
	if opts.Check {
		res, _, err := l.Render(opts.Version)
		// What a real render would refuse, --check refuses too.
		if err == nil && !opts.Force {
			if werr := render.CheckWrite(l.State, res); werr != nil {
				err = fmt.Errorf("the files are valid, but a render would stop: %w", werr)
			}
		}
		if out != cmdutil.OutputTable {
			// A report for CI: a render error is its one failed case.
			if err != nil && cmdutil.IsUsage(err) {
				return err
			}
			if res != nil {
				PrintNotes(opts.IO.ErrOut, res.Notes)
			}
			return report(opts.IO.Out, opts.IO.ErrOut, render.LabReport(lab.Describe(l.Plan.Lab), l.Plan, res, err), out, nil)
		}
		if err != nil {
			return err
		}
		valid := len(res.Files)
		if !res.RubyChecked {
			valid-- // the Vagrantfile, noted
		}
		fmt.Fprintf(opts.IO.Out, "ok: %s, %d files valid (nothing written)\n", lab.Describe(l.Plan.Lab), valid)
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
