package sshx

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/ssh"
)

// signalNumbers maps the signal names SSH sends (RFC 4254 6.10, POSIX
// names without "SIG") to their Linux numbers, so a command killed by a
// signal exits 128+n as it would under a local shell.
var signalNumbers = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9,
	"USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
}

// ExitStatusUnknown is the status when the server reports none (the
// session closed without exit-status or exit-signal); OpenSSH's ssh exits
// 255 in that case too.
const ExitStatusUnknown = 255

// Stream runs cmd in a new session with stdin, stdout and stderr wired
// through as the command produces output (nothing is buffered beyond what
// the writers do); cmd "" is a login shell without a terminal (ssh -T). It
// returns the remote exit status: the command's code,
// 128+n when it died of signal n, ExitStatusUnknown when the server said
// nothing. stdout and stderr are written from different goroutines; pass
// writers that are safe for that (two distinct ones are). A nil stdin
// gives the command an empty one. The error is a transport failure or ctx
// ending, in which case the session is closed (the remote command gets
// SIGHUP).
func (c *Client) Stream(ctx context.Context, cmd string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return c.runSession(ctx, cmd, nil, stdin, stdout, stderr)
}

// WindowSize is a terminal's size in character cells.
type WindowSize struct{ Rows, Cols int }

// PTY asks for a remote terminal.
type PTY struct {
	// Term is the terminal type ($TERM); "" is xterm.
	Term string
	Size WindowSize
	// Resize delivers later sizes (SIGWINCH); nil when the size is fixed.
	// Stream stops reading it when the session ends.
	Resize <-chan WindowSize
}

// Terminal is Stream with a remote pty: cmd, or a login shell when cmd is
// "". The caller puts the local terminal in raw mode. Unlike Interactive
// it forwards window size changes and maps signals like Stream.
func (c *Client) Terminal(ctx context.Context, cmd string, pty PTY, in io.Reader, out, errOut io.Writer) (int, error) {
	return c.runSession(ctx, cmd, &pty, in, out, errOut)
}

func (c *Client) runSession(ctx context.Context, cmd string, pty *PTY, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := c.newSession()
	if err != nil {
		return -1, fmt.Errorf("%s: new session: %w", c.Node, err)
	}
	defer s.Close()
	if pty != nil {
		term := pty.Term
		if term == "" {
			term = "xterm"
		}
		modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 14400, ssh.TTY_OP_OSPEED: 14400}
		if err := s.RequestPty(term, pty.Size.Rows, pty.Size.Cols, modes); err != nil {
			return -1, fmt.Errorf("%s: pty: %w", c.Node, err)
		}
	}
	s.Stdin, s.Stdout, s.Stderr = stdin, stdout, stderr
	what := firstWord(cmd)
	if cmd == "" {
		what = "shell"
		err = s.Shell()
	} else {
		err = s.Start(WithToolPath(cmd))
	}
	if err != nil {
		return -1, fmt.Errorf("%s: start %q: %w", c.Node, what, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	var resize <-chan WindowSize
	if pty != nil {
		resize = pty.Resize
	}
	for {
		select {
		case err = <-done:
			return exitStatus(c.Node, what, err)
		case ws, ok := <-resize:
			if !ok {
				resize = nil
				continue
			}
			// A failed resize only leaves the old size; not worth ending
			// the session over.
			_ = s.WindowChange(ws.Rows, ws.Cols)
		case <-ctx.Done():
			_ = s.Signal(ssh.SIGKILL) // OpenSSH ignores this; closing the channel does the work
			_ = s.Close()
			return -1, fmt.Errorf("%s: %s: %w", c.Node, what, context.Cause(ctx))
		}
	}
}

func exitStatus(node, what string, err error) (int, error) {
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if sig := ee.Signal(); sig != "" {
			if n, ok := signalNumbers[sig]; ok {
				return 128 + n, nil
			}
			return ExitStatusUnknown, nil
		}
		return ee.ExitStatus(), nil
	case errors.As(err, &missing):
		return ExitStatusUnknown, nil
	}
	return -1, fmt.Errorf("%s: %s: %w", node, what, err)
}
