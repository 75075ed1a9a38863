// Package cmdutil holds what every command shares: the IO streams, the
// Factory that injects dependencies, and the error types that map to exit
// codes in one place (pkg/app).
package cmdutil

import (
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the three standard streams plus what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutTTY and ErrTTY say whether the streams are terminals: live views
	// and colour are for terminals only.
	OutTTY bool
	ErrTTY bool
	// NoColor is set when NO_COLOR is present in the environment.
	NoColor bool
}

// System returns the process's own streams.
func System() *IOStreams {
	_, noColor := os.LookupEnv("NO_COLOR")
	return &IOStreams{
		In:      os.Stdin,
		Out:     os.Stdout,
		ErrOut:  os.Stderr,
		OutTTY:  isTerminal(os.Stdout),
		ErrTTY:  isTerminal(os.Stderr),
		NoColor: noColor,
	}
}

// ColorOut says whether colour may be written to Out.
func (s *IOStreams) ColorOut() bool { return s.OutTTY && !s.NoColor }

// ColorErr says whether colour may be written to ErrOut.
func (s *IOStreams) ColorErr() bool { return s.ErrTTY && !s.NoColor }

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
