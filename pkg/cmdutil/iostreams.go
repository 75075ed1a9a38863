// Package cmdutil holds what every command shares: the IO streams, the
// Factory that injects dependencies, and the error types that map to exit
// codes in one place (pkg/app).
package cmdutil

import (
	"io"
	"os"

	"github.com/cododemo/cododemo/pkg/hostos"
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
	// NoColor is set when NO_COLOR is set (to anything but "").
	NoColor bool
	// NoEscapes is set when the terminal shows escape codes as text:
	// TERM=dumb, or a Windows console without virtual terminal processing.
	// Then there is neither colour nor a live view.
	NoEscapes bool
	// OutWidth and ErrWidth are the terminals' widths (0: not a terminal,
	// or unknown): tables wrap to them.
	OutWidth, ErrWidth int
}

// System returns the process's own streams; hostos.DecideTerm is the rule.
func System() *IOStreams {
	out, errOut := hostos.Terminal(os.Stdout, os.Getenv), hostos.Terminal(os.Stderr, os.Getenv)
	return &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		OutTTY:    out.IsTerminal,
		ErrTTY:    errOut.IsTerminal,
		NoColor:   os.Getenv("NO_COLOR") != "",
		NoEscapes: (out.IsTerminal && !out.Live) || (errOut.IsTerminal && !errOut.Live),
		OutWidth:  out.Width,
		ErrWidth:  errOut.Width,
	}
}

// ColorOut says whether colour may be written to Out.
func (s *IOStreams) ColorOut() bool { return s.OutTTY && !s.NoColor && !s.NoEscapes }

// ColorErr says whether colour may be written to ErrOut.
func (s *IOStreams) ColorErr() bool { return s.ErrTTY && !s.NoColor && !s.NoEscapes }

// LiveErr says whether ErrOut may show a live view (lines redrawn in place).
func (s *IOStreams) LiveErr() bool { return s.ErrTTY && !s.NoEscapes }
