// Package reload implements `cododemo reload`.
package reload

import (
	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/lifecycle"
)

// NewCmdReload builds `cododemo reload`.
func NewCmdReload(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "reload [NODE...]",
		Short:   "Restart nodes (halt, then boot without provisioning); all when none is named",
		Example: `  cododemo reload core-02`,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := f.LoadLab(cmd, lab.SecretsRead)
			if err != nil {
				return err
			}
			return lifecycle.Reload(cmd.Context(), lifecycle.ForLab(l, f.Runner, f.Getenv, args, f.IO.ErrOut, f.IO.LiveErr()))
		},
	}
}
