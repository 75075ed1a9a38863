package nodeout

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/vagrant"
)

func TestPlainLinesArePrefixedAndWhole(t *testing.T) {
	var out, log bytes.Buffer
	s := New(&out, []string{"core-01", "core-02"}, Options{Log: &log})
	var wg sync.WaitGroup
	for _, n := range []string{"core-01", "core-02", ""} {
		w := s.Writer(n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				// Split writes: a line must never mix with another node's.
				fmt.Fprintf(w, "line %d ", i)
				fmt.Fprintf(w, "of %s\n", n)
			}
		}()
	}
	wg.Wait()
	_ = s.Close()
	if out.String() != log.String() {
		t.Fatal("log differs from the plain output")
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 600 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		var label, node string
		var i int
		if strings.HasPrefix(l, "vagrant | ") {
			if _, err := fmt.Sscanf(l, "vagrant | line %d of", &i); err != nil || !strings.HasSuffix(l, "of ") {
				t.Fatalf("bad lab line %q", l)
			}
			continue
		}
		if _, err := fmt.Sscanf(l, "%s | line %d of %s", &label, &i, &node); err != nil || label != node {
			t.Fatalf("mixed line %q", l)
		}
	}
	if !strings.HasPrefix(lines[0], "core-0") && !strings.HasPrefix(lines[0], "vagrant") {
		t.Fatal(lines[0])
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLiveView(t *testing.T) {
	var out, log bytes.Buffer
	c := &clock{t: time.Unix(1000, 0)}
	s := New(&out, []string{"core-01", "core-02"}, Options{Live: true, Log: &log, Now: c.now, Width: 80})
	w1, w2 := s.Writer("core-01"), s.Writer("core-02")
	fmt.Fprintln(w1, "Importing base box 'flatcar-stable'...")
	c.t = c.t.Add(42 * time.Second)
	fmt.Fprintln(w1, "Booting VM...")
	s.SetPhase("core-02", vagrant.PhaseWaiting)
	c.t = c.t.Add(75 * time.Second)
	fmt.Fprintln(w2, "Importing base box 'flatcar-stable'...")
	s.SetPhase("core-01", vagrant.PhaseDone)
	c.t = c.t.Add(10 * time.Second)
	_ = s.Close()

	// The last frame: cursor up two lines, then one line per node.
	frames := strings.Split(out.String(), "\x1b[2A")
	last := frames[len(frames)-1]
	want := "\r\x1b[2Kcore-01  done         1:57\n" +
		"\r\x1b[2Kcore-02  import       0:10  Importing base box 'flatcar-stable'...\n"
	if last != want {
		t.Fatalf("last frame\n%q\nwant\n%q", last, want)
	}
	if !strings.Contains(log.String(), "core-01 | Booting VM...\n") || strings.Contains(log.String(), "\x1b") {
		t.Fatalf("log:\n%s", log.String())
	}
	if strings.Contains(out.String(), " | ") {
		t.Fatal("plain lines on the live view")
	}
}

func TestLiveViewTruncatesToWidth(t *testing.T) {
	var out bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	s := New(&out, []string{"core-01"}, Options{Live: true, Now: c.now, Width: 40})
	fmt.Fprintln(s.Writer("core-01"), strings.Repeat("x", 100))
	for _, l := range strings.Split(out.String(), "\n") {
		l = strings.TrimPrefix(l, "\r\x1b[2K")
		if n := len([]rune(l)); n > 40 {
			t.Fatalf("line of %d runes: %q", n, l)
		}
	}
}

func TestReloadPhasesGoBack(t *testing.T) {
	var out bytes.Buffer
	s := New(&out, nil, Options{Live: true, Width: 100})
	w := s.Writer("core-01")
	fmt.Fprintln(w, "Attempting graceful shutdown of VM...")
	fmt.Fprintln(w, "Booting VM...")
	if got := s.state["core-01"].phase; got != vagrant.PhaseBoot {
		t.Fatalf("phase %v", got)
	}
	fmt.Fprintln(w, "Importing base box") // backwards within an up: ignored
	if got := s.state["core-01"].phase; got != vagrant.PhaseBoot {
		t.Fatalf("phase %v", got)
	}
}

func TestTickerRedraws(t *testing.T) {
	var mu sync.Mutex
	var out lockedBuf
	out.mu = &mu
	s := New(&out, []string{"core-01"}, Options{Live: true})
	s.Start(5 * time.Millisecond)
	for i := 0; i < 200; i++ { // bounded: 2 s
		mu.Lock()
		n := strings.Count(out.b.String(), "core-01")
		mu.Unlock()
		if n >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = s.Close()
	if n := strings.Count(out.b.String(), "core-01"); n < 3 {
		t.Fatalf("%d redraws", n)
	}
}

type lockedBuf struct {
	mu *sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// What vagrant hands a node's LogOnly writer (a Ruby backtrace) reaches
// the log, prefixed, and neither the screen nor the live view's message.
func TestLogOnlyLines(t *testing.T) {
	for _, live := range []bool{false, true} {
		var out, log bytes.Buffer
		s := New(&out, []string{"core-01"}, Options{Log: &log, Live: live})
		w := s.Output()("core-01")
		fmt.Fprintf(w, "Booting VM...\n")
		lo, ok := w.(vagrant.LogOnlyWriter)
		if !ok {
			t.Fatal("a node writer keeps no log-only lines")
		}
		fmt.Fprintf(lo.LogOnly(), "\tfrom /g/warden.rb:48:in `call'\n\tfrom /g/builder.rb:180:in `call'\n")
		_ = s.Close()
		if strings.Contains(out.String(), "warden.rb") {
			t.Errorf("live=%v: shown:\n%s", live, out.String())
		}
		if !strings.Contains(log.String(), "core-01 | \tfrom /g/warden.rb:48:in `call'\ncore-01 | \tfrom /g/builder.rb:180") {
			t.Errorf("live=%v: log:\n%s", live, log.String())
		}
		if s.state["core-01"].last != "Booting VM..." {
			t.Errorf("live=%v: latest message %q", live, s.state["core-01"].last)
		}
	}
}
