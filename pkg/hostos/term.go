package hostos

import (
	"os"

	"golang.org/x/term"
)

// TermFacts are what the system says about one output stream: the input
// of DecideTerm.
type TermFacts struct {
	OS         string // GOOS
	IsTerminal bool
	Width      int    // columns; 0 when unknown
	Term       string // $TERM
	// NoColor is $NO_COLOR set to anything but "" (https://no-color.org).
	NoColor bool
	// VT says a Windows console accepted virtual terminal processing
	// (ENABLE_VIRTUAL_TERMINAL_PROCESSING): Windows Terminal and the
	// console of Windows 10 1511 and later do; older consoles print escape
	// codes as text. Ignored elsewhere.
	VT bool
}

// TermCaps is what cododemo may write to the stream.
type TermCaps struct {
	IsTerminal bool
	// Color allows ANSI colour.
	Color bool
	// Live allows redrawing lines in place (cursor movement): the live
	// per-node view of `up`.
	Live bool
	// Width is the terminal's width in columns; 0 means do not wrap.
	Width int
}

// DecideTerm is the one rule for colour and live views: only on a
// terminal; never on TERM=dumb (Emacs shells, some CI logs) or a Windows
// console without virtual terminal processing; no colour under NO_COLOR.
func DecideTerm(f TermFacts) TermCaps {
	if !f.IsTerminal {
		return TermCaps{}
	}
	c := TermCaps{IsTerminal: true, Width: f.Width, Color: true, Live: true}
	escapes := f.Term != "dumb"
	if f.OS == "windows" && !f.VT {
		escapes = false
	}
	if !escapes {
		c.Color, c.Live = false, false
	}
	if f.NoColor {
		c.Color = false
	}
	return c
}

// Terminal reads the facts about f and decides. On Windows it first asks
// the console for virtual terminal processing.
func Terminal(f *os.File, getenv func(string) string) TermCaps {
	if getenv == nil {
		getenv = os.Getenv
	}
	fd := int(f.Fd())
	facts := TermFacts{OS: goos, Term: getenv("TERM"), NoColor: getenv("NO_COLOR") != ""}
	if term.IsTerminal(fd) {
		facts.IsTerminal = true
		if w, _, err := term.GetSize(fd); err == nil {
			facts.Width = w
		}
		facts.VT = enableVT(f)
	}
	return DecideTerm(facts)
}
