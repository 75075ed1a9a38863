// Package reload implements `cododemo reload`.
package reload

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmd/halt"
	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

// NewCmdReload builds `cododemo reload`.
func NewCmdReload(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "reload [NODE...]",
		Short:   "Restart nodes (halt, then boot without provisioning); all when none is named",
		Example: `  cododemo reload core-02`,
		RunE: func(cmd *cobra.Command, args []string) error {
			lab, err := f.LoadLab(cmd, lab.SecretsRead)
			if err != nil {
				return err
			}
			o := &halt.Options{
				IO: f.IO, StateDir: lab.StatePath(), Nodes: lab.Plan.NodeNames(), Names: args, Now: time.Now,
				Driver: vagrant.New(f.Runner, lab.StatePath(), lab.Lab.Provider, f.Getenv),
			}
			return halt.Lifecycle(cmd.Context(), o, "reload", o.Driver.Reload)
		},
	}
}
