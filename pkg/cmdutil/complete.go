package cmdutil

import (
	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/lab"
)

// nodeCommands take node names as arguments: their shell completion offers
// the lab's nodes.
var nodeCommands = map[string]bool{"ssh": true, "exec": true, "halt": true, "up": true, "env": true, "logs": true, "reload": true, "destroy": true}

// RegisterCompletions registers, once the tree is built, the shell
// completion of node names and of the enum flags wherever they appear.
func (f *Factory) RegisterCompletions(root *cobra.Command) { f.completions(root) }

func (f *Factory) completions(c *cobra.Command) {
	if nodeCommands[c.Name()] && c.HasParent() && !c.Parent().HasParent() && c.ValidArgsFunction == nil {
		c.ValidArgsFunction = func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
			// No warnings: completion output is read by the shell.
			l, err := lab.Load(lab.Options{Source: f.LabSource(cmd), Secrets: lab.SecretsNone, AllowLockMismatch: true})
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return l.Plan.NodeNames(), cobra.ShellCompDirectiveNoFileComp
		}
	}
	channels := []string{}
	seen := map[string]bool{}
	for _, d := range config.Distros {
		for _, ch := range config.Channels[d] {
			if !seen[ch] {
				seen[ch] = true
				channels = append(channels, ch)
			}
		}
	}
	checks := append(health.CheckNames(), "etcd", "fleet")
	for flag, values := range map[string][]string{
		"provider": config.Providers, "distro": config.Distros, "channel": channels, "only": checks, "skip": checks,
	} {
		if c.Flags().Lookup(flag) == nil {
			continue
		}
		if _, ok := c.GetFlagCompletionFunc(flag); ok {
			continue
		}
		_ = c.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
	}
	for _, sub := range c.Commands() {
		f.completions(sub)
	}
}
