// Package halt implements `cododemo halt`.
package halt

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/lifecycle"
)

// Options are the inputs of `cododemo halt`.
type Options struct {
	lifecycle.Options
}

// NewCmdHalt builds `cododemo halt`.
func NewCmdHalt(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "halt [NODE...]",
		Short: "Shut nodes down gracefully (all when none is named); `up` starts them again",
		Example: `  cododemo halt
  cododemo halt core-03`,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := f.LoadLab(cmd, lab.SecretsRead)
			if err != nil {
				return err
			}
			return Run(cmd.Context(), &Options{Options: lifecycle.ForLab(l, f.Runner, f.Getenv, args, f.IO.ErrOut, f.IO.LiveErr())})
		},
	}
	return cmd
}

// Run halts the nodes with per-node output.
func Run(ctx context.Context, o *Options) error { return lifecycle.Halt(ctx, o.Options) }
