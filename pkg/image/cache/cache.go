// Package cache is cododemo's content-addressed download cache: every file
// lives under its sha256 and only ever enters by a verified rename, so a
// cache hit needs no network and no re-hashing.
//
// Layout under the cache dir:
//
//	blobs/sha256/<hex>         verified content, read-only
//	refs/<kind>/<key>.json     what a blob is (box, catalog, artifact, ...)
//	partial/<hex>              interrupted downloads, resumed by the next fetch;
//	                           never served, removed by prune
//	tmp/                       staging for verify-then-rename
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// EnvDir overrides the cache directory (tests, CI, a shared room cache).
const EnvDir = "CODODEMO_CACHE_DIR"

// DefaultDir returns $CODODEMO_CACHE_DIR, else the XDG cache dir
// (os.UserCacheDir: $XDG_CACHE_HOME or ~/.cache on Linux,
// ~/Library/Caches on macOS, %LocalAppData% on Windows) + /cododemo.
func DefaultDir(getenv func(string) string) (string, error) {
	if d := getenv(EnvDir); d != "" {
		return filepath.Abs(d)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache dir: %w (set %s)", err, EnvDir)
	}
	return filepath.Join(base, "cododemo"), nil
}

// Cache is one cache directory.
type Cache struct {
	Dir string
	// Now stamps refs; tests inject a fixed clock.
	Now func() time.Time
}

// Open returns the cache at dir; nothing is created until something is put.
func Open(dir string) *Cache { return &Cache{Dir: dir, Now: time.Now} }

// root opens the cache dir (creating it) as an os.Root: every write of the
// cache goes through it, so no name, and no symlink planted inside, can
// send a write outside the cache dir.
func (c *Cache) root() (*os.Root, error) {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	return os.OpenRoot(c.Dir)
}

// rel turns a path inside the cache dir into one relative to it.
func (c *Cache) rel(p string) (string, error) {
	r, err := filepath.Rel(c.Dir, p)
	if err != nil || !filepath.IsLocal(r) {
		return "", fmt.Errorf("cache: %s is not inside the cache %s", p, c.Dir)
	}
	return r, nil
}

// writeAtomic writes data to rel inside root through a temporary file and
// a rename: readers see the old file or the new one, never a mix.
func writeAtomic(root *os.Root, rel string, data []byte, perm os.FileMode) (err error) {
	if err := root.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(rel), fmt.Sprintf(".%s.tmp-%d-%d", filepath.Base(rel), os.Getpid(), rand.Uint64()))
	f, err := root.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = root.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return root.Rename(tmp, rel)
}

var hexSHA = regexp.MustCompile(`^[0-9a-f]{64}$`)
var hexSHA512 = regexp.MustCompile(`^[0-9a-f]{128}$`)

// ValidSHA256 says whether s is a lower-case hex sha256.
func ValidSHA256(s string) bool { return hexSHA.MatchString(s) }

func (c *Cache) blobDir() string { return filepath.Join(c.Dir, "blobs", "sha256") }

// BlobPath is where the blob with this sha256 lives (present or not).
func (c *Cache) BlobPath(sha string) string { return filepath.Join(c.blobDir(), sha) }

// PartialPath is where an interrupted download of sha is kept for resume.
func (c *Cache) PartialPath(sha string) string { return filepath.Join(c.Dir, "partial", sha) }

// Path returns the blob's path when the cache holds it. It trusts the
// cache: blobs only enter through Commit, after verification.
func (c *Cache) Path(sha string) (string, bool) {
	if !ValidSHA256(sha) {
		return "", false
	}
	p := c.BlobPath(sha)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p, true
	}
	return "", false
}

// TempDir returns the staging dir (same filesystem as the blobs, so rename
// is atomic).
func (c *Cache) TempDir() (string, error) {
	root, err := c.root()
	if err != nil {
		return "", err
	}
	defer root.Close()
	return filepath.Join(c.Dir, "tmp"), root.MkdirAll("tmp", 0o755)
}

// Commit moves a file inside the cache dir (its partial/ or tmp/) whose
// sha256 the caller has verified into the blobs. When a concurrent fetch
// committed the same blob first, the caller's copy is dropped.
func (c *Cache) Commit(verified, sha string) (string, error) {
	if !ValidSHA256(sha) {
		return "", fmt.Errorf("cache: %q is not a sha256", sha)
	}
	src, err := c.rel(verified)
	if err != nil {
		return "", err
	}
	root, err := c.root()
	if err != nil {
		return "", err
	}
	defer root.Close()
	if err := root.MkdirAll(filepath.Join("blobs", "sha256"), 0o755); err != nil {
		return "", err
	}
	dst := c.BlobPath(sha)
	if err := root.Chmod(src, 0o444); err != nil {
		return "", err
	}
	if err := root.Rename(src, filepath.Join("blobs", "sha256", sha)); err != nil {
		if p, ok := c.Path(sha); ok {
			_ = root.Remove(src)
			return p, nil
		}
		return "", fmt.Errorf("cache: %w", err)
	}
	return dst, nil
}

// MismatchError says a file's content is not what was pinned.
type MismatchError struct {
	What      string
	Want, Got string
	WantSize  int64
	GotSize   int64
	// Resumed is set when the download continued a partial file.
	Resumed bool
}

func (e *MismatchError) Error() string {
	if e.WantSize > 0 && e.GotSize != e.WantSize {
		return fmt.Sprintf("%s: size %d, want %d (truncated or wrong file)", e.What, e.GotSize, e.WantSize)
	}
	return fmt.Sprintf("%s: sha256 %s, want %s", e.What, e.Got, e.Want)
}

// HashFile returns a file's sha256 and size.
func HashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// PutBytes stores small verified-by-construction content (its hash is
// what names it) and returns its sha256.
func (c *Cache) PutBytes(data []byte) (string, error) {
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	if _, ok := c.Path(sha); ok {
		return sha, nil
	}
	dir, err := c.TempDir()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "put-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_, err = c.Commit(tmp, sha)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return sha, nil
}

// Ingest copies src into the cache, hashing on the way, and commits it only
// if it matches want (and size, when size > 0). On mismatch nothing is
// left behind.
func (c *Cache) Ingest(src, want string, size int64) (string, error) {
	if p, ok := c.Path(want); ok {
		return p, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	return c.IngestReader(in, src, want, size)
}

// IngestReader is Ingest from an open file (what names it in errors).
func (c *Cache) IngestReader(in io.Reader, what, want string, size int64) (string, error) {
	if p, ok := c.Path(want); ok {
		return p, nil
	}
	if !ValidSHA256(want) {
		return "", fmt.Errorf("cache: %q is not a sha256", want)
	}
	dir, err := c.TempDir()
	if err != nil {
		return "", err
	}
	out, err := os.CreateTemp(dir, "ingest-*")
	if err != nil {
		return "", err
	}
	tmp := out.Name()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != want || (size > 0 && n != size) {
		_ = os.Remove(tmp)
		return "", &MismatchError{What: what, Want: want, Got: got, WantSize: size, GotSize: n}
	}
	return c.Commit(tmp, want)
}

// Ref kinds.
const (
	KindBox       = "box"
	KindCatalog   = "catalog"
	KindArtifact  = "artifact"
	KindTemplates = "templates"
	// KindImage is a QEMU image a libvirt box is packed from; KindDigests
	// the release's signed DIGESTS file that pins its SHA512.
	KindImage   = "image"
	KindDigests = "digests"
)

// Ref records what a blob is, so list/prune/bundle can name it.
type Ref struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`               // flatcar-stable, fleet-v1.0.0-linux-amd64.tar.gz
	Version  string `json:"version,omitempty"`  // 4593.2.5
	Provider string `json:"provider,omitempty"` // virtualbox
	Channel  string `json:"channel,omitempty"`
	Arch     string `json:"arch,omitempty"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	Source   string `json:"source,omitempty"` // where it was fetched from
	// SigSHA256 names the blob holding the detached signature over this
	// blob (catalogs).
	SigSHA256 string `json:"sig_sha256,omitempty"`
	// SHA512 is an image's SHA512, as its signed DIGESTS file gives it.
	SHA512 string `json:"sha512,omitempty"`
	// From names the blob this one was made from (a libvirt box packed
	// from a QEMU image), so the same image is packed once.
	From  string    `json:"from,omitempty"`
	Added time.Time `json:"added"`
}

// Key identifies the ref within its kind.
func (r Ref) Key() string {
	var parts []string
	switch r.Kind {
	case KindBox:
		parts = []string{r.Name, r.Version, r.Provider}
	case KindCatalog:
		parts = []string{r.Channel, r.Arch, r.Version}
	case KindImage, KindDigests:
		parts = []string{r.Channel, r.Arch, r.Version, r.Name}
	case KindTemplates:
		parts = []string{r.SHA256}
	default:
		parts = []string{r.Name}
	}
	k := strings.Join(parts, "_")
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '-'
	}, k)
}

// Kinds is the closed set of ref kinds: a kind names a directory, so
// nothing else may ever become one.
var Kinds = []string{KindBox, KindCatalog, KindArtifact, KindTemplates, KindImage, KindDigests}

// Names, versions, providers, channels and arches are short words; a
// box name may hold an organisation ("flatcar/flatcar-stable").
var refWord = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)
var refName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._+-]{0,127})?$`)

// MaxSource bounds a ref's Source URL.
const MaxSource = 2048

// Validate checks r against what each field can be: a kind of the closed
// set, words for names, hex for hashes. A ref from a bundle is checked
// here before anything is written.
func (r Ref) Validate() error {
	if !slices.Contains(Kinds, r.Kind) {
		return fmt.Errorf("kind %s is not one of %s", clip(r.Kind), strings.Join(Kinds, ", "))
	}
	var need []string
	switch r.Kind {
	case KindBox:
		need = []string{"name", "version", "provider"}
	case KindCatalog:
		need = []string{"channel", "arch", "version", "sig_sha256"}
	case KindArtifact:
		need = []string{"name"}
	case KindImage:
		need = []string{"name", "channel", "arch", "version", "sha512"}
	case KindDigests:
		need = []string{"name", "channel", "arch", "version", "sig_sha256"}
	}
	fields := map[string]string{"name": r.Name, "version": r.Version, "provider": r.Provider, "channel": r.Channel,
		"arch": r.Arch, "sig_sha256": r.SigSHA256, "sha512": r.SHA512}
	for _, k := range need {
		if fields[k] == "" {
			return fmt.Errorf("%s ref without %s", r.Kind, k)
		}
	}
	for _, k := range []string{"version", "provider", "channel", "arch"} {
		if v := fields[k]; v != "" && !refWord.MatchString(v) {
			return fmt.Errorf("%s %s is not a word of letters, digits and ._+-", k, clip(v))
		}
	}
	if r.Name != "" && !refName.MatchString(r.Name) {
		return fmt.Errorf("name %s is not a word of letters, digits and ._+- (one / allowed)", clip(r.Name))
	}
	if !ValidSHA256(r.SHA256) {
		return fmt.Errorf("sha256 %s is not 64 lower-case hex digits", clip(r.SHA256))
	}
	if r.SigSHA256 != "" && !ValidSHA256(r.SigSHA256) {
		return fmt.Errorf("sig_sha256 %s is not 64 lower-case hex digits", clip(r.SigSHA256))
	}
	if r.From != "" && !ValidSHA256(r.From) {
		return fmt.Errorf("from %s is not 64 lower-case hex digits", clip(r.From))
	}
	if r.SHA512 != "" && !hexSHA512.MatchString(r.SHA512) {
		return fmt.Errorf("sha512 %s is not 128 lower-case hex digits", clip(r.SHA512))
	}
	if r.Size < 0 {
		return fmt.Errorf("size %d is negative", r.Size)
	}
	if len(r.Source) > MaxSource || strings.ContainsFunc(r.Source, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return fmt.Errorf("source %s is not a URL", clip(r.Source))
	}
	return nil
}

// clip quotes an untrusted value for a message, cut to a readable length.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q... (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// refRel is where r's record lives, relative to the cache dir. The kind is
// checked against the closed set and the key holds only [A-Za-z0-9._-],
// so the result is always refs/<kind>/<file> and never leaves refs/.
func refRel(r Ref) (string, error) {
	if !slices.Contains(Kinds, r.Kind) {
		return "", fmt.Errorf("cache: ref kind %s is not one of %s", clip(r.Kind), strings.Join(Kinds, ", "))
	}
	k := r.Key()
	if k == "" || strings.HasPrefix(k, ".") {
		return "", fmt.Errorf("cache: %s ref with an empty or hidden key %s", r.Kind, clip(k))
	}
	return filepath.Join("refs", r.Kind, k+".json"), nil
}

// PutRef records r; it must be valid and its blob in the cache already.
func (c *Cache) PutRef(r Ref) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("cache: ref: %w", err)
	}
	rel, err := refRel(r)
	if err != nil {
		return err
	}
	if _, ok := c.Path(r.SHA256); !ok {
		return fmt.Errorf("cache: ref %s/%s: blob %s missing", r.Kind, r.Key(), r.SHA256)
	}
	if r.Added.IsZero() {
		r.Added = c.Now().UTC()
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	root, err := c.root()
	if err != nil {
		return err
	}
	defer root.Close()
	return writeAtomic(root, rel, append(data, '\n'), 0o644)
}

// GetRef returns the ref with r's kind and key.
func (c *Cache) GetRef(r Ref) (Ref, bool) {
	rel, err := refRel(r)
	if err != nil {
		return Ref{}, false
	}
	data, err := os.ReadFile(filepath.Join(c.Dir, rel))
	if err != nil {
		return Ref{}, false
	}
	var out Ref
	if json.Unmarshal(data, &out) != nil {
		return Ref{}, false
	}
	if _, ok := c.Path(out.SHA256); !ok {
		return Ref{}, false
	}
	return out, true
}

// Refs lists refs of a kind ("" for all), sorted by kind and key.
func (c *Cache) Refs(kind string) ([]Ref, error) {
	root := filepath.Join(c.Dir, "refs")
	var out []Ref
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var r Ref
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("cache: %s: %w", p, err)
		}
		if kind == "" || r.Kind == kind {
			out = append(out, r)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Key() < out[j].Key()
	})
	return out, err
}

// RemoveRef forgets r (its blob goes at the next Prune).
func (c *Cache) RemoveRef(r Ref) error {
	rel, err := refRel(r)
	if err != nil {
		return err
	}
	err = os.Remove(filepath.Join(c.Dir, rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// PruneResult says what Prune removed (or would remove).
type PruneResult struct {
	Refs  []Ref
	Blobs []string
	Bytes int64
}

// Prune removes refs for which keep returns false, then every blob no
// remaining ref names, partial downloads and staging leftovers. With
// dryRun it only reports.
func (c *Cache) Prune(keep func(Ref) bool, dryRun bool) (PruneResult, error) {
	var res PruneResult
	refs, err := c.Refs("")
	if err != nil {
		return res, err
	}
	used := map[string]bool{}
	for _, r := range refs {
		if keep != nil && !keep(r) {
			res.Refs = append(res.Refs, r)
			if !dryRun {
				if err := c.RemoveRef(r); err != nil {
					return res, err
				}
			}
			continue
		}
		used[r.SHA256] = true
		if r.SigSHA256 != "" {
			used[r.SigSHA256] = true
		}
	}
	for _, dir := range []string{c.blobDir(), filepath.Join(c.Dir, "partial"), filepath.Join(c.Dir, "tmp")} {
		isBlobs := dir == c.blobDir()
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return res, err
		}
		for _, e := range entries {
			if isBlobs && used[e.Name()] {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if fi, err := e.Info(); err == nil {
				res.Bytes += fi.Size()
			}
			res.Blobs = append(res.Blobs, p)
			if !dryRun {
				if err := os.RemoveAll(p); err != nil {
					return res, err
				}
			}
		}
	}
	return res, nil
}
