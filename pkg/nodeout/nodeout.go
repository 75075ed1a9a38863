// Package nodeout shows the output of commands that run on several nodes
// at once: every line prefixed with its node ("core-02 | ..."), safe for
// concurrent writers, the full log kept in a file, and on a terminal a
// compact live view instead (one line per node: phase, elapsed time and the
// latest message).
package nodeout

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

// LabLabel prefixes lines that are about the whole lab, not one node.
const LabLabel = "vagrant"

// Options configure a Set.
type Options struct {
	// Live draws the compact view on Out (a terminal) instead of
	// streaming lines. The full lines still go to Log.
	Live bool
	// Log receives every line with its prefix; nil keeps no log.
	Log io.Writer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Width is the terminal width for the live view (0: 100).
	Width int
}

// Set hands out one writer per node and owns the shared output.
type Set struct {
	mu    sync.Mutex
	out   io.Writer
	opts  Options
	nodes []string // display order
	state map[string]*nodeState
	width int // of the widest label
	drawn int // lines of the live view on screen
	stop  chan struct{}
	done  chan struct{}
}

type nodeState struct {
	phase   vagrant.Phase
	started time.Time // first line or phase; zero while waiting
	ended   time.Time
	last    string
}

// New returns a Set for nodes (shown in this order; nodes not listed are
// added as they write).
func New(out io.Writer, nodes []string, opts Options) *Set {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Width <= 0 {
		opts.Width = 100
	}
	s := &Set{out: out, opts: opts, state: map[string]*nodeState{}, width: len(LabLabel)}
	for _, n := range nodes {
		s.add(n)
	}
	return s
}

func (s *Set) add(node string) *nodeState {
	st, ok := s.state[node]
	if !ok {
		st = &nodeState{}
		s.state[node] = st
		if node != "" {
			s.nodes = append(s.nodes, node)
		}
		if len(node) > s.width {
			s.width = len(node)
		}
	}
	return st
}

// Writer returns the writer for node ("" for the whole lab). Each complete
// line is prefixed; a partial line waits for its end (or Close).
func (s *Set) Writer(node string) io.Writer {
	s.mu.Lock()
	s.add(node)
	s.mu.Unlock()
	return &nodeWriter{set: s, node: node}
}

// Output adapts the Set to vagrant.Output.
func (s *Set) Output() vagrant.Output {
	var mu sync.Mutex
	ws := map[string]io.Writer{}
	return func(node string) io.Writer {
		mu.Lock()
		defer mu.Unlock()
		if w, ok := ws[node]; ok {
			return w
		}
		w := s.Writer(node)
		ws[node] = w
		return w
	}
}

// SetPhase records a phase that output alone does not show (waiting for
// a turn, done, failed).
func (s *Set) SetPhase(node string, p vagrant.Phase) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.add(node)
	s.setPhase(st, p)
	s.redraw()
}

func (s *Set) setPhase(st *nodeState, p vagrant.Phase) {
	now := s.opts.Now()
	if st.started.IsZero() && p != vagrant.PhaseWaiting {
		st.started = now
	}
	if p == vagrant.PhaseDone || p == vagrant.PhaseFailed {
		st.ended = now
	} else {
		st.ended = time.Time{}
	}
	st.phase = p
}

type nodeWriter struct {
	set     *Set
	node    string
	partial []byte
}

func (w *nodeWriter) Write(p []byte) (int, error) {
	w.set.mu.Lock()
	defer w.set.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.set.line(w.node, string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// LogOnly returns a writer whose lines, prefixed, go to the log alone:
// neither shown nor counted as the node's latest message (vagrant sends
// it the frames of a Ruby backtrace). Without a log they are dropped.
func (w *nodeWriter) LogOnly() io.Writer { return logWriter{w} }

type logWriter struct{ w *nodeWriter }

func (l logWriter) Write(p []byte) (int, error) {
	s := l.w.set
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.Log != nil {
		for _, line := range strings.SplitAfter(string(p), "\n") {
			if line == "" {
				continue
			}
			_, _ = io.WriteString(s.opts.Log, s.prefix(l.w.node)+strings.TrimRight(line, "\r\n")+"\n")
		}
	}
	return len(p), nil
}

// line handles one complete line of node; s.mu is held.
func (s *Set) line(node, text string) {
	text = strings.TrimRight(text, "\r")
	st := s.add(node)
	if st.started.IsZero() {
		st.started = s.opts.Now()
		if st.phase == vagrant.PhaseWaiting {
			st.phase = vagrant.PhaseStarting
		}
	}
	// Phases move forward, except that a reload boots again after halting.
	if p, ok := vagrant.PhaseOf(text); ok && (p > st.phase || st.phase >= vagrant.PhaseHalting && p < vagrant.PhaseHalting) {
		s.setPhase(st, p)
	}
	if strings.TrimSpace(text) != "" {
		st.last = strings.TrimSpace(text)
	}
	full := s.prefix(node) + text + "\n"
	if s.opts.Log != nil {
		_, _ = io.WriteString(s.opts.Log, full)
	}
	if s.opts.Live {
		s.redraw()
		return
	}
	_, _ = io.WriteString(s.out, full)
}

func (s *Set) prefix(node string) string {
	label := node
	if label == "" {
		label = LabLabel
	}
	return fmt.Sprintf("%-*s | ", s.width, label)
}

// Start begins redrawing the live view every interval so elapsed times
// move while nodes are quiet. It does nothing without Live.
func (s *Set) Start(interval time.Duration) {
	if !s.opts.Live || s.stop != nil {
		return
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.mu.Lock()
				s.redraw()
				s.mu.Unlock()
			}
		}
	}()
}

// Close stops the ticker and draws the final view. Partial lines still in
// node writers are not flushed: vagrant's line writer ends every line.
func (s *Set) Close() error {
	if s.stop != nil {
		close(s.stop)
		<-s.done
		s.stop = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redraw()
	return nil
}

// redraw repaints the live view in place; s.mu is held.
func (s *Set) redraw() {
	if !s.opts.Live {
		return
	}
	var b strings.Builder
	if s.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", s.drawn) // back to the view's first line
	}
	now := s.opts.Now()
	for _, n := range s.nodes {
		b.WriteString("\r\x1b[2K")
		b.WriteString(s.viewLine(n, s.state[n], now))
		b.WriteString("\n")
	}
	s.drawn = len(s.nodes)
	_, _ = io.WriteString(s.out, b.String())
}

// viewLine is one node's line of the live view.
func (s *Set) viewLine(node string, st *nodeState, now time.Time) string {
	elapsed := ""
	if !st.started.IsZero() {
		end := now
		if !st.ended.IsZero() {
			end = st.ended
		}
		elapsed = formatElapsed(end.Sub(st.started))
	}
	head := fmt.Sprintf("%-*s  %-10s %6s", s.width, node, st.phase, elapsed)
	if st.phase == vagrant.PhaseDone || st.last == "" {
		return head
	}
	room := s.opts.Width - len(head) - 2
	if room < 10 {
		return head
	}
	last := st.last
	if r := []rune(last); len(r) > room {
		last = string(r[:room-1]) + "…"
	}
	return head + "  " + last
}

func formatElapsed(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// OpenLog creates the log file of one run in the state dir's logs/
// directory (logs/halt-20260102-150405.log) and returns it with its path.
func OpenLog(stateDir, verb string, now time.Time) (*os.File, error) {
	dir := filepath.Join(stateDir, labstate.LogsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(dir, verb+"-"+now.Format("20060102-150405")+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}
