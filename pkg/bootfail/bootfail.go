// Package bootfail explains why nodes did not come up: for each node the
// classified reason in plain words, Vagrant's own one-line explanation,
// cododemo's advice and the last lines of the node's serial console (the
// file the rendered Vagrantfile has the hypervisor write in the state dir),
// and where Vagrant's full output, backtrace included, was logged.
package bootfail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

// ConsoleLines is how many lines of a node's console are shown.
const ConsoleLines = 20

// Node is one node's failure, explained.
type Node struct {
	Name string
	// Why is the reason in plain words.
	Why    string
	Reason vagrant.Reason
	// Vagrant is Vagrant's (or Ruby's) explanation on one line; the whole
	// error when it was none of theirs.
	Vagrant string
	Advice  string
	// Console is the console log's path, "" when it is not shown (the
	// node was not started, or the lab's template writes none); Tail its
	// last lines, TailErr why it could not be read.
	Console string
	Tail    []string
	TailErr error
}

// Error is a run in which nodes did not come up.
type Error struct {
	// Failed says what did not happen: "did not come up".
	Failed string
	Nodes  []Node
	// Log is the log file with Vagrant's full output, "" for none.
	Log string
	Err error
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	var b strings.Builder
	for i, n := range e.Nodes {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s %s: %s\n", n.Name, e.Failed, n.Why)
		if n.Vagrant != "" {
			fmt.Fprintf(&b, "  vagrant: %s\n", indent(n.Vagrant, "    "))
		}
		if n.Advice != "" {
			fmt.Fprintf(&b, "  hint: %s\n", n.Advice)
		}
		switch {
		case n.Console == "":
		case n.TailErr != nil:
			fmt.Fprintf(&b, "  its console could not be read: %v\n", n.TailErr)
		case len(n.Tail) == 0:
			fmt.Fprintf(&b, "  its console (%s) is empty: the machine wrote nothing to its serial port\n", n.Console)
		default:
			fmt.Fprintf(&b, "  the last %d lines of its console (%s):\n", len(n.Tail), n.Console)
			for _, l := range n.Tail {
				fmt.Fprintf(&b, "    | %s\n", l)
			}
		}
	}
	if e.Log != "" {
		fmt.Fprintf(&b, "Vagrant's full output, with any backtrace: %s", e.Log)
	}
	return strings.TrimRight(b.String(), "\n")
}

// Explain turns err, the error of a run over nodes of the lab in
// stateDir, into an *Error when it holds per-node failures
// (vagrant.NodeError); any other err is returned as it is. log is the
// run's log file.
func Explain(err error, stateDir, log string) error {
	return ExplainAs(err, "did not come up", stateDir, log)
}

// ExplainAs is Explain for a run that does something else than bring
// nodes up: failed says what did not happen ("did not halt").
func ExplainAs(err error, failed, stateDir, log string) error {
	nes := vagrant.NodeErrors(err)
	if len(nes) == 0 {
		return err
	}
	out := &Error{Failed: failed, Log: log, Err: err}
	for _, ne := range nes {
		n := Node{Name: ne.Node, Reason: ne.Reason()}
		var ve *vagrant.Error
		if errors.As(ne.Err, &ve) {
			n.Why, n.Vagrant, n.Advice = n.Reason.String(), ve.Summary(), strings.ReplaceAll(ve.Advice, "NODE", ne.Node)
		} else {
			// Not Vagrant's: cododemo's own ("not started: ...") or the
			// bare failure of the command.
			n.Why = ne.Err.Error()
		}
		// The console is this boot's only once the machine was started;
		// before that a console file is an earlier boot's.
		if n.Reason.Started() || n.Reason == vagrant.ReasonUnknown && ne.Phase >= vagrant.PhaseBoot && ne.Phase < vagrant.PhaseHalting {
			path := filepath.Join(stateDir, filepath.FromSlash(labstate.ConsoleLog(ne.Node)))
			tail, terr := ConsoleTail(path, ConsoleLines)
			if !errors.Is(terr, os.ErrNotExist) {
				n.Console, n.Tail, n.TailErr = path, tail, terr
			}
		}
		out.Nodes = append(out.Nodes, n)
	}
	return out
}

// maxTail is how much of the end of a console log is read.
const maxTail = 64 << 10

// escapes are the terminal control sequences a boot console is full of
// (systemd's colours, cursor moves): CSI and OSC sequences, and two-byte
// escapes.
var escapes = regexp.MustCompile("\x1b\\[[0-?]*[ -/]*[@-~]|\x1b\\][^\x07\x1b]*(?:\x07|\x1b\\\\)|\x1b[ -~]")

// ConsoleTail returns the last n non-blank lines of the console log at
// path, without terminal escapes and other control characters.
func ConsoleTail(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(fi.Size()-maxTail, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if off > 0 {
		// The first line read is cut: start at the next one.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	text := escapes.ReplaceAllString(string(bytes.ToValidUTF8(buf, []byte("?"))), "")
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		// A carriage return redraws the line: what follows the last one
		// is what the screen showed.
		if i := strings.LastIndexByte(strings.TrimRight(l, "\r"), '\r'); i >= 0 {
			l = l[i+1:]
		}
		l = strings.Map(func(r rune) rune {
			if r == '\t' || !unicode.IsControl(r) {
				return r
			}
			return -1
		}, l)
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimRight(l, " "))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}

func indent(s, pad string) string { return strings.ReplaceAll(s, "\n", "\n"+pad) }
