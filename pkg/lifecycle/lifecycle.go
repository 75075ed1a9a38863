// Package lifecycle runs one Vagrant lifecycle verb (halt, reload,
// destroy) over a lab's nodes, with the output per node (prefixed lines,
// or a live view on a terminal) and the full log in the state dir.
package lifecycle

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/cododemo/cododemo/pkg/bootfail"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/nodeout"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

// Options say which nodes, and where their output goes.
type Options struct {
	Driver   *vagrant.Driver
	StateDir string
	Nodes    []string // the lab's nodes
	Names    []string // the ones asked for; all when empty
	Now      func() time.Time
	// Out receives the per-node output (stderr); Live says it is a
	// terminal, which gets a live view instead of prefixed lines.
	Out  io.Writer
	Live bool
}

// ForLab is the Options for the named nodes (all when none) of l: out
// receives their output, live when it is a terminal.
func ForLab(l *lab.Lab, r exec.Runner, getenv func(string) string, names []string, out io.Writer, live bool) Options {
	return Options{
		StateDir: l.StatePath(), Nodes: l.Plan.NodeNames(), Names: names, Now: time.Now,
		Driver: vagrant.New(r, l.StatePath(), l.Lab.Provider, getenv),
		Out:    out, Live: live,
	}
}

// Halt shuts the nodes down gracefully.
func Halt(ctx context.Context, o Options) error { return Run(ctx, o, "halt", o.Driver.Halt) }

// Reload halts the nodes and boots them without provisioning.
func Reload(ctx context.Context, o Options) error { return Run(ctx, o, "reload", o.Driver.Reload) }

// Destroy removes the nodes' VMs.
func Destroy(ctx context.Context, o Options) error { return Run(ctx, o, "destroy", o.Driver.Destroy) }

// Run runs one verb over the named nodes. An unknown name is a *lab.Error;
// a lab not rendered yet, or none of whose named nodes was ever created,
// has nothing to act on, which is said, not failed.
func Run(ctx context.Context, o Options, verb string, run func(context.Context, vagrant.Output, ...string) error) error {
	if err := lab.CheckNames(o.Names, o.Nodes); err != nil {
		return err
	}
	if !vagrant.Rendered(o.StateDir) {
		fmt.Fprintln(o.Out, "The lab is not rendered yet: nothing to "+verb+".")
		return nil
	}
	shown := o.Names
	if len(shown) == 0 {
		shown = o.Nodes
	}
	if len(vagrant.Created(o.StateDir, shown)) == 0 {
		// Nothing for Vagrant to act on, and its provider may not even be
		// usable on this machine: `destroy -f --purge` still cleans up.
		fmt.Fprintln(o.Out, "No VM of this lab was created yet: nothing to "+verb+".")
		return nil
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	logf, err := nodeout.OpenLog(o.StateDir, verb, now())
	if err != nil {
		return err
	}
	defer logf.Close()
	set := nodeout.New(o.Out, shown, nodeout.Options{Live: o.Live, Log: logf})
	set.Start(time.Second)
	err = run(ctx, set.Output(), o.Names...)
	_ = set.Close()
	if err == nil {
		return nil
	}
	// The node Vagrant stopped at, why, and its console when it was
	// booting (reload); else Vagrant's error as it is.
	if ex := bootfail.ExplainAs(err, cmp.Or(failed[verb], verb+" failed"), o.StateDir, logf.Name()); ex != err {
		return ex
	}
	return fmt.Errorf("%s: %w (full log: %s)", verb, err, logf.Name())
}

// failed says what did not happen, per verb.
var failed = map[string]string{"halt": "did not halt", "reload": "did not come back up"}
