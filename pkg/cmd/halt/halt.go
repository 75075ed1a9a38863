// Package halt implements `cododemo halt`.
package halt

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/nodeout"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

// Options are the inputs of `cododemo halt`.
type Options struct {
	IO       *cmdutil.IOStreams
	Driver   *vagrant.Driver
	StateDir string
	Nodes    []string // the lab's nodes
	Names    []string // the ones asked for; all when empty
	Now      func() time.Time
}

// NewCmdHalt builds `cododemo halt`.
func NewCmdHalt(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "halt [NODE...]",
		Short: "Shut nodes down gracefully (all when none is named); `up` starts them again",
		Example: `  cododemo halt
  cododemo halt core-03`,
		RunE: func(cmd *cobra.Command, args []string) error {
			lab, err := f.LoadLab(cmd, lab.SecretsRead)
			if err != nil {
				return err
			}
			return Run(cmd.Context(), &Options{
				IO: f.IO, StateDir: lab.StatePath(), Nodes: lab.Plan.NodeNames(), Names: args, Now: time.Now,
				Driver: vagrant.New(f.Runner, lab.StatePath(), lab.Lab.Provider, f.Getenv),
			})
		},
	}
	return cmd
}

// Run halts the nodes with per-node output.
func Run(ctx context.Context, o *Options) error {
	return Lifecycle(ctx, o, "halt", o.Driver.Halt)
}

// Lifecycle runs one vagrant lifecycle verb over the named nodes with
// prefixed (or live) output and the full log in the state dir.
func Lifecycle(ctx context.Context, o *Options, verb string, run func(context.Context, vagrant.Output, ...string) error) error {
	if err := CheckNames(o.Names, o.Nodes); err != nil {
		return err
	}
	if !vagrant.Rendered(o.StateDir) {
		fmt.Fprintln(o.IO.ErrOut, "The lab is not rendered yet: nothing to "+verb+".")
		return nil
	}
	logf, err := nodeout.OpenLog(o.StateDir, verb, o.Now())
	if err != nil {
		return err
	}
	defer logf.Close()
	shown := o.Names
	if len(shown) == 0 {
		shown = o.Nodes
	}
	set := nodeout.New(o.IO.ErrOut, shown, nodeout.Options{Live: o.IO.ErrTTY, Log: logf})
	set.Start(time.Second)
	err = run(ctx, set.Output(), o.Names...)
	_ = set.Close()
	if err != nil {
		return fmt.Errorf("%s: %w (full log: %s)", verb, err, logf.Name())
	}
	return nil
}

// CheckNames returns a usage error naming the unknown nodes.
func CheckNames(names, nodes []string) error {
	var bad []string
	for _, n := range names {
		if !slices.Contains(nodes, n) {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		return cmdutil.Usage(fmt.Errorf("%s: not a node of this lab (nodes: %s)", strings.Join(bad, ", "), strings.Join(nodes, ", ")))
	}
	return nil
}
