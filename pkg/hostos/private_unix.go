//go:build !windows

package hostos

import "os"

// RestrictToOwner makes f readable by its owner only. On Unix the mode
// bits do it (0o600).
func RestrictToOwner(f *os.File) error { return f.Chmod(0o600) }
