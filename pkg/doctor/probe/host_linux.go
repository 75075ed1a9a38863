package probe

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cododemo/cododemo/pkg/doctor"
)

// Virtualization implements doctor.Probes: the CPU flags say whether
// VT-x/AMD-V is on; opening /dev/kvm read-write says whether this user may
// use it (what QEMU does).
func (h *Host) Virtualization(ctx context.Context) (doctor.Virt, error) {
	cpuinfo, err := readFile(ctx, filepath.Join(h.ProcDir, "cpuinfo"))
	if err != nil {
		return doctor.Virt{}, err
	}
	v := doctor.Virt{Known: true, CPUFlag: ParseCPUFlags(cpuinfo)}
	f, err := os.OpenFile(h.KVMDevice, os.O_RDWR, 0)
	switch {
	case err == nil:
		v.KVM = true
		_ = f.Close()
	case errors.Is(err, fs.ErrNotExist):
	default:
		v.KVM, v.KVMErr = true, err
	}
	return v, nil
}

// Memory implements doctor.Probes.
func (h *Host) Memory(ctx context.Context) (doctor.Memory, error) {
	s, err := readFile(ctx, filepath.Join(h.ProcDir, "meminfo"))
	if err != nil {
		return doctor.Memory{}, err
	}
	return ParseMeminfo(s)
}

// Routes implements doctor.Probes.
func (h *Host) Routes(ctx context.Context) ([]doctor.Route, error) {
	s, err := readFile(ctx, filepath.Join(h.ProcDir, "net", "route"))
	if err != nil {
		return nil, err
	}
	return ParseRoutes(s)
}

// hostArch is GOARCH: an amd64 binary on an arm64 Linux host would need
// binfmt emulation, which no laptop sets up by accident.
func hostArch(goarch string) string { return goarch }
