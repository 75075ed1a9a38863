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
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/cododemo/cododemo/pkg/fsutil"
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

var hexSHA = regexp.MustCompile(`^[0-9a-f]{64}$`)

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
	d := filepath.Join(c.Dir, "tmp")
	return d, os.MkdirAll(d, 0o755)
}

// Commit moves a file whose sha256 the caller has verified into the cache.
func (c *Cache) Commit(verified, sha string) (string, error) {
	if !ValidSHA256(sha) {
		return "", fmt.Errorf("cache: %q is not a sha256", sha)
	}
	if err := os.MkdirAll(c.blobDir(), 0o755); err != nil {
		return "", err
	}
	dst := c.BlobPath(sha)
	if err := os.Chmod(verified, 0o444); err != nil {
		return "", err
	}
	if err := os.Rename(verified, dst); err != nil {
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
		return "", &MismatchError{What: src, Want: want, Got: got, WantSize: size, GotSize: n}
	}
	return c.Commit(tmp, want)
}

// Ref kinds.
const (
	KindBox       = "box"
	KindCatalog   = "catalog"
	KindArtifact  = "artifact"
	KindTemplates = "templates"
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
	SigSHA256 string    `json:"sig_sha256,omitempty"`
	Added     time.Time `json:"added"`
}

// Key identifies the ref within its kind.
func (r Ref) Key() string {
	var parts []string
	switch r.Kind {
	case KindBox:
		parts = []string{r.Name, r.Version, r.Provider}
	case KindCatalog:
		parts = []string{r.Channel, r.Arch, r.Version}
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

func (c *Cache) refPath(r Ref) string {
	return filepath.Join(c.Dir, "refs", r.Kind, r.Key()+".json")
}

// PutRef records r; its blob must be in the cache already.
func (c *Cache) PutRef(r Ref) error {
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
	return fsutil.WriteFileAtomic(c.refPath(r), append(data, '\n'), 0o644)
}

// GetRef returns the ref with r's kind and key.
func (c *Cache) GetRef(r Ref) (Ref, bool) {
	data, err := os.ReadFile(c.refPath(r))
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
	err := os.Remove(c.refPath(r))
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
