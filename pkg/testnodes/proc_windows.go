//go:build windows

package testnodes

import (
	"os"
	"syscall"
)

// The stand-ins (OpenSSH's sshd, etcd) run on Linux and macOS test
// machines; on Windows the package only has to compile, so that the tests
// that use it compile too.
func procAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process) { _ = p.Kill() }

func stopGroup(*os.Process) {}
