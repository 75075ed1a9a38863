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
	"sort"

	"github.com/cododemo/cododemo/pkg/fsutil"
)

// Manifest records the hash of every file the last render wrote, relative
// to the state dir. A file whose bytes no longer match was edited by hand.
type Manifest struct {
	Files map[string]string `json:"files"` // path -> sha256 hex
}

// ReadManifest reads the manifest; a missing one is empty.
func (d Dir) ReadManifest() (Manifest, error) {
	m := Manifest{Files: map[string]string{}}
	b, err := os.ReadFile(d.Join(ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w (remove it to start afresh)", d.Join(ManifestFile), err)
	}
	if m.Files == nil {
		m.Files = map[string]string{}
	}
	return m, nil
}

// WriteManifest writes the manifest atomically.
func (d Dir) WriteManifest(m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(d.Join(ManifestFile), append(b, '\n'), 0o644)
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
// A file on disk differing from both the manifest's record and the new
// content was edited by the user. Files the manifest never recorded but
// that exist with other content count as edits too: never clobber.
func (d Dir) CheckEdits(m Manifest, next map[string][]byte) error {
	var edited []string
	for rel, data := range next {
		cur, err := os.ReadFile(d.Join(rel))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		h := Hash(cur)
		if h == Hash(data) || h == m.Files[rel] {
			continue
		}
		edited = append(edited, filepath.Join(d.Path, rel))
	}
	if len(edited) > 0 {
		sort.Strings(edited)
		return &EditedError{Files: edited}
	}
	return nil
}
