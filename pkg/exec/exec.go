// Package exec runs external commands (vagrant, VBoxManage, virsh, ...)
// behind a small Runner interface so that orchestration code can be tested
// against a fake and production code against the real binaries.
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	osexec "os/exec"
	"strings"
	"time"

	"github.com/cododemo/cododemo/pkg/hostos"
)

// Cmd describes one external command. Stdout and Stderr may be nil, in which
// case the output is captured for RunError only.
type Cmd struct {
	Name   string
	Args   []string
	Dir    string
	Env    []string // added to the parent's environment
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// String renders the command line the way a user would type it.
func (c Cmd) String() string {
	parts := append([]string{c.Name}, c.Args...)
	for i, p := range parts {
		if p == "" || strings.ContainsAny(p, " \t\"'$\\") {
			parts[i] = fmt.Sprintf("%q", p)
		}
	}
	return strings.Join(parts, " ")
}

// Runner runs commands. Implementations must honour ctx cancellation.
type Runner interface {
	Run(ctx context.Context, c Cmd) error
}

// RunError says which command failed, what it printed and why.
type RunError struct {
	Command string
	Output  string // the tail of combined output, for error messages
	Err     error
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Command, e.Err)
	if out := strings.TrimSpace(e.Output); out != "" {
		msg += "\n" + out
	}
	return msg
}

func (e *RunError) Unwrap() error { return e.Err }

// ExitCode returns the command's exit status, or -1 when it did not exit
// normally (not found, killed, cancelled).
func (e *RunError) ExitCode() int {
	var ee *osexec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// OS runs commands as real processes. Each command gets its own process
// group (a job object on Windows, see hostos.Group) so that cancelling the
// context stops the whole tree (vagrant spawns
// ruby, ssh and provider tools) instead of leaving orphans.
type OS struct {
	// KillGrace is how long a cancelled command gets after SIGINT before
	// SIGKILL. Vagrant cleans up its lock files on SIGINT.
	KillGrace time.Duration
}

// maxCaptured bounds the output kept for RunError.
const maxCaptured = 8 << 10

// Run implements Runner.
func (o OS) Run(ctx context.Context, c Cmd) error {
	cmd := osexec.CommandContext(ctx, c.Name, c.Args...)
	cmd.Dir = c.Dir
	if len(c.Env) > 0 {
		cmd.Env = append(cmd.Environ(), c.Env...)
	}
	cmd.Stdin = c.Stdin
	tail := NewTail(maxCaptured)
	cmd.Stdout = teeTo(c.Stdout, tail)
	cmd.Stderr = teeTo(c.Stderr, tail)
	group := hostos.NewGroup(cmd)
	// Signal the whole group, politely first.
	cmd.Cancel = group.Interrupt
	grace := o.KillGrace
	if grace == 0 {
		grace = 10 * time.Second
	}
	cmd.WaitDelay = grace
	err := cmd.Start()
	if err == nil {
		if gerr := group.Started(); gerr != nil {
			_ = group.Kill()
			_ = cmd.Wait()
			return &RunError{Command: c.String(), Err: gerr}
		}
		err = cmd.Wait()
	}
	if err != nil {
		// Make sure nothing of the group survives a failure.
		_ = group.Kill()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return &RunError{Command: c.String(), Output: tail.String(), Err: err}
	}
	group.Release()
	return nil
}

// Output runs c and returns its standard output; stderr is kept for errors.
func Output(ctx context.Context, r Runner, c Cmd) ([]byte, error) {
	var out bytes.Buffer
	c.Stdout = &out
	err := r.Run(ctx, c)
	return out.Bytes(), err
}

func teeTo(w io.Writer, tail io.Writer) io.Writer {
	if w == nil {
		return tail
	}
	return io.MultiWriter(w, tail)
}
