package probe

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"syscall"

	"github.com/cododemo/cododemo/pkg/doctor"
)

// Virtualization implements doctor.Probes: kern.hv_support is readable
// without admin rights and says whether Hypervisor.framework (and VT-x on
// Intel Macs) is usable.
func (h *Host) Virtualization(ctx context.Context) (doctor.Virt, error) {
	out, err := h.output(ctx, "sysctl", "-n", "kern.hv_support")
	if err != nil {
		return doctor.Virt{}, err
	}
	v := doctor.Virt{Known: true}
	if strings.TrimSpace(out) == "1" {
		v.CPUFlag = "hv_support"
	}
	return v, nil
}

// Memory implements doctor.Probes: hw.memsize for the total, vm_stat for
// what is free or reclaimable.
func (h *Host) Memory(ctx context.Context) (doctor.Memory, error) {
	var m doctor.Memory
	out, err := h.output(ctx, "sysctl", "-n", "hw.memsize")
	if err != nil {
		return m, err
	}
	if m.Total, err = strconv.ParseUint(strings.TrimSpace(out), 10, 64); err != nil {
		return m, err
	}
	out, err = h.output(ctx, "vm_stat")
	if err != nil {
		return m, err
	}
	m.Available, err = ParseVMStat(out)
	return m, err
}

// Routes implements doctor.Probes. macOS has no /proc; parsing
// `netstat -rn` is left out, so only interface addresses are compared.
func (h *Host) Routes(ctx context.Context) ([]doctor.Route, error) {
	return nil, errors.ErrUnsupported
}

// hostArch sees through Rosetta 2: an amd64 cododemo on Apple silicon has
// GOARCH amd64, but the hypervisor runs arm64 guests only, which is what
// the arch check must judge.
func hostArch(goarch string) string {
	if goarch == "amd64" {
		if v, err := syscall.SysctlUint32("hw.optional.arm64"); err == nil && v == 1 {
			return "arm64"
		}
	}
	return goarch
}
