package sshcmd

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/cododemo/cododemo/pkg/sshx"
)

// Terminal is the local terminal an interactive session takes over.
type Terminal interface {
	// MakeRaw puts the terminal in raw mode (keys go to the remote side
	// as typed, Ctrl-C included) and returns what undoes it.
	MakeRaw() (restore func() error, err error)
	// Size is the current window size.
	Size() (sshx.WindowSize, error)
	// Resizes delivers the window's new sizes until stop is called.
	Resizes() (sizes <-chan sshx.WindowSize, stop func())
}

// OpenTerminal returns the terminal behind in, or false when in is not
// one (a pipe, a file, a test buffer).
func OpenTerminal(in io.Reader) (Terminal, bool) {
	f, ok := in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return &osTerminal{fd: int(f.Fd())}, true
}

type osTerminal struct{ fd int }

func (t *osTerminal) MakeRaw() (func() error, error) {
	st, err := term.MakeRaw(t.fd)
	if err != nil {
		return nil, err
	}
	return func() error { return term.Restore(t.fd, st) }, nil
}

func (t *osTerminal) Size() (sshx.WindowSize, error) {
	w, h, err := term.GetSize(t.fd)
	return sshx.WindowSize{Rows: h, Cols: w}, err
}

func (t *osTerminal) Resizes() (<-chan sshx.WindowSize, func()) {
	return watchResize(t)
}
