package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	getter "github.com/hashicorp/go-getter/v2"
)

// TreeHash is the content hash of a template tree: sha256 over sorted
// "path NUL size NUL sha256(content) LF" records of every regular file,
// paths relative and slash-separated. Modes, times and .git are left out so
// the same templates hash the same on every OS. Symlinks are refused: they
// would not survive a bundle made on another OS.
func TreeHash(dir string) (string, error) {
	type rec struct{ path, line string }
	var recs []rec
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !d.Type().IsRegular() {
			return fmt.Errorf("templates: %s is not a regular file (symlinks and devices are not portable)", rel)
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		recs = append(recs, rec{rel, fmt.Sprintf("%s\x00%d\x00%x\n", rel, n, h.Sum(nil))})
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].path < recs[j].path })
	h := sha256.New()
	for _, r := range recs {
		io.WriteString(h, r.line)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FetchTemplates fetches a go-getter template source (git::https://...,
// https://.../templates.tar.gz, file://...) into dst, which must not exist,
// and returns its TreeHash. When want is set and differs, dst is not
// created and the error says both hashes.
func FetchTemplates(ctx context.Context, src, dst, want string) (string, error) {
	if _, err := os.Stat(dst); err == nil {
		return "", fmt.Errorf("templates: %s already exists", dst)
	}
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, ".fetch-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	into := filepath.Join(tmp, "t")
	client := &getter.Client{
		// git (runs the git binary), http(s) archives and local files; no
		// S3/GCS/hg/smb.
		Getters:         []getter.Getter{&getter.GitGetter{}, &getter.HttpGetter{XTerraformGetDisabled: true}, &getter.FileGetter{}},
		DisableSymlinks: true,
	}
	if _, err := client.Get(ctx, &getter.Request{Src: src, Dst: into, GetMode: getter.ModeDir, Copy: true}); err != nil {
		return "", fmt.Errorf("templates %s: %w", src, err)
	}
	if fi, err := os.Lstat(into); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		// go-getter links local directories instead of copying them; the
		// cache must own its copy.
		src, err := filepath.EvalSymlinks(into)
		if err != nil {
			return "", err
		}
		into = filepath.Join(tmp, "copy")
		if err := copyRegularTree(src, into); err != nil {
			return "", fmt.Errorf("templates %s: %w", src, err)
		}
	}
	_ = os.RemoveAll(filepath.Join(into, ".git"))
	sha, err := TreeHash(into)
	if err != nil {
		return "", err
	}
	if want != "" && sha != want {
		return "", fmt.Errorf("templates %s: content hash %s, but %s pins %s", src, sha, "the lock", want)
	}
	if err := os.Rename(into, dst); err != nil {
		return "", err
	}
	return sha, nil
}

// TemplatesDir is where a fetched template tree with this hash is cached.
func (s *Service) TemplatesDir(sha string) string {
	return filepath.Join(s.Cache.Dir, "trees", sha)
}

// Templates returns a local directory holding the template source, from
// the cache when want (the lock's hash) is already there, else fetched and
// checked against want.
func (s *Service) Templates(ctx context.Context, src, want string) (string, string, error) {
	if want != "" {
		if fi, err := os.Stat(s.TemplatesDir(want)); err == nil && fi.IsDir() {
			return s.TemplatesDir(want), want, nil
		}
	}
	if s.Offline {
		return "", "", fmt.Errorf("offline: templates %s (sha256 %s) are not in the cache", src, want)
	}
	dir, err := s.Cache.TempDir()
	if err != nil {
		return "", "", err
	}
	tmp, err := os.MkdirTemp(dir, "templates-*")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	sha, err := FetchTemplates(ctx, src, filepath.Join(tmp, "t"), want)
	if err != nil {
		return "", "", err
	}
	final := s.TemplatesDir(sha)
	if _, err := os.Stat(final); err == nil {
		return final, sha, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", "", err
	}
	if err := os.Rename(filepath.Join(tmp, "t"), final); err != nil && !strings.Contains(err.Error(), "exists") {
		return "", "", err
	}
	return final, sha, nil
}

// copyRegularTree copies src's directories and regular files (not .git)
// to dst, refusing anything else.
func copyRegularTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir() && d.Name() == ".git":
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file (symlinks and devices are not portable)", filepath.ToSlash(rel))
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return err
	})
}
