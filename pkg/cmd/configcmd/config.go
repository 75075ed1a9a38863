// Package configcmd implements `cododemo config`: the effective
// configuration, each key with where its value came from.
package configcmd

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/lab"
)

// Report is what `config -o json` prints.
type Report struct {
	SchemaVersion int              `json:"schema_version"`
	File          string           `json:"file,omitempty"` // "" when only defaults apply
	Settings      []config.Setting `json:"settings"`
}

// NewCmdConfig builds `cododemo config`.
func NewCmdConfig(f *cmdutil.Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration and where each value came from",
		Long: `config prints every setting of the lab as the other commands see it, and
where its value came from: the config file (file:line:col), a CODODEMO_*
variable, a flag, or the built-in default. Lists (forwarded ports, shared
folders) are set only in the file and are not shown.`,
		Example: `  cododemo config
  CODODEMO_NODES_COUNT=5 cododemo config
  cododemo config -o json | jq -r '.settings[] | select(.origin != "default") | .key'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := cmdutil.CheckOutput(output, cmdutil.OutputTable, cmdutil.OutputJSON)
			if err != nil {
				return err
			}
			l, err := f.LoadLab(cmd, lab.SecretsNone)
			if err != nil {
				return err
			}
			if out == cmdutil.OutputJSON {
				enc := json.NewEncoder(f.IO.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(Report{SchemaVersion: 1, File: l.File, Settings: l.Settings})
			}
			tw := tabwriter.NewWriter(f.IO.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tVALUE\tFROM")
			for _, s := range l.Settings {
				fmt.Fprintf(tw, "%s\t%v\t%s\n", s.Key, s.Value, s.Origin)
			}
			return tw.Flush()
		},
	}
	config.AddLabFlags(cmd.Flags())
	cmdutil.AddOutputFlag(cmd, &output, cmdutil.OutputTable, cmdutil.OutputJSON)
	return cmd
}
