//go:build windows

package sshcmd

import "github.com/cododemo/cododemo/pkg/sshx"

// watchResize: Windows consoles send no SIGWINCH; the size stays the
// one the session started with.
func watchResize(*osTerminal) (<-chan sshx.WindowSize, func()) {
	return nil, func() {}
}
