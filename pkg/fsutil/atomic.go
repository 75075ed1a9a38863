// Package fsutil writes files so that a crash or a full disk never leaves a
// half-written one behind.
package fsutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cododemo/cododemo/pkg/hostos"
)

// WriteFileAtomic writes data to a temporary file in path's directory,
// syncs it and renames it over path: readers see the old file or the new
// one, never a mix.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if perm&0o077 == 0 {
		// A private file (a key, a token) is private before it holds
		// anything; on Windows that takes an access list, not a mode.
		if err = hostos.RestrictToOwner(f); err != nil {
			_ = f.Close()
			return err
		}
	}
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(perm); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// tempPattern names WriteFileAtomic's temporary files for path.
func tempPattern(path string) string { return tempPrefix(path) + "*" }

func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// RemoveTemps removes the temporary files WriteFileAtomic left for path
// when its process was killed before the rename. Only call it while no
// other process can be writing path (under the lock of its directory).
func RemoveTemps(path string) (removed []string, err error) {
	dir, prefix := filepath.Dir(path), tempPrefix(path)
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			return removed, err
		}
		removed = append(removed, p)
	}
	return removed, nil
}
