// Package cmdtest runs cododemo commands in-process for tests, wired the
// way pkg/app wires the real command tree, so a test of one command needs
// no copy of the root's set-up or of the exit-code mapping.
package cmdtest

import (
	"bytes"
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
)

// Result is what one command line did.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run builds a root holding the commands newCmds make from f, runs args
// (the first being the command's name) and returns the exit code and both
// streams. f's Out and ErrOut are replaced by buffers; f.IO.In is kept
// when set.
func Run(ctx context.Context, f cmdutil.Factory, args []string, newCmds ...func(*cmdutil.Factory) *cobra.Command) Result {
	var out, errOut bytes.Buffer
	io := cmdutil.IOStreams{In: strings.NewReader("")}
	if f.IO != nil {
		io = *f.IO
		if io.In == nil {
			io.In = strings.NewReader("")
		}
	}
	io.Out, io.ErrOut = &out, &errOut
	f.IO = &io
	root := &cobra.Command{Use: "cododemo"}
	cmdutil.ConfigureRoot(root)
	root.SetIn(io.In)
	root.SetOut(&out)
	root.SetErr(&errOut)
	for _, n := range newCmds {
		root.AddCommand(n(&f))
	}
	cmdutil.PrepareTree(root)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := cmdutil.ExitCode(ctx, &errOut, err)
	return Result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}
