//go:build !unix

package probe

import (
	"errors"

	"github.com/cododemo/cododemo/pkg/doctor"
)

// statDisk is not implemented off Unix; the disk check says it cannot
// measure rather than guess.
func statDisk(path string) (doctor.Disk, error) {
	return doctor.Disk{Path: path}, errors.ErrUnsupported
}
