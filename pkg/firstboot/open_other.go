//go:build !unix

package firstboot

import (
	"fmt"
	"os"
)

// openNoBlock opens path for reading, refusing anything but a regular
// file before opening it (there are no FIFOs to hang on here).
func openNoBlock(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	return os.Open(path)
}
