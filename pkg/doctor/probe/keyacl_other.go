//go:build !windows

package probe

import (
	"errors"

	"github.com/cododemo/cododemo/pkg/doctor"
)

// keyACL: access lists are read on Windows only (a probe told GOOS
// windows elsewhere, in a test, cannot read one).
func keyACL(string) (doctor.KeyInfo, error) { return doctor.KeyInfo{}, errors.ErrUnsupported }
