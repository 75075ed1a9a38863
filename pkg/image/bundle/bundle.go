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
	"crypto/sha512"
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
	"github.com/cododemo/cododemo/pkg/image/qemubox"
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
	if im := l.OS.Image; im != nil {
		// A libvirt lab carries the QEMU image and its signed DIGESTS,
		// not the box packed from it: the signature vouches for the
		// image, import checks it again, and packing is a local copy.
		what := fmt.Sprintf("QEMU image %s of flatcar %s %s %s", im.File, l.Channel, l.Arch, l.OS.Version)
		r := cache.Ref{Kind: cache.KindImage, Name: im.File, Channel: l.Channel, Arch: l.Arch, Version: l.OS.Version}
		if got, ok := c.GetRef(r); !ok {
			missing = append(missing, fmt.Errorf("%s is not in the cache %s", what, c.Dir))
		} else if got.SHA512 != im.SHA512 {
			missing = append(missing, fmt.Errorf("%s: cache holds SHA512 %s, lock pins %s", what, got.SHA512, im.SHA512))
		} else {
			refs = append(refs, got)
		}
		need(cache.Ref{Kind: cache.KindDigests, Name: im.File, Channel: l.Channel, Arch: l.Arch, Version: l.OS.Version},
			"signed DIGESTS of the "+what)
	} else {
		need(cache.Ref{Kind: cache.KindBox, Name: box.Name, Version: l.OS.Version, Provider: box.Provider, SHA256: box.SHA256},
			fmt.Sprintf("box %s %s (%s)", box.Name, l.OS.Version, box.Provider))
		need(cache.Ref{Kind: cache.KindCatalog, Channel: l.Channel, Arch: l.Arch, Version: l.OS.Version},
			fmt.Sprintf("signed catalog of flatcar %s %s %s", l.Channel, l.Arch, l.OS.Version))
	}
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
		return fmt.Errorf("path %s is not a relative slash path", clip(p))
	case path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("path %s is not clean or leaves the bundle", clip(p))
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("path %s holds control characters", clip(p))
	}
	return nil
}

// Bounds on what a bundle can make import hold: a real manifest is a few
// KiB (one entry per file), a lock or a key some KiB, a signed catalog
// less than download.MaxSmall.
const (
	MaxManifest   = 4 << 20
	maxSmallFile  = 4 << 20
	maxProblems   = 20
	templatesDir  = "templates"
	blobsDir      = "blobs/"
	maxPathLength = 512
)

// clip quotes an untrusted value for a message, cut to a readable length.
func clip(s string) string {
	const max = 120
	if len(s) > max {
		return fmt.Sprintf("%q... (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// checkManifest checks every name of m against the closed set of what a
// bundle holds (blobs/<sha256>, the lock, the refreshed key, templates/...)
// and every ref against what a ref can be, before any file is opened.
func checkManifest(m *Manifest) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if m.Lock != config.LockFile {
		bad("lock %s: a bundle's lock is %q", clip(m.Lock), config.LockFile)
	}
	if m.Key != "" && m.Key != image.RefreshedKeyFile {
		bad("key %s: a bundle's key is %q", clip(m.Key), image.RefreshedKeyFile)
	}
	if t := m.Templates; t != nil {
		if t.Dir != templatesDir {
			bad("templates.dir %s: a bundle's templates are in %q", clip(t.Dir), templatesDir)
		}
		if !cache.ValidSHA256(t.SHA256) {
			bad("templates.sha256 %s is not 64 lower-case hex digits", clip(t.SHA256))
		}
	}
	seen := map[string]bool{}
	for i, f := range m.Files {
		where := fmt.Sprintf("files[%d] %s", i, clip(f.Path))
		if len(f.Path) > maxPathLength {
			bad("%s: longer than %d bytes", where, maxPathLength)
			continue
		}
		if err := safeRel(f.Path); err != nil {
			bad("files[%d]: %v", i, err)
			continue
		}
		if seen[f.Path] {
			bad("%s: listed twice", where)
			continue
		}
		seen[f.Path] = true
		if !cache.ValidSHA256(f.SHA256) {
			bad("%s: sha256 %s is not 64 lower-case hex digits", where, clip(f.SHA256))
		}
		if f.Size < 0 {
			bad("%s: negative size %d", where, f.Size)
		}
		switch rest, isBlob := strings.CutPrefix(f.Path, blobsDir); {
		case isBlob:
			if rest != f.SHA256 {
				bad("%s: a blob is named by its sha256", where)
			}
		case f.Path == m.Lock, m.Key != "" && f.Path == m.Key:
			if f.Size > maxSmallFile {
				bad("%s: %d bytes, more than a lock or key can be (%d)", where, f.Size, maxSmallFile)
			}
		case m.Templates != nil && strings.HasPrefix(f.Path, templatesDir+"/"):
		default:
			bad("%s: not a file a bundle holds (blobs/<sha256>, %s, %s, %s/...)", where, config.LockFile, image.RefreshedKeyFile, templatesDir)
		}
	}
	for i, r := range m.Refs {
		if err := r.Validate(); err != nil {
			bad("refs[%d]: %v", i, err)
			continue
		}
		if r.Kind == cache.KindTemplates {
			bad("refs[%d]: a bundle carries box, catalog, image, DIGESTS and artifact refs, not %s", i, r.Kind)
		}
		if !seen[blobsDir+r.SHA256] {
			bad("refs[%d] %s %s: its blob %s is not listed", i, r.Kind, r.Key(), r.SHA256)
		}
		if (r.Kind == cache.KindCatalog || r.Kind == cache.KindDigests) && !seen[blobsDir+r.SigSHA256] {
			bad("refs[%d] catalog %s: its signature blob %s is not listed", i, r.Key(), r.SigSHA256)
		}
	}
	return errs
}

// openInBundle opens rel inside the bundle root for reading, refusing a
// symlink at any step of the path (a blobs/ that points elsewhere) and
// anything but a regular file (a FIFO would hang the read). os.Root keeps
// even a raced swap inside the bundle.
func openInBundle(root *os.Root, rel string) (*os.File, fs.FileInfo, error) {
	parts := strings.Split(rel, "/")
	for i := range parts {
		p := filepath.Join(parts[:i+1]...)
		fi, err := root.Lstat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil, errMissing
			}
			return nil, nil, err
		}
		last := i == len(parts)-1
		switch {
		case fi.Mode()&fs.ModeSymlink != 0 && last:
			return nil, nil, fmt.Errorf("a symlink, not a regular file (a bundle holds only files and directories)")
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil, nil, fmt.Errorf("%s is a symlink, not a directory (a bundle holds only files and directories)", strings.Join(parts[:i+1], "/"))
		case !last && !fi.IsDir():
			return nil, nil, fmt.Errorf("%s is not a directory", strings.Join(parts[:i+1], "/"))
		case last && !fi.Mode().IsRegular():
			return nil, nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
		}
	}
	f, err := root.Open(filepath.FromSlash(rel))
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("not a regular file")
	}
	return f, fi, nil
}

var errMissing = errors.New("missing")

// readVerified reads a small file of the bundle and checks it is still what
// the manifest says.
func readVerified(root *os.Root, f File) ([]byte, error) {
	if f.Size > maxSmallFile {
		return nil, fmt.Errorf("%d bytes, more than %d", f.Size, maxSmallFile)
	}
	in, _, err := openInBundle(root, f.Path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	data, err := io.ReadAll(io.LimitReader(in, f.Size+1))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if int64(len(data)) != f.Size || hex.EncodeToString(sum[:]) != f.SHA256 {
		return nil, fmt.Errorf("changed while importing")
	}
	return data, nil
}

// readManifest reads and decodes the manifest, bounded in size.
func readManifest(root *os.Root) (*Manifest, error) {
	in, fi, err := openInBundle(root, ManifestFile)
	if errors.Is(err, errMissing) {
		return nil, fmt.Errorf("no readable %s (incomplete bundle?)", ManifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	defer in.Close()
	if fi.Size() > MaxManifest {
		return nil, fmt.Errorf("%s: %d bytes, more than a manifest can be (%d)", ManifestFile, fi.Size(), MaxManifest)
	}
	data, err := io.ReadAll(io.LimitReader(in, MaxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	if len(data) > MaxManifest {
		return nil, fmt.Errorf("%s: more than a manifest can be (%d bytes)", ManifestFile, MaxManifest)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("%s: not JSON at byte %d: %v", ManifestFile, se.Offset, se)
		case errors.As(err, &te):
			return nil, fmt.Errorf("%s: %s at byte %d: want a %s", ManifestFile, te.Field, te.Offset, te.Type.Kind())
		}
		return nil, fmt.Errorf("%s: %v", ManifestFile, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("manifest format %d, this cododemo reads %d", m.Format, Format)
	}
	return &m, nil
}

// Imported is what Import put into the cache.
type Imported struct {
	Manifest *Manifest
	// Lock is the bundle's lock, parsed; LockData its verified bytes.
	Lock     *config.Lock
	LockData []byte
	Files    int
	Bytes    int64
}

// Import checks every name of the bundle at dir against the closed set of
// what a bundle holds, every file against its manifest, every catalog
// signature against svc's keyring and every ref against the lock; only
// when all of it holds does it fill the cache. Its error names every
// missing or corrupt file (the first maxProblems of them).
func Import(svc *image.Service, dir string) (*Imported, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: no readable %s (not a bundle directory?): %w", dir, ManifestFile, err)
	}
	defer root.Close()
	m, err := readManifest(root)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", dir, err)
	}
	refuse := func(problems []error) error {
		return fmt.Errorf("bundle %s is not usable, the cache was not touched:\n  %w", dir, joinIndented(problems))
	}
	if problems := checkManifest(m); len(problems) > 0 {
		return nil, refuse(problems)
	}
	var problems []error
	bad := func(format string, a ...any) { problems = append(problems, fmt.Errorf(format, a...)) }
	byPath := map[string]File{}
	verified := map[string]File{} // sha256 -> a file of the bundle holding it
	var total int64
	for _, f := range m.Files {
		byPath[f.Path] = f
		got, n, err := hashInBundle(root, f.Path)
		switch {
		case errors.Is(err, errMissing):
			bad("%s: missing", f.Path)
		case err != nil:
			bad("%s: %v", f.Path, err)
		case n != f.Size:
			bad("%s: corrupt: %d bytes, manifest says %d", f.Path, n, f.Size)
		case got != f.SHA256:
			bad("%s: corrupt: sha256 %s, manifest says %s", f.Path, got, f.SHA256)
		default:
			verified[f.SHA256] = f
			total += n
		}
	}
	var lock *config.Lock
	var lockData []byte
	lockFile, ok := byPath[m.Lock]
	if !ok {
		bad("manifest names no lock file %q", m.Lock)
	} else if _, ok := verified[lockFile.SHA256]; ok {
		if lockData, err = readVerified(root, lockFile); err != nil {
			bad("%s: %v", m.Lock, err)
		} else if lock, err = parseLock(svc.Cache, lockData); err != nil {
			bad("%s in the bundle: %v", m.Lock, err)
		} else if lock == nil || !lock.Resolved() {
			bad("%s in the bundle pins no box", m.Lock)
			lock = nil
		}
	}
	// A refreshed key first: the catalogs may need it. It adds only what
	// the trusted primary key certifies.
	keepKey := func() error { return nil }
	if m.Key != "" {
		if kf, ok := byPath[m.Key]; !ok {
			bad("manifest names no key file %q", m.Key)
		} else if _, ok := verified[kf.SHA256]; ok {
			data, err := readVerified(root, kf)
			if err == nil {
				keepKey, err = svc.TakeRefreshedKey(data, m.Key+" in the bundle")
			}
			if err != nil {
				bad("%s: %v", m.Key, err)
			}
		}
	}
	if lock != nil {
		problems = append(problems, checkRefs(svc, root, lock, m.Refs, verified)...)
	}
	if len(problems) > 0 {
		return nil, refuse(problems)
	}

	// Everything checked: fill the cache (it hashes again while copying,
	// so a file changed since the check is still refused).
	c := svc.Cache
	for _, f := range m.Files {
		if !strings.HasPrefix(f.Path, blobsDir) {
			continue
		}
		if err := ingest(c, root, f); err != nil {
			return nil, fmt.Errorf("bundle %s: %s: %w", dir, f.Path, err)
		}
	}
	for _, r := range m.Refs {
		if err := c.PutRef(r); err != nil {
			return nil, err
		}
	}
	if m.Templates != nil && lock.Templates != nil {
		if err := importTree(svc, root, m); err != nil {
			return nil, fmt.Errorf("bundle %s: %w", dir, err)
		}
	}
	if err := keepKey(); err != nil {
		return nil, err
	}
	return &Imported{Manifest: m, Lock: lock, LockData: lockData, Files: len(m.Files), Bytes: total}, nil
}

func hashInBundle(root *os.Root, rel string) (string, int64, error) {
	in, _, err := openInBundle(root, rel)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	h := sha256.New()
	n, err := io.Copy(h, in)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// sha512InBundle hashes a bundle file with SHA512 (a QEMU image, whose
// pin is a SHA512 from Flatcar's signed DIGESTS).
func sha512InBundle(root *os.Root, f File) (string, error) {
	in, _, err := openInBundle(root, f.Path)
	if err != nil {
		return "", err
	}
	defer in.Close()
	h := sha512.New()
	if _, err := io.Copy(h, in); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func ingest(c *cache.Cache, root *os.Root, f File) error {
	in, _, err := openInBundle(root, f.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	_, err = c.IngestReader(in, f.Path, f.SHA256, f.Size)
	return err
}

// parseLock parses the bundle's lock with config's own reader (strict
// fields, version check) from a private copy in the cache's staging dir.
func parseLock(c *cache.Cache, data []byte) (*config.Lock, error) {
	dir, err := c.TempDir()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(dir, "lock-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	p := filepath.Join(tmp, config.LockFile)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return nil, err
	}
	l, err := config.ReadLock(p)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), p, config.LockFile))
	}
	return l, nil
}

// checkRefs admits only refs the lock vouches for: its box, its signed
// catalog (whose signature and pin are checked here), its artifacts. A
// bundle cannot plant a ref for anything else in the cache.
func checkRefs(svc *image.Service, root *os.Root, lock *config.Lock, refs []cache.Ref, verified map[string]File) []error {
	var errs []error
	var boxOK, catOK, imageOK, digestsOK bool
	read := func(sha string) ([]byte, error) {
		f, ok := verified[sha]
		if !ok {
			return nil, fmt.Errorf("blob %s missing or corrupt", sha)
		}
		return readVerified(root, f)
	}
	for i, r := range refs {
		what := fmt.Sprintf("refs[%d] %s %s", i, r.Kind, r.Key())
		if _, ok := verified[r.SHA256]; !ok {
			errs = append(errs, fmt.Errorf("%s: its blob %s is missing or corrupt", what, r.SHA256))
			continue
		}
		switch r.Kind {
		case cache.KindBox:
			b := lock.OS.Box
			if r.Name != b.Name || r.Version != lock.OS.Version || r.Provider != b.Provider || r.SHA256 != b.SHA256 {
				errs = append(errs, fmt.Errorf("%s: not the lock's box (%s %s %s, sha256 %s)", what, b.Name, lock.OS.Version, b.Provider, b.SHA256))
				continue
			}
			boxOK = true
		case cache.KindCatalog:
			if r.Version != lock.OS.Version || r.Channel != lock.Channel || r.Arch != lock.Arch {
				errs = append(errs, fmt.Errorf("%s: not the lock's release (flatcar %s %s %s)", what, lock.Channel, lock.Arch, lock.OS.Version))
				continue
			}
			cat, err1 := read(r.SHA256)
			sig, err2 := read(r.SigSHA256)
			if err := errors.Join(err1, err2); err != nil {
				errs = append(errs, fmt.Errorf("catalog %s: %v", r.Key(), err))
				continue
			}
			if err := svc.Keyring.DetachedBytes(cat, sig); err != nil {
				errs = append(errs, fmt.Errorf("catalog %s: %v", r.Key(), err))
				continue
			}
			if err := image.CatalogPins(cat, lock.OS.Version, lock.OS.Box.Provider, lock.OS.Box.SHA256); err != nil {
				errs = append(errs, fmt.Errorf("catalog %s: %w", r.Key(), err))
				continue
			}
			catOK = true
		case cache.KindImage:
			im := lock.OS.Image
			if im == nil || r.Name != im.File || r.Version != lock.OS.Version || r.Channel != lock.Channel || r.Arch != lock.Arch || r.SHA512 != im.SHA512 {
				errs = append(errs, fmt.Errorf("%s: not the QEMU image the lock pins", what))
				continue
			}
			// The ref's SHA512 is the bundle's word; the bytes must say it.
			got, err := sha512InBundle(root, verified[r.SHA256])
			if err != nil || got != im.SHA512 {
				errs = append(errs, fmt.Errorf("%s: its blob's SHA512 is %s, the lock pins %s (%v)", what, got, im.SHA512, err))
				continue
			}
			imageOK = true
		case cache.KindDigests:
			im := lock.OS.Image
			if im == nil || r.Name != im.File || r.Version != lock.OS.Version || r.Channel != lock.Channel || r.Arch != lock.Arch {
				errs = append(errs, fmt.Errorf("%s: not the DIGESTS of the QEMU image the lock pins", what))
				continue
			}
			d, err1 := read(r.SHA256)
			sig, err2 := read(r.SigSHA256)
			if err := errors.Join(err1, err2); err != nil {
				errs = append(errs, fmt.Errorf("DIGESTS %s: %v", r.Key(), err))
				continue
			}
			if err := svc.Keyring.DetachedBytes(d, sig); err != nil {
				errs = append(errs, fmt.Errorf("DIGESTS %s: %v", r.Key(), err))
				continue
			}
			sum, err := qemubox.SHA512From(d, im.File)
			if err != nil || sum != im.SHA512 {
				errs = append(errs, fmt.Errorf("DIGESTS %s: pins SHA512 %s, the lock %s (%v)", r.Key(), sum, im.SHA512, err))
				continue
			}
			digestsOK = true
		case cache.KindArtifact:
			ok := false
			for _, a := range lock.Artifacts {
				ok = ok || (a.SHA256 == r.SHA256 && path.Base(a.URL) == r.Name)
			}
			if !ok {
				errs = append(errs, fmt.Errorf("%s: the lock pins no such artifact", what))
			}
		}
	}
	switch im := lock.OS.Image; {
	case im != nil:
		if !imageOK {
			errs = append(errs, fmt.Errorf("no QEMU image matching the lock (%s of flatcar %s %s, SHA512 %s)", im.File, lock.Channel, lock.OS.Version, im.SHA512))
		}
		if !digestsOK {
			errs = append(errs, fmt.Errorf("no signed DIGESTS for %s of flatcar %s %s %s", im.File, lock.Channel, lock.Arch, lock.OS.Version))
		}
	default:
		if !boxOK {
			errs = append(errs, fmt.Errorf("no box matching the lock (%s %s, sha256 %s)", lock.OS.Box.Name, lock.OS.Version, lock.OS.Box.SHA256))
		}
		if !catOK {
			errs = append(errs, fmt.Errorf("no signed catalog for flatcar %s %s %s", lock.Channel, lock.Arch, lock.OS.Version))
		}
	}
	names := make([]string, 0, len(lock.Artifacts))
	for n := range lock.Artifacts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if a := lock.Artifacts[n]; verified[a.SHA256].Path == "" {
			errs = append(errs, fmt.Errorf("artifact %s (sha256 %s) not in the bundle", n, a.SHA256))
		}
	}
	return errs
}

// importTree rebuilds the template tree from the manifest's templates/
// files (verified again while copying) in the cache's staging dir, checks
// its TreeHash and renames it into place.
func importTree(svc *image.Service, root *os.Root, m *Manifest) error {
	t := m.Templates
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
	if err := os.Mkdir(filepath.Join(tmp, "t"), 0o755); err != nil {
		return err
	}
	out, err := os.OpenRoot(filepath.Join(tmp, "t"))
	if err != nil {
		return err
	}
	defer out.Close()
	for _, f := range m.Files {
		rel, ok := strings.CutPrefix(f.Path, t.Dir+"/")
		if !ok {
			continue
		}
		if err := copyVerified(out, filepath.FromSlash(rel), root, f); err != nil {
			return fmt.Errorf("templates: %s: %w", f.Path, err)
		}
	}
	got, err := image.TreeHash(filepath.Join(tmp, "t"))
	if err != nil {
		return err
	}
	if got != t.SHA256 {
		return fmt.Errorf("templates hash %s, manifest says %s", got, t.SHA256)
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	return os.Rename(filepath.Join(tmp, "t"), final)
}

// copyVerified copies bundle file f to rel inside out, refusing it unless
// the bytes copied are the ones the manifest names.
func copyVerified(out *os.Root, rel string, root *os.Root, f File) error {
	in, _, err := openInBundle(root, f.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := out.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return err
	}
	w, err := out.OpenFile(rel, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(in, f.Size+1))
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("changed while importing")
	}
	return nil
}

type indented []error

func joinIndented(errs []error) error { return indented(errs) }

// Error lists the first maxProblems problems, each cut to a line's
// length: a hostile manifest cannot make the message big.
func (e indented) Error() string {
	const maxLine = 400
	var s []string
	for i, err := range e {
		if i == maxProblems {
			s = append(s, fmt.Sprintf("... and %d more", len(e)-maxProblems))
			break
		}
		msg := err.Error()
		if len(msg) > maxLine {
			msg = msg[:maxLine] + "..."
		}
		s = append(s, msg)
	}
	return strings.Join(s, "\n  ")
}

func (e indented) Unwrap() []error { return e }
