//go:build !windows

package sshcmd

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/cododemo/cododemo/pkg/sshx"
)

// watchResize turns SIGWINCH into sizes.
func watchResize(t *osTerminal) (<-chan sshx.WindowSize, func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	out := make(chan sshx.WindowSize, 1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-sig:
				ws, err := t.Size()
				if err != nil {
					continue
				}
				select {
				case out <- ws:
				case <-done:
					return
				}
			}
		}
	}()
	return out, func() {
		signal.Stop(sig)
		close(done)
	}
}
