//go:build unix

package testnodes

import (
	"os"
	"syscall"
)

// procAttr starts a stand-in in a process group of its own, so that
// killing it takes whatever it started along.
func procAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(a)
	return a
}

func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }

// stopGroup freezes the group (SIGSTOP): the kernel still accepts TCP
// connections but nothing answers.
func stopGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGSTOP) }
