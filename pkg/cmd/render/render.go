// Package render implements `cododemo render`.
package render

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

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

// Lab renders lab with its templates (the --templates override included)
// and validates everything; nothing is written.
func Lab(lab *lab.Lab, version string) (*render.Result, *render.Templates, error) {
	tmpl, err := render.LoadTemplates(lab.TemplatesPath())
	if err != nil {
		return nil, nil, cmdutil.Usage(err)
	}
	res, err := render.Render(lab.Plan, render.Options{Version: version, Templates: tmpl, ConfigDir: ConfigDirFromState(lab)})
	return res, tmpl, err
}

// Write renders lab into its state dir (what `render` and `up` do) and
// prints what changed to out.
func Write(lab *lab.Lab, version string, force bool, out io.Writer) (*render.Result, error) {
	res, tmpl, err := Lab(lab, version)
	if err != nil {
		return nil, err
	}
	rep, err := render.Write(lab.State, res, force)
	if err != nil {
		return nil, err
	}
	rel := relTo(lab.Dir, lab.State.Path)
	fmt.Fprintf(out, "rendered %s into %s: %d written, %d unchanged", describe(lab.Lab), rel, len(rep.Written), len(rep.Unchanged))
	if len(rep.Removed) > 0 {
		fmt.Fprintf(out, ", %d removed (%s)", len(rep.Removed), strings.Join(rep.Removed, ", "))
	}
	fmt.Fprintln(out)
	if len(tmpl.Overridden) > 0 {
		fmt.Fprintf(out, "templates from %s: %s\n", lab.TemplatesPath(), strings.Join(tmpl.Overridden, ", "))
	}
	return res, nil
}

func runRender(opts *Options, lab *lab.Lab) error {
	if opts.Check {
		res, _, err := Lab(lab, opts.Version)
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "ok: %s, %d files valid (nothing written)\n", describe(lab.Lab), len(res.Files))
		PrintNotes(opts.IO.ErrOut, res.Notes)
		return nil
	}
	res, err := Write(lab, opts.Version, opts.Force, opts.IO.Out)
	if err != nil {
		return err
	}
	PrintNotes(opts.IO.ErrOut, res.Notes)
	return nil
}

// ConfigDirFromState is the config file's directory as seen from the state
// dir, so the Vagrantfile resolves relative paths the way the user wrote them.
func ConfigDirFromState(lab *lab.Lab) string {
	if r, err := filepath.Rel(lab.State.Path, lab.Dir); err == nil {
		return filepath.ToSlash(r)
	}
	return lab.Dir
}

// PrintNotes prints what a render says the user must know.
func PrintNotes(w io.Writer, notes []string) {
	for _, n := range notes {
		fmt.Fprintln(w, "note:", n)
	}
}

func describe(l config.Lab) string {
	return fmt.Sprintf("%d x %s %s %s (%s, %s)", l.Nodes.Count, l.Distro, l.Channel, l.Version, l.Format, l.Provider)
}

func relTo(base, p string) string {
	if r, err := filepath.Rel(base, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}
