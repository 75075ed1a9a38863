package cmdutil

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// FlagConfig names the persistent flag that selects the lab's config file.
const FlagConfig = "config"

// AddGlobalFlags adds the flags every command understands.
func AddGlobalFlags(root *cobra.Command) {
	root.PersistentFlags().StringP(FlagConfig, "c", "",
		"lab configuration file (default ./cododemo.yaml; CODODEMO_CONFIG)")
}

// ConfigPath returns the --config value, then $CODODEMO_CONFIG, else "".
func (f *Factory) ConfigPath(cmd *cobra.Command) string {
	if p, _ := cmd.Flags().GetString(FlagConfig); p != "" {
		return p
	}
	return f.Getenv("CODODEMO_CONFIG")
}

// Output is a validated -o/--output value.
type Output string

// Output formats shared by commands that report state.
const (
	OutputTable Output = "table"
	OutputJSON  Output = "json"
	OutputJUnit Output = "junit"
)

// AddOutputFlag adds -o/--output restricted to allowed formats.
func AddOutputFlag(cmd *cobra.Command, target *string, allowed ...Output) {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	*target = names[0]
	cmd.Flags().StringVarP(target, "output", "o", names[0], "output format: "+strings.Join(names, ", "))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(names, cobra.ShellCompDirectiveNoFileComp))
}

// CheckOutput returns a usage error when got is not one of allowed.
func CheckOutput(got string, allowed ...Output) (Output, error) {
	for _, a := range allowed {
		if Output(got) == a {
			return a, nil
		}
	}
	return "", Usage(fmt.Errorf("--output %q: want one of %v", got, allowed))
}
