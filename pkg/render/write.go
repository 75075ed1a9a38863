package render

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"sort"

	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/labstate"
)

// WriteReport says what Write did.
type WriteReport struct {
	Written   []string // state-dir relative paths whose content changed
	Unchanged []string
	Removed   []string // left over from a larger earlier render
	// Resumed is set when an earlier render was interrupted (killed,
	// crashed) and this one completed it.
	Resumed bool
}

// Write puts the rendered files into the state directory atomically. A
// file edited by hand since the last render stops the whole write (nothing
// is written) unless force is set.
//
// One writer at a time: Write holds the state dir's lock throughout, so
// two renders at once run one after the other. A render killed midway
// leaves its journal; the next one knows those files as cododemo's own,
// removes the killed one's temporary files and completes the job.
func Write(dir labstate.Dir, r *Result, force bool) (*WriteReport, error) {
	unlock, err := dir.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := checkBoxSideFiles(dir); err != nil {
		return nil, err
	}
	known, resumed, err := knownContents(dir)
	if err != nil {
		return nil, err
	}
	rep := &WriteReport{Resumed: resumed}
	next := make(map[string][]byte, len(r.Files))
	for _, f := range r.Files {
		next[f.Path] = f.Data
	}
	paths := slices.Sorted(maps.Keys(known))
	for rel := range next {
		if _, ok := known[rel]; !ok {
			paths = append(paths, rel)
		}
	}
	if err := dir.RemoveTemps(append(paths, labstate.ManifestFile, labstate.JournalFile)...); err != nil {
		return nil, err
	}
	if !force {
		if err := dir.CheckEdits(next, known); err != nil {
			return nil, err
		}
	}
	// The journal names what may be on disk while this render runs: for
	// every path, what is there now (cododemo's, or overwritten by force)
	// and what this render writes.
	onDisk := map[string]string{}
	journal := labstate.Known{}
	newManifest := labstate.Manifest{Files: map[string]string{}}
	for _, rel := range paths {
		if cur, err := os.ReadFile(dir.Join(rel)); err == nil {
			h := labstate.Hash(cur)
			onDisk[rel] = h
			if force || known.Has(rel, h) || labstate.Hash(next[rel]) == h {
				journal.Add(rel, h)
			}
		}
	}
	for _, f := range r.Files {
		h := labstate.Hash(f.Data)
		newManifest.Files[f.Path] = h
		journal.Add(f.Path, h)
	}
	if err := dir.WriteJournal(journal); err != nil {
		return nil, err
	}
	for _, f := range r.Files {
		if onDisk[f.Path] == newManifest.Files[f.Path] {
			if fi, err := os.Stat(dir.Join(f.Path)); err == nil && fi.Mode().Perm() == fs.FileMode(f.Mode) {
				rep.Unchanged = append(rep.Unchanged, f.Path)
				continue
			}
		}
		if err := fsutil.WriteFileAtomic(dir.Join(f.Path), f.Data, fs.FileMode(f.Mode)); err != nil {
			return rep, fmt.Errorf("write %s: %w", dir.Join(f.Path), err)
		}
		rep.Written = append(rep.Written, f.Path)
	}
	// Files of nodes that no longer exist: remove what we wrote, keep what
	// the user changed.
	for _, old := range paths {
		h, exists := onDisk[old]
		if _, still := next[old]; still || !exists {
			continue
		}
		if known.Has(old, h) || force {
			if err := os.Remove(dir.Join(old)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return rep, err
			}
			rep.Removed = append(rep.Removed, old)
		}
	}
	sort.Strings(rep.Removed)
	// The hypervisor writes each node's serial console here (the
	// Vagrantfile names the files); VirtualBox creates no directory.
	if err := os.MkdirAll(dir.Join(labstate.ConsoleDir), 0o700); err != nil {
		return rep, err
	}
	if err := dir.WriteManifest(newManifest); err != nil {
		return rep, err
	}
	return rep, dir.RemoveJournal()
}

// CheckWrite says whether Write would write r without force, writing
// nothing itself (render --check): the files edited by hand it would
// refuse to overwrite, the box-side files it would refuse to leave.
func CheckWrite(dir labstate.Dir, r *Result) error {
	if err := checkBoxSideFiles(dir); err != nil {
		return err
	}
	known, _, err := knownContents(dir)
	if err != nil {
		return err
	}
	next := make(map[string][]byte, len(r.Files))
	for _, f := range r.Files {
		next[f.Path] = f.Data
	}
	return dir.CheckEdits(next, known)
}

// knownContents is what cododemo wrote into dir: the last render's
// manifest and, when a render was interrupted, its journal (interrupted).
func knownContents(dir labstate.Dir) (known labstate.Known, interrupted bool, err error) {
	m, err := dir.ReadManifest()
	if err != nil {
		return nil, false, err
	}
	known = m.Known()
	j, err := dir.ReadJournal()
	if err != nil {
		return nil, false, err
	}
	for rel, hs := range j {
		for _, h := range hs {
			known.Add(rel, h)
		}
	}
	return known, len(j) > 0, nil
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
