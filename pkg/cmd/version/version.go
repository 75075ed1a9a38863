// Package version implements `cododemo version`.
package version

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
)

// Info is what `version -o json` prints.
type Info struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	Butane    string `json:"butane,omitempty"`
}

// NewCmdVersion builds `cododemo version`.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the cododemo version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := cmdutil.CheckOutput(output, cmdutil.OutputTable, cmdutil.OutputJSON)
			if err != nil {
				return err
			}
			info := Info{Version: f.Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					if d.Path == "github.com/coreos/ignition/v2" {
						info.Butane = d.Version
					}
				}
			}
			if out == cmdutil.OutputJSON {
				enc := json.NewEncoder(f.IO.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			fmt.Fprintf(f.IO.Out, "cododemo %s (%s, %s", info.Version, info.GoVersion, info.Platform)
			if info.Butane != "" {
				fmt.Fprintf(f.IO.Out, ", ignition/butane %s", info.Butane)
			}
			fmt.Fprintln(f.IO.Out, ")")
			return nil
		},
	}
	cmdutil.AddOutputFlag(cmd, &output, cmdutil.OutputTable, cmdutil.OutputJSON)
	return cmd
}
