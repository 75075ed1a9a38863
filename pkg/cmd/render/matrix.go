package render

import (
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/render"
)

// matrixFilter turns the lab flags given with --matrix into a filter: each
// narrows the matrix to its value. --os-version is refused: the matrix
// brings its own versions, two generations per channel.
func matrixFilter(fl *pflag.FlagSet) (render.MatrixFilter, error) {
	var f render.MatrixFilter
	if fl.Changed("os-version") {
		return f, cmdutil.Usage(fmt.Errorf("--os-version does not go with --matrix: the matrix checks two versions per channel (one before 4722, one after); use --channel to narrow it"))
	}
	str := func(name string, dst *string) {
		if fl.Changed(name) {
			*dst, _ = fl.GetString(name)
		}
	}
	str("distro", &f.Distro)
	str("channel", &f.Channel)
	str("provider", &f.Provider)
	str("format", &f.Format)
	if fl.Changed("nodes") {
		f.Nodes, _ = fl.GetInt("nodes")
	}
	return f, nil
}

// runMatrix checks every combination the filter keeps with the lab's
// templates (its --templates override included) and its secrets. The lab
// itself has passed validation, so the filter's values are valid ones.
func runMatrix(opts *Options, l *lab.Lab, f render.MatrixFilter, out cmdutil.Output) error {
	tmpl, err := render.LoadTemplates(l.TemplatesPath())
	if err != nil {
		return cmdutil.Usage(err)
	}
	combos := render.Matrix(f)
	if len(combos) == 0 {
		return cmdutil.Usage(fmt.Errorf("no combination of the matrix matches the flags given"))
	}
	rep := render.CheckMatrix(combos, tmpl, opts.Version, l.Plan.Secrets)
	return report(opts.IO.Out, opts.IO.ErrOut, rep, out, func(w io.Writer) {
		fmt.Fprintf(w, "ok: %d combinations rendered and validated (%d cases)\n", rep.Combinations, rep.Cases)
	})
}

// report prints rep as out asks and turns failures into the exit code. In
// table form only failures are listed, then okLine when there are none.
func report(w, errW io.Writer, rep *render.MatrixReport, out cmdutil.Output, okLine func(io.Writer)) error {
	var err error
	switch out {
	case cmdutil.OutputJSON:
		err = render.WriteMatrixJSON(w, rep)
	case cmdutil.OutputJUnit:
		err = render.WriteMatrixJUnit(w, rep)
	default:
		for _, res := range rep.Results {
			if !res.OK && len(res.Files) == 0 {
				fmt.Fprintf(errW, "FAIL %s: %s\n", res.Name, res.Error)
			}
			for _, fr := range res.Files {
				if !fr.OK {
					fmt.Fprintf(errW, "FAIL %s %s: %s\n", res.Name, fr.Path, fr.Error)
				}
			}
		}
		if rep.OK() {
			okLine(w)
			return nil
		}
		return fmt.Errorf("%d of %d cases failed", rep.Failures, rep.Cases)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
	}
	return nil
}
