package cmdutil

import (
	"errors"

	"github.com/cododemo/cododemo/pkg/lab"
)

// Exit codes, mapped from errors in one place (pkg/app).
const (
	ExitOK        = 0
	ExitFailure   = 1 // the lab is unhealthy or an operation failed
	ExitUsage     = 2 // bad flags, arguments or configuration
	ExitCancelled = 130
)

// UsageError marks bad flags, arguments or configuration: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage wraps err as a UsageError (nil stays nil).
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

// SilentError is returned when the command already reported what went wrong
// (for example a health report) and only the exit code is left to set.
type SilentError struct{ Code int }

func (e *SilentError) Error() string { return "exit status" }

// IsUsage says whether err is (or wraps) a UsageError, or a *lab.Error:
// the domain packages' word for the same thing (bad input from the user).
func IsUsage(err error) bool {
	var u *UsageError
	return errors.As(err, &u) || lab.IsConfig(err)
}
