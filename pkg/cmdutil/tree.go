package cmdutil

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// PrepareTree gives the whole command tree, once every command is added,
// the one exit-code rule for arguments: a wrong number of arguments, or
// an unknown command (`cododemo bogus`, `cododemo box bogus`, `cododemo
// completion tcsh`), is a usage error (exit 2) on every command. A
// command that only groups others prints its help when called alone.
// pkg/app and the in-process CLI tests call it before Execute.
func PrepareTree(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	prepare(root)
}

func prepare(c *cobra.Command) {
	for _, sub := range c.Commands() {
		prepare(sub)
	}
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		// cobra answers a group called with an unknown word with its help
		// and exit 0; the user typed something wrong.
		c.Args = unknownCommand
		c.SuggestionsMinimumDistance = 2
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		return
	}
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error { return Usage(args(cmd, a)) }
	}
}

// unknownCommand refuses any argument to a command that only groups
// others, with cobra's suggestions.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	// cobra's suggestions within two edits, kept to those that start with
	// the same letter: "stauts" gets status, "bogus" does not get logs.
	var like []string
	for _, s := range cmd.SuggestionsFor(args[0]) {
		if s[0] == args[0][0] {
			like = append(like, s)
		}
	}
	if len(like) > 0 {
		msg += "; did you mean " + strings.Join(like, " or ") + "?"
	}
	var names []string
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	return Usage(fmt.Errorf("%s (commands: %s)", msg, strings.Join(names, ", ")))
}
