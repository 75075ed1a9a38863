package sshx_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/sshx"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

func TestStreamAndTerminal(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 1})
	n := c.Nodes[0]
	cl, err := dial(t, c, n, sshx.Config{IdentityFile: c.IdentityFile, HostKeys: sshx.NewKnownHosts(c.KnownHostsPath)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("output, stdin and exit status", func(t *testing.T) {
		var out, errOut bytes.Buffer
		code, err := cl.Stream(ctx, `tr a-z A-Z; echo oops >&2; exit 7`, strings.NewReader("hello\n"), &out, &errOut)
		if err != nil || code != 7 || out.String() != "HELLO\n" || errOut.String() != "oops\n" {
			t.Fatalf("code %d err %v stdout %q stderr %q", code, err, out.String(), errOut.String())
		}
		code, err = cl.Stream(ctx, "true", nil, &out, &errOut)
		if err != nil || code != 0 {
			t.Fatalf("true: code %d err %v", code, err)
		}
	})

	t.Run("output arrives while the command runs", func(t *testing.T) {
		// The writer sees the first line before the command (blocked on
		// stdin) ends: nothing is held back until exit.
		stdinR, stdinW := ioPipe()
		seen := make(chan string, 1)
		w := writerFunc(func(p []byte) (int, error) {
			select {
			case seen <- string(p):
			default:
			}
			return len(p), nil
		})
		done := make(chan int, 1)
		go func() {
			code, _ := cl.Stream(ctx, `echo first; read x; echo "$x"`, stdinR, w, nil)
			done <- code
		}()
		select {
		case got := <-seen:
			if got != "first\n" {
				t.Errorf("first write %q", got)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no output while the command was running")
		}
		stdinW.Write([]byte("second\n"))
		stdinW.Close()
		if code := <-done; code != 0 {
			t.Errorf("exit %d", code)
		}
	})

	t.Run("killed by a signal", func(t *testing.T) {
		code, err := cl.Stream(ctx, `kill -TERM $$`, nil, nil, nil)
		if err != nil || code != 128+15 {
			t.Fatalf("code %d err %v, want 143", code, err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := cl.Stream(cctx, "sleep 30", nil, nil, nil)
		if err == nil || !strings.Contains(err.Error(), "core-01") {
			t.Fatalf("cancelled run: %v", err)
		}
	})

	t.Run("terminal with resize", func(t *testing.T) {
		resize := make(chan sshx.WindowSize, 1)
		var out bytes.Buffer
		// The first size is what the pty starts with; once it is printed
		// the window "changes", and the command waits for that (bounded),
		// then prints the new size.
		var seen bytes.Buffer
		sent := false
		w := writerFunc(func(p []byte) (int, error) {
			seen.Write(p)
			if !sent && strings.Contains(seen.String(), "24 80") {
				sent = true
				resize <- sshx.WindowSize{Rows: 33, Cols: 111}
			}
			return out.Write(p)
		})
		// stdin stays open as a terminal's does: OpenSSH's sshd closes the
		// pty it resizes when the client's stdin ends.
		stdinR, stdinW := ioPipe()
		cmd := `tty; stty size; for i in $(seq 50); do [ "$(stty size)" = "33 111" ] && break; sleep 0.1; done; stty size; exit 3`
		code, err := cl.Terminal(ctx, cmd, sshx.PTY{Term: "vt100", Size: sshx.WindowSize{Rows: 24, Cols: 80}, Resize: resize}, stdinR, w, w)
		stdinW.Close()
		if err != nil || code != 3 {
			t.Fatalf("code %d err %v out %q", code, err, out.String())
		}
		got := strings.ReplaceAll(out.String(), "\r", "")
		if !strings.Contains(got, "/dev/pts/") || !strings.Contains(got, "24 80\n33 111\n") {
			t.Errorf("terminal output %q: want a pty, 24x80 then 33x111", got)
		}
	})
}

func TestForgetThenRepin(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 2})
	kh := sshx.NewKnownHosts(c.KnownHostsPath)
	cfg := sshx.Config{IdentityFile: c.IdentityFile, HostKeys: kh}
	for _, n := range c.Nodes {
		if _, err := dial(t, c, n, cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Nodes[0].ChangeHostKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, c, c.Nodes[0], cfg); err == nil {
		t.Fatal("changed key accepted before Forget")
	}
	before, _ := os.ReadFile(c.KnownHostsPath)
	if err := kh.Forget(addr(c.Nodes[0])); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, c, c.Nodes[0], cfg); err != nil {
		t.Fatalf("re-created node after Forget: %v", err)
	}
	// The other node's pin is untouched.
	after, _ := os.ReadFile(c.KnownHostsPath)
	other := strings.Split(strings.TrimSpace(string(before)), "\n")[1]
	if !strings.Contains(string(after), other) || strings.Count(string(after), "\n") != 2 {
		t.Errorf("known_hosts before:\n%s\nafter:\n%s", before, after)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func ioPipe() (*os.File, *os.File) {
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	return r, w
}
