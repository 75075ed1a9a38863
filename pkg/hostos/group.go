package hostos

import (
	"os/exec"
	"sync"
)

// Group ties a command to every process it starts, so that stopping the
// command stops the whole tree: vagrant starts ruby, ssh and provider
// tools, and a cancelled `up` must not leave them running. On Unix the
// tree is a process group; on Windows it is a job object.
type Group struct {
	cmd *exec.Cmd

	mu  sync.Mutex
	sys groupSys // the OS half: set up by Started
}

// NewGroup prepares cmd (not yet started) to run in a group of its own.
// Call Started right after cmd.Start.
func NewGroup(cmd *exec.Cmd) *Group {
	g := &Group{cmd: cmd}
	prepare(cmd)
	return g
}

// Started binds the group to the started process. On Windows a child
// started in the moment between Start and Started escapes the job; vagrant
// starts its ruby later than that.
func (g *Group) Started() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sys.started(g.cmd.Process)
}

// Interrupt asks the group to stop, the way Ctrl-C would: SIGINT to the
// process group on Unix. On Windows a console's Ctrl-C already reaches
// every process on the console, and there is no polite signal for a
// process tree, so Interrupt does nothing there and Kill follows after the
// grace period.
func (g *Group) Interrupt() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd.Process == nil {
		return nil
	}
	return g.sys.interrupt(g.cmd.Process)
}

// Kill stops every process of the group at once and releases what the
// group holds. It is safe to call more than once.
func (g *Group) Kill() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cmd.Process == nil {
		return nil
	}
	return g.sys.kill(g.cmd.Process)
}

// Release frees what the group holds without stopping anything (a
// command that ended well may leave a daemon it meant to start).
func (g *Group) Release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sys.release()
}
