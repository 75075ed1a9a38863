package labstate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/cododemo/cododemo/pkg/fsutil"
)

// Manifest records the hash of every file the last render wrote, relative
// to the state dir. A file whose bytes no longer match was edited by hand.
type Manifest struct {
	Files map[string]string `json:"files"` // path -> sha256 hex
}

// ReadManifest reads the manifest; a missing one is empty.
func (d Dir) ReadManifest() (Manifest, error) { return d.readManifest(ManifestFile) }

// WriteManifest writes the manifest atomically.
func (d Dir) WriteManifest(m Manifest) error { return d.writeManifest(ManifestFile, m) }

// Known lists, per state-dir relative path, every content (by hash)
// cododemo wrote there and so may replace without asking.
type Known map[string][]string

// Has says whether cododemo wrote content h at rel.
func (k Known) Has(rel, h string) bool { return slices.Contains(k[rel], h) }

// Add records content h at rel.
func (k Known) Add(rel, h string) {
	if h != "" && !k.Has(rel, h) {
		k[rel] = append(k[rel], h)
	}
}

// Known is what the manifest records.
func (m Manifest) Known() Known {
	k := Known{}
	for rel, h := range m.Files {
		k.Add(rel, h)
	}
	return k
}

// The journal lists what a render in progress may leave on disk (per file:
// the content it found there and its own), written before its first file
// and removed after the manifest. A render killed in between leaves it
// behind; the next one, knowing those bytes are cododemo's, completes the
// job instead of taking the mix of two renders on disk for hand edits.
type journal struct {
	Files Known `json:"files"`
}

// ReadJournal reads the journal of an interrupted render; none is empty.
func (d Dir) ReadJournal() (Known, error) {
	var j journal
	b, err := os.ReadFile(d.Join(JournalFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Known{}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%s: %w (an interrupted render's journal; remove it to start afresh)", d.Join(JournalFile), err)
	}
	if j.Files == nil {
		j.Files = Known{}
	}
	return j.Files, nil
}

// WriteJournal records the render about to be written.
func (d Dir) WriteJournal(k Known) error {
	b, err := json.MarshalIndent(journal{Files: k}, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(d.Join(JournalFile), append(b, '\n'), 0o600)
}

// RemoveJournal marks the render complete.
func (d Dir) RemoveJournal() error {
	if err := os.Remove(d.Join(JournalFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (d Dir) readManifest(name string) (Manifest, error) {
	m := Manifest{Files: map[string]string{}}
	b, err := os.ReadFile(d.Join(name))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w (remove it to start afresh)", d.Join(name), err)
	}
	if m.Files == nil {
		m.Files = map[string]string{}
	}
	return m, nil
}

func (d Dir) writeManifest(name string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(d.Join(name), append(b, '\n'), 0o600)
}

// Hash is the manifest's hash of data.
func Hash(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// EditedError names the files changed by hand since the last render.
type EditedError struct{ Files []string }

func (e *EditedError) Error() string {
	return fmt.Sprintf("refusing to overwrite hand-edited file(s) %v (changed since the last render); "+
		"keep your edit in a --templates override, or pass --force to overwrite", e.Files)
}

// CheckEdits compares the files about to be written with what is on disk.
// A file on disk whose bytes are neither the new content nor any that
// cododemo wrote (known: from the manifest, and the journal of an
// interrupted render) was edited by the user. Files no manifest recorded but that exist
// with other content count as edits too: never clobber.
func (d Dir) CheckEdits(next map[string][]byte, known Known) error {
	var edited []string
	for rel, data := range next {
		cur, err := os.ReadFile(d.Join(rel))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if h := Hash(cur); h != Hash(data) && !known.Has(rel, h) {
			edited = append(edited, filepath.Join(d.Path, rel))
		}
	}
	if len(edited) > 0 {
		sort.Strings(edited)
		return &EditedError{Files: edited}
	}
	return nil
}
