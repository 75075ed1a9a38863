//go:build unix && !linux

package testnodes

import "syscall"

func setDeathSignal(*syscall.SysProcAttr) {}
