//go:build unix

package firstboot

import (
	"os"
	"syscall"
)

// openNoBlock opens path for reading without blocking on a FIFO (whose
// open waits for a writer) and without following a final symlink.
func openNoBlock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
}
