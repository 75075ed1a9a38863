//go:build linux

package testnodes

import "syscall"

// setDeathSignal kills the stand-in when the test binary dies, even by
// SIGKILL, so that no sshd or etcd outlives a crashed test. Only Linux has
// it; elsewhere Close is the only cleanup.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
