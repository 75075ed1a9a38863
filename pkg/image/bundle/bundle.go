// Package bundle packs everything a locked lab needs (box, signed catalog,
// artifacts, template source, lock) into a directory that works from a USB
// stick, and imports it back with no network: every byte is checked against
// the manifest's sha256s before anything touches the cache.
//
// A bundle is portable: the manifest uses relative slash paths, the tree
// holds only regular files and directories (no symlinks, no modes beyond
// 0644/0755), and blob names are hashes, so it imports on any OS.
package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/image/cache"
)

// ManifestFile is the manifest's name inside a bundle.
const ManifestFile = "manifest.json"

// Format is the manifest format version.
const Format = 1

// Manifest lists every file of the bundle with its sha256.
type Manifest struct {
	Format int `json:"format"`
	// Lock is the path of the lab's lock in the bundle.
	Lock  string      `json:"lock"`
	Files []File      `json:"files"`
	Refs  []cache.Ref `json:"refs"`
	// Templates is the template tree, when the lab has one.
	Templates *Templates `json:"templates,omitempty"`
	// Key is a refreshed copy of Flatcar's image-signing key (newer
	// subkeys its primary certifies), when the packing cache had one: a
	// catalog signed after a rotation then verifies on a laptop whose
	// cododemo predates it, with no network.
	Key string `json:"key,omitempty"`
}

// File is one file of the bundle.
type File struct {
	Path   string `json:"path"` // relative, slash-separated
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Templates locates the template tree and its TreeHash.
type Templates struct {
	Dir    string `json:"dir"`
	SHA256 string `json:"sha256"`
}

// PackOptions says what to pack.
type PackOptions struct {
	Lock *config.Lock
	// LockPath is the lock file to copy as is.
	LockPath string
	// TemplatesDir is a local template override directory ("" = none);
	// a remote source pinned in the lock is taken from the cache instead.
	TemplatesDir string
}

// Pack writes a bundle of lab's pinned content from svc's cache to dst,
// which must not exist or be empty. The manifest is written last: a
// bundle without one is incomplete and import says so.
func Pack(svc *image.Service, dst string, o PackOptions) (*Manifest, error) {
	l := o.Lock
	if !l.Resolved() {
		return nil, fmt.Errorf("bundle: the lab has no resolved %s; run `cododemo lock` first", config.LockFile)
	}
	if entries, err := os.ReadDir(dst); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("bundle: %s exists and is not empty", dst)
	}
	c := svc.Cache
	var refs []cache.Ref
	var missing []error
	need := func(r cache.Ref, what string) {
		got, ok := c.GetRef(r)
		if !ok {
			missing = append(missing, fmt.Errorf("%s is not in the cache %s", what, c.Dir))
			return
		}
		if r.SHA256 != "" && got.SHA256 != r.SHA256 {
			missing = append(missing, fmt.Errorf("%s: cache holds sha256 %s, lock pins %s", what, got.SHA256, r.SHA256))
			return
		}
		refs = append(refs, got)
	}
	box := l.OS.Box
	need(cache.Ref{Kind: cache.KindBox, Name: box.Name, Version: l.OS.Version, Provider: box.Provider, SHA256: box.SHA256},
		fmt.Sprintf("box %s %s (%s)", box.Name, l.OS.Version, box.Provider))
	need(cache.Ref{Kind: cache.KindCatalog, Channel: l.Channel, Arch: l.Arch, Version: l.OS.Version},
		fmt.Sprintf("signed catalog of flatcar %s %s %s", l.Channel, l.Arch, l.OS.Version))
	names := make([]string, 0, len(l.Artifacts))
	for n := range l.Artifacts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := l.Artifacts[n]
		need(cache.Ref{Kind: cache.KindArtifact, Name: path.Base(a.URL), SHA256: a.SHA256}, "artifact "+n)
	}
	var treeDir, treeSHA string
	switch {
	case l.Templates != nil:
		treeDir, treeSHA = svc.TemplatesDir(l.Templates.SHA256), l.Templates.SHA256
		if _, err := os.Stat(treeDir); err != nil {
			missing = append(missing, fmt.Errorf("templates %s (sha256 %s) are not in the cache", l.Templates.Source, treeSHA))
		}
	case o.TemplatesDir != "":
		treeDir = o.TemplatesDir
		var err error
		if treeSHA, err = image.TreeHash(treeDir); err != nil {
			missing = append(missing, err)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("bundle: %w; run `cododemo box fetch` first", errors.Join(missing...))
	}

	m := &Manifest{Format: Format, Lock: config.LockFile, Refs: refs}
	add := func(rel, src string) error {
		f, err := copyFile(filepath.Join(dst, filepath.FromSlash(rel)), src)
		if err != nil {
			return err
		}
		f.Path = rel
		m.Files = append(m.Files, f)
		return nil
	}
	seen := map[string]bool{}
	for _, r := range refs {
		for _, sha := range []string{r.SHA256, r.SigSHA256} {
			if sha == "" || seen[sha] {
				continue
			}
			seen[sha] = true
			p, ok := c.Path(sha)
			if !ok {
				return nil, fmt.Errorf("bundle: blob %s vanished from the cache", sha)
			}
			if err := add("blobs/"+sha, p); err != nil {
				return nil, err
			}
		}
	}
	if err := add(config.LockFile, o.LockPath); err != nil {
		return nil, err
	}
	if _, err := os.Stat(svc.RefreshedKeyPath()); err == nil {
		m.Key = image.RefreshedKeyFile
		if err := add(m.Key, svc.RefreshedKeyPath()); err != nil {
			return nil, err
		}
	}
	if treeDir != "" {
		m.Templates = &Templates{Dir: "templates", SHA256: treeSHA}
		err := filepath.WalkDir(treeDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				if d != nil && d.IsDir() && d.Name() == ".git" {
					return filepath.SkipDir
				}
				return err
			}
			if !d.Type().IsRegular() {
				return fmt.Errorf("bundle: templates: %s is not a regular file", p)
			}
			rel, err := filepath.Rel(treeDir, p)
			if err != nil {
				return err
			}
			return add("templates/"+filepath.ToSlash(rel), p)
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return m, fsutil.WriteFileAtomic(filepath.Join(dst, ManifestFile), append(data, '\n'), 0o644)
}

// copyFile copies src to dst (0644), returning its hash and size.
func copyFile(dst, src string) (File, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return File{}, err
	}
	in, err := os.Open(src)
	if err != nil {
		return File{}, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return File{}, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return File{}, fmt.Errorf("bundle: %s: %w", dst, err)
	}
	return File{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// safeRel rejects manifest paths that could escape the bundle or that
// only work on one OS.
func safeRel(p string) error {
	switch {
	case p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) || strings.Contains(p, ":"):
		return fmt.Errorf("path %q is not a relative slash path", p)
	case path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("path %q is not clean or leaves the bundle", p)
	}
	return nil
}

// Imported is what Import put into the cache.
type Imported struct {
	Manifest *Manifest
	// Lock is the bundle's lock, parsed; LockPath its file in the bundle.
	Lock     *config.Lock
	LockPath string
	Files    int
	Bytes    int64
}

// Import checks every file of the bundle at dir against its manifest,
// every catalog signature against svc's keyring and every pin against
// the signed catalog; only when all of it holds does it fill the cache.
// Its error names every missing or corrupt file.
func Import(svc *image.Service, dir string) (*Imported, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("bundle %s: no readable %s (incomplete bundle?): %w", dir, ManifestFile, err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("bundle %s: %s: %w", dir, ManifestFile, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("bundle %s: manifest format %d, this cododemo reads %d", dir, m.Format, Format)
	}
	var problems []error
	bad := func(format string, a ...any) { problems = append(problems, fmt.Errorf(format, a...)) }
	byPath := map[string]File{}
	bySHA := map[string]string{}
	var total int64
	for _, f := range m.Files {
		if err := safeRel(f.Path); err != nil {
			bad("%s: %v", f.Path, err)
			continue
		}
		byPath[f.Path] = f
		full := filepath.Join(dir, filepath.FromSlash(f.Path))
		fi, err := os.Lstat(full)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			bad("%s: missing", f.Path)
			continue
		case err != nil:
			bad("%s: %v", f.Path, err)
			continue
		case !fi.Mode().IsRegular():
			bad("%s: not a regular file (%s)", f.Path, fi.Mode().Type())
			continue
		}
		got, n, err := cache.HashFile(full)
		switch {
		case err != nil:
			bad("%s: %v", f.Path, err)
		case n != f.Size:
			bad("%s: corrupt: %d bytes, manifest says %d", f.Path, n, f.Size)
		case got != f.SHA256:
			bad("%s: corrupt: sha256 %s, manifest says %s", f.Path, got, f.SHA256)
		default:
			bySHA[f.SHA256] = full
			total += n
		}
	}
	lockFile, ok := byPath[m.Lock]
	var lock *config.Lock
	if !ok {
		bad("manifest names no lock file %q", m.Lock)
	} else if _, verified := bySHA[lockFile.SHA256]; verified {
		if lock, err = config.ReadLock(filepath.Join(dir, filepath.FromSlash(m.Lock))); err != nil {
			bad("%v", err)
		}
	}
	// A refreshed key first: the catalogs may need it. It adds only what
	// the trusted primary key certifies.
	keepKey := func() error { return nil }
	if m.Key != "" {
		if kf, ok := byPath[m.Key]; !ok {
			bad("manifest names no key file %q", m.Key)
		} else if p, verified := bySHA[kf.SHA256]; verified {
			data, err := os.ReadFile(p)
			if err == nil {
				keepKey, err = svc.TakeRefreshedKey(data, m.Key+" in the bundle")
			}
			if err != nil {
				bad("%s: %v", m.Key, err)
			}
		}
	}
	// Pins: the catalog's signature, the box in the signed catalog, the
	// artifacts in the lock.
	for _, r := range m.Refs {
		p, ok := bySHA[r.SHA256]
		if !ok {
			if _, listed := byPath["blobs/"+r.SHA256]; !listed {
				bad("%s %s: its blob %s is not in the bundle", r.Kind, r.Key(), r.SHA256)
			}
			continue
		}
		if r.Kind == cache.KindCatalog {
			sigPath, ok := bySHA[r.SigSHA256]
			if !ok {
				bad("catalog %s: signature blob %s missing or corrupt", r.Key(), r.SigSHA256)
				continue
			}
			cat, err1 := os.ReadFile(p)
			sig, err2 := os.ReadFile(sigPath)
			if err := errors.Join(err1, err2); err != nil {
				bad("catalog %s: %v", r.Key(), err)
				continue
			}
			if err := svc.Keyring.DetachedBytes(cat, sig); err != nil {
				bad("catalog %s: %v", r.Key(), err)
			}
		}
	}
	if lock != nil {
		if err := checkLockAgainstRefs(svc, lock, m.Refs, bySHA); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("bundle %s is not usable, the cache was not touched:\n  %w", dir, joinIndented(problems))
	}

	// Everything checked: fill the cache (Ingest hashes again while
	// copying, so a file changed since the check is still refused).
	c := svc.Cache
	for _, f := range m.Files {
		if !strings.HasPrefix(f.Path, "blobs/") {
			continue
		}
		if _, err := c.Ingest(bySHA[f.SHA256], f.SHA256, f.Size); err != nil {
			return nil, fmt.Errorf("bundle: %s: %w", f.Path, err)
		}
	}
	for _, r := range m.Refs {
		if err := c.PutRef(r); err != nil {
			return nil, err
		}
	}
	if m.Templates != nil && lock != nil && lock.Templates != nil {
		if err := importTree(svc, dir, m.Templates); err != nil {
			return nil, err
		}
	}
	if err := keepKey(); err != nil {
		return nil, err
	}
	return &Imported{Manifest: &m, Lock: lock, LockPath: filepath.Join(dir, filepath.FromSlash(m.Lock)), Files: len(m.Files), Bytes: total}, nil
}

func checkLockAgainstRefs(svc *image.Service, lock *config.Lock, refs []cache.Ref, bySHA map[string]string) error {
	var boxOK, catOK bool
	for _, r := range refs {
		switch r.Kind {
		case cache.KindBox:
			if r.SHA256 == lock.OS.Box.SHA256 && r.Version == lock.OS.Version {
				boxOK = true
			}
		case cache.KindCatalog:
			if r.Version != lock.OS.Version || r.Channel != lock.Channel || r.Arch != lock.Arch {
				continue
			}
			catOK = true
			cat, err := os.ReadFile(bySHA[r.SHA256])
			if err != nil {
				return err
			}
			if err := image.CatalogPins(cat, lock.OS.Version, lock.OS.Box.Provider, lock.OS.Box.SHA256); err != nil {
				return fmt.Errorf("catalog %s: %w", r.Key(), err)
			}
		}
	}
	var errs []error
	if !boxOK {
		errs = append(errs, fmt.Errorf("no box matching the lock (%s %s, sha256 %s)", lock.OS.Box.Name, lock.OS.Version, lock.OS.Box.SHA256))
	}
	if !catOK {
		errs = append(errs, fmt.Errorf("no signed catalog for flatcar %s %s %s", lock.Channel, lock.Arch, lock.OS.Version))
	}
	for n, a := range lock.Artifacts {
		if _, ok := bySHA[a.SHA256]; !ok {
			errs = append(errs, fmt.Errorf("artifact %s (sha256 %s) not in the bundle", n, a.SHA256))
		}
	}
	return errors.Join(errs...)
}

func importTree(svc *image.Service, dir string, t *Templates) error {
	final := svc.TemplatesDir(t.SHA256)
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	tmpRoot, err := svc.Cache.TempDir()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(tmpRoot, "tree-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(dir, filepath.FromSlash(t.Dir))
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		_, err = copyFile(filepath.Join(tmp, "t", rel), p)
		return err
	})
	if err != nil {
		return err
	}
	got, err := image.TreeHash(filepath.Join(tmp, "t"))
	if err != nil {
		return err
	}
	if got != t.SHA256 {
		return fmt.Errorf("bundle: templates hash %s, manifest says %s", got, t.SHA256)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	return os.Rename(filepath.Join(tmp, "t"), final)
}

type indented []error

func joinIndented(errs []error) error { return indented(errs) }

func (e indented) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "\n  ")
}

func (e indented) Unwrap() []error { return e }
