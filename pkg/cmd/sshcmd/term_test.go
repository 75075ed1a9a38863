package sshcmd

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/sshtarget"
	"github.com/cododemo/cododemo/pkg/sshx"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// fakeTerm is a local terminal without a TTY: it records raw mode.
type fakeTerm struct {
	mu       sync.Mutex
	raw      bool
	restores int
	rawErr   error
	size     sshx.WindowSize
	resizes  chan sshx.WindowSize
	stopped  bool
}

func (f *fakeTerm) MakeRaw() (func() error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rawErr != nil {
		return nil, f.rawErr
	}
	f.raw = true
	return func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.raw = false
		f.restores++
		return nil
	}, nil
}

func (f *fakeTerm) Size() (sshx.WindowSize, error) { return f.size, nil }

func (f *fakeTerm) Resizes() (<-chan sshx.WindowSize, func()) {
	return f.resizes, func() { f.mu.Lock(); f.stopped = true; f.mu.Unlock() }
}

func (f *fakeTerm) isRaw() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.raw }

// fakeSession records what the command asked of the SSH session.
type fakeSession struct {
	term      *fakeTerm
	code      int
	err       error
	panicWith any
	gotPTY    *sshx.PTY
	gotCmd    string
	rawInside bool
	streamed  bool
}

func (s *fakeSession) Stream(_ context.Context, cmd string, _ io.Reader, _, _ io.Writer) (int, error) {
	s.streamed, s.gotCmd = true, cmd
	return s.code, s.err
}

func (s *fakeSession) Terminal(_ context.Context, cmd string, pty sshx.PTY, _ io.Reader, _, _ io.Writer) (int, error) {
	s.gotCmd, s.gotPTY = cmd, &pty
	s.rawInside = s.term.isRaw()
	if s.panicWith != nil {
		panic(s.panicWith)
	}
	return s.code, s.err
}

func opts(term *fakeTerm, cmd string) *Options {
	return &Options{
		IO:     &cmdutil.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard},
		Getenv: func(k string) string { return map[string]string{"TERM": "xterm-256color"}[k] },
		OpenTerminal: func(io.Reader) (Terminal, bool) {
			if term == nil {
				return nil, false
			}
			return term, true
		},
		Command: cmd,
	}
}

func TestTerminalRestoredOnEveryExit(t *testing.T) {
	cases := []struct {
		name string
		s    fakeSession
		code int
		err  bool
	}{
		{name: "remote exit 0", s: fakeSession{code: 0}},
		{name: "remote exit 7", s: fakeSession{code: 7}, code: 7},
		{name: "session error", s: fakeSession{code: -1, err: errors.New("core-01: connection lost")}, code: -1, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			term := &fakeTerm{size: sshx.WindowSize{Rows: 40, Cols: 120}}
			s := tc.s
			s.term = term
			code, err := session(context.Background(), opts(term, ""), &s)
			if code != tc.code || (err != nil) != tc.err {
				t.Fatalf("code %d err %v", code, err)
			}
			if !s.rawInside || term.isRaw() || term.restores != 1 || !term.stopped {
				t.Errorf("raw during session %v, raw after %v, restores %d, resize watch stopped %v", s.rawInside, term.isRaw(), term.restores, term.stopped)
			}
			if s.gotPTY == nil || s.gotPTY.Size != (sshx.WindowSize{Rows: 40, Cols: 120}) || s.gotPTY.Term != "xterm-256color" || s.gotCmd != "" {
				t.Errorf("pty request %+v cmd %q", s.gotPTY, s.gotCmd)
			}
		})
	}
	t.Run("panic", func(t *testing.T) {
		term := &fakeTerm{}
		s := &fakeSession{term: term, panicWith: "boom"}
		func() {
			defer func() {
				if recover() == nil {
					t.Error("panic swallowed")
				}
			}()
			_, _ = session(context.Background(), opts(term, ""), s)
		}()
		if term.isRaw() || term.restores != 1 {
			t.Errorf("after panic: raw %v restores %d", term.isRaw(), term.restores)
		}
		if s.gotPTY.Size != (sshx.WindowSize{Rows: 24, Cols: 80}) {
			t.Errorf("unknown size: got %+v, want 24x80", s.gotPTY.Size)
		}
	})
	t.Run("raw mode refused: no session", func(t *testing.T) {
		term := &fakeTerm{rawErr: errors.New("inappropriate ioctl")}
		s := &fakeSession{term: term}
		_, err := session(context.Background(), opts(term, ""), s)
		if err == nil || !strings.Contains(err.Error(), "raw mode") || s.gotPTY != nil || s.streamed {
			t.Errorf("err %v, session started %v/%v", err, s.gotPTY != nil, s.streamed)
		}
	})
}

func TestSessionKind(t *testing.T) {
	term := &fakeTerm{}
	// A command without -t streams, even on a terminal, and leaves the
	// terminal alone.
	s := &fakeSession{term: term}
	if _, err := session(context.Background(), opts(term, "uptime"), s); err != nil || !s.streamed || s.gotCmd != "uptime" || term.restores != 0 {
		t.Errorf("command: streamed %v cmd %q restores %d err %v", s.streamed, s.gotCmd, term.restores, err)
	}
	// -t gives the command a terminal.
	s = &fakeSession{term: term}
	o := opts(term, "top")
	o.TTY = true
	if _, err := session(context.Background(), o, s); err != nil || s.gotPTY == nil || s.gotCmd != "top" || term.restores != 1 {
		t.Errorf("-t: pty %v cmd %q restores %d err %v", s.gotPTY, s.gotCmd, term.restores, err)
	}
	// -t without a local terminal warns and streams.
	var errOut bytes.Buffer
	s = &fakeSession{}
	o = opts(nil, "top")
	o.TTY, o.IO.ErrOut = true, &errOut
	if _, err := session(context.Background(), o, s); err != nil || !s.streamed || !strings.Contains(errOut.String(), "not a terminal") {
		t.Errorf("-t without terminal: streamed %v stderr %q err %v", s.streamed, errOut.String(), err)
	}
}

// TestInteractiveShellOnRealSSHD runs the interactive path end to end
// against a real sshd: a remote pty, a login shell fed by "keystrokes",
// window size forwarded, the exit status of the shell, the local terminal
// (a fake: there is no TTY here) restored.
func TestInteractiveShellOnRealSSHD(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 1})
	term := &fakeTerm{size: sshx.WindowSize{Rows: 30, Cols: 90}, resizes: make(chan sshx.WindowSize, 1)}
	// stdin stays open like a terminal's (sshd stops resizing a pty whose
	// input has ended); the "user" types once the prompt's output shows up.
	inR, inW := io.Pipe()
	var mu sync.Mutex
	var out bytes.Buffer
	typed := false
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		out.Write(p)
		if !typed && strings.Contains(out.String(), "/dev/pts/") {
			typed = true
			term.resizes <- sshx.WindowSize{Rows: 50, Cols: 132}
			go io.WriteString(inW, `for i in $(seq 50); do [ "$(stty size)" = "50 132" ] && break; sleep 0.1; done; stty size; exit 5`+"\n")
		}
		return len(p), nil
	})
	o := opts(term, "")
	o.IO = &cmdutil.IOStreams{In: inR, Out: w, ErrOut: w}
	o.Node = "core-01"
	o.Flags = sshtarget.Flags{Inventory: c.InventoryPath, ConnectTimeout: 3 * time.Second}
	o.Getenv = func(k string) string { return map[string]string{"TERM": "vt100"}[k] }
	f := &cmdutil.Factory{IO: o.IO, Getenv: o.Getenv, WorkDir: c.Dir}
	nodes, err := f.ResolveTarget(NewCmdSSH(f), o.Flags)
	if err != nil {
		t.Fatal(err)
	}
	// The login shell is told to print its terminal size first.
	go io.WriteString(inW, "stty size; tty\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, o, nodes)
	inW.Close()
	var silent *cmdutil.SilentError
	if !errors.As(err, &silent) || silent.Code != 5 {
		t.Fatalf("got %v, want exit 5; output:\n%s", err, out.String())
	}
	mu.Lock()
	got := strings.ReplaceAll(out.String(), "\r", "")
	mu.Unlock()
	first, second := strings.Index(got, "30 90\n"), strings.LastIndex(got, "50 132\n")
	if !strings.Contains(got, "/dev/pts/") || first < 0 || second < first {
		t.Errorf("want a remote pty sized 30x90 then 50x132; output:\n%s", got)
	}
	if term.isRaw() || term.restores != 1 {
		t.Errorf("local terminal: raw %v restores %d", term.isRaw(), term.restores)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
