package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"

	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/labstate"
)

// WriteReport says what Write did.
type WriteReport struct {
	Written   []string // state-dir relative paths whose content changed
	Unchanged []string
	Removed   []string // left over from a larger earlier render
}

// Write puts the rendered files into the state directory atomically. A
// file edited by hand since the last render stops the whole write (nothing
// is written) unless force is set.
func Write(dir labstate.Dir, r *Result, force bool) (*WriteReport, error) {
	if err := checkBoxSideFiles(dir); err != nil {
		return nil, err
	}
	m, err := dir.ReadManifest()
	if err != nil {
		return nil, err
	}
	next := make(map[string][]byte, len(r.Files))
	for _, f := range r.Files {
		next[f.Path] = f.Data
	}
	if !force {
		if err := dir.CheckEdits(m, next); err != nil {
			return nil, err
		}
	}
	rep := &WriteReport{}
	newManifest := labstate.Manifest{Files: map[string]string{}}
	for _, f := range r.Files {
		h := labstate.Hash(f.Data)
		newManifest.Files[f.Path] = h
		if cur, err := os.ReadFile(dir.Join(f.Path)); err == nil && labstate.Hash(cur) == h {
			rep.Unchanged = append(rep.Unchanged, f.Path)
			continue
		}
		if err := fsutil.WriteFileAtomic(dir.Join(f.Path), f.Data, fs.FileMode(f.Mode)); err != nil {
			return rep, fmt.Errorf("write %s: %w", dir.Join(f.Path), err)
		}
		rep.Written = append(rep.Written, f.Path)
	}
	// Files of nodes that no longer exist: remove what we wrote, keep what
	// the user changed.
	for old, h := range m.Files {
		if _, still := next[old]; still {
			continue
		}
		cur, err := os.ReadFile(dir.Join(old))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil && (labstate.Hash(cur) == h || force) {
			if err := os.Remove(dir.Join(old)); err != nil {
				return rep, err
			}
			rep.Removed = append(rep.Removed, old)
		}
	}
	sort.Strings(rep.Removed)
	return rep, dir.WriteManifest(newManifest)
}

// BoxSideFiles are the files Flatcar's box Vagrantfile (4722 and later)
// picks up from Vagrant's working directory, the state dir, and hands to
// every node: "config.ign" as the Ignition guest property, "user-data"
// uploaded to /var/lib/flatcar-vagrant. cododemo renders neither (node files
// live under nodes/); one found there is someone else's.
var BoxSideFiles = []string{"config.ign", "user-data"}

func checkBoxSideFiles(dir labstate.Dir) error {
	for _, f := range BoxSideFiles {
		if _, err := os.Lstat(dir.Join(f)); err == nil {
			return fmt.Errorf("%s: Flatcar's box Vagrantfile would hand this file to every node, over the lab's own configuration; move it out of the state dir", dir.Join(f))
		}
	}
	return nil
}
