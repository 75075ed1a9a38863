package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// ExitCode maps what a command returned to the process exit code and
// prints the error to errOut (a SilentError has been reported already).
// It is the one place that does; pkg/app and the in-process CLI tests call it.
func ExitCode(ctx context.Context, errOut io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	var silent *SilentError
	if errors.As(err, &silent) {
		return silent.Code
	}
	fmt.Fprintln(errOut, "Error:", err)
	switch {
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		return ExitCancelled
	case IsUsage(err):
		return ExitUsage
	}
	return ExitFailure
}

// ConfigureRoot gives a root command the behaviour every cododemo root
// has: errors and usage printed once by the caller, flag errors as usage
// errors (exit 2), the global flags.
func ConfigureRoot(root *cobra.Command) {
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return Usage(err) })
	AddGlobalFlags(root)
}
