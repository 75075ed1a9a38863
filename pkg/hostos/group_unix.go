//go:build unix

package hostos

import (
	"os"
	"os/exec"
	"syscall"
)

type groupSys struct{}

func prepare(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

func (groupSys) started(*os.Process) error { return nil }

func (groupSys) interrupt(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGINT) }

func (groupSys) kill(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGKILL) }

func (groupSys) release() {}

// ProcessAlive says whether a process with this id exists (a zombie not
// yet reaped counts as alive).
func ProcessAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
