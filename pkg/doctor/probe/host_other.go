//go:build !linux && !darwin

package probe

import (
	"context"
	"errors"

	"github.com/cododemo/cododemo/pkg/doctor"
)

// Virtualization implements doctor.Probes. Elsewhere (Windows) the firmware
// setting cannot be read without admin rights: the check says so.
func (h *Host) Virtualization(ctx context.Context) (doctor.Virt, error) {
	return doctor.Virt{Known: false}, nil
}

// Memory implements doctor.Probes.
func (h *Host) Memory(ctx context.Context) (doctor.Memory, error) {
	return doctor.Memory{}, errors.ErrUnsupported
}

// Routes implements doctor.Probes.
func (h *Host) Routes(ctx context.Context) ([]doctor.Route, error) {
	return nil, errors.ErrUnsupported
}

func hostArch(goarch string) string { return goarch }
