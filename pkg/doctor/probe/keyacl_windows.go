//go:build windows

package probe

import (
	"errors"
	"io/fs"
	"os"

	"github.com/cododemo/cododemo/pkg/doctor"
	"github.com/cododemo/cododemo/pkg/hostos"
)

// keyACL reads the key's access list: on Windows that, not the mode, says
// who can read it.
func keyACL(path string) (doctor.KeyInfo, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return doctor.KeyInfo{}, nil
	} else if err != nil {
		return doctor.KeyInfo{}, err
	}
	owner, aces, noDACL, err := hostos.FileAccess(path)
	if err != nil {
		return doctor.KeyInfo{}, err
	}
	return doctor.KeyInfo{Present: true, ACL: true, Others: hostos.OthersWithAccess(owner, aces, noDACL)}, nil
}
