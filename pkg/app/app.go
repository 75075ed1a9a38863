// Package app builds the command tree and runs it; cmdutil.ExitCode turns
// what a command returns into the exit code.
package app

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cododemo/cododemo/pkg/cmdutil"
)

// Version is set at build time with -ldflags "-X .../pkg/app.Version=...".
var Version = "dev"

// Main runs the CLI for the real process and returns the exit code.
func Main() int {
	f, err := cmdutil.New(Version)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cododemo:", err)
		return cmdutil.ExitFailure
	}
	// Ctrl-C cancels the context; commands stop their children and return.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, f, os.Args[1:])
}

// Run executes one command line and maps its error to an exit code.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	root := NewCmdRoot(f)
	cmdutil.PrepareTree(root)
	f.RegisterCompletions(root)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return cmdutil.ExitCode(ctx, f.IO.ErrOut, err)
}
