//go:build unix

package probe

import (
	"os"
	"syscall"

	"github.com/cododemo/cododemo/pkg/doctor"
)

func statDisk(path string) (doctor.Disk, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return doctor.Disk{}, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	d := doctor.Disk{Path: path, Free: uint64(st.Bavail) * uint64(st.Bsize)}
	if fi, err := os.Stat(path); err == nil {
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			d.Device = uint64(s.Dev)
		}
	}
	return d, nil
}
