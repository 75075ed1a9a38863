package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// A bundle is someone else's: nothing it says may write outside the cache
// or make import hold unbounded memory. Each case reproduces a hostile
// bundle that once imported with exit 0 or ran away.
func TestHostileBundlesWriteNothingOutside(t *testing.T) {
	k := packed(t)
	cases := []struct {
		name   string
		break_ func(t *testing.T, dir, outside string, m *Manifest)
		want   string
	}{
		{"ref kind climbs out of refs/", func(t *testing.T, dir, outside string, m *Manifest) {
			// refs/<kind>/<key>.json with this kind and key is
			// outside/victim/settings.json
			r := m.Refs[0]
			r.Kind, r.Name = "../../outside/victim", "settings"
			m.Refs = append(m.Refs, r)
		}, `kind "../../outside/victim" is not one of box, catalog, artifact, templates`},
		{"ref kind makes new directories", func(t *testing.T, dir, outside string, m *Manifest) {
			r := m.Refs[0]
			r.Kind = "box/../../../outside/new/dirs"
			m.Refs = append(m.Refs, r)
		}, "is not one of box"},
		{"ref the lock does not vouch for", func(t *testing.T, dir, outside string, m *Manifest) {
			r := m.Refs[0]
			r.Version = "9999.0.0"
			m.Refs = append(m.Refs, r)
		}, "not the lock's box"},
		{"blobs/ is a symlink out of the bundle", func(t *testing.T, dir, outside string, m *Manifest) {
			if err := os.Rename(filepath.Join(dir, "blobs"), filepath.Join(outside, "blobs")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(outside, "blobs"), filepath.Join(dir, "blobs")); err != nil {
				t.Fatal(err)
			}
		}, "blobs is a symlink, not a directory"},
		{"templates.dir out of the bundle", func(t *testing.T, dir, outside string, m *Manifest) {
			copyTree(t, filepath.Join(dir, "templates"), filepath.Join(outside, "templates"))
			m.Templates.Dir = "../outside/templates"
		}, `templates.dir "../outside/templates": a bundle's templates are in "templates"`},
		{"file that is not a bundle's", func(t *testing.T, dir, outside string, m *Manifest) {
			m.Files = append(m.Files, File{Path: "refs/box/x.json", SHA256: m.Files[0].SHA256, Size: m.Files[0].Size})
		}, `"refs/box/x.json": not a file a bundle holds`},
		{"templates sha256 climbs out of trees/", func(t *testing.T, dir, outside string, m *Manifest) {
			m.Templates.SHA256 = "../../outside/tree"
		}, "templates.sha256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir, outside, cacheDir := filepath.Join(parent, "kit"), filepath.Join(parent, "outside"), filepath.Join(parent, "cache")
			copyTree(t, k.bundle, dir)
			for _, d := range []string{filepath.Join(outside, "victim"), cacheDir} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(outside, "victim", "settings.json"), []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
			m := readTestManifest(t, dir)
			tc.break_(t, dir, outside, m)
			writeManifest(t, dir, m)
			before := snapshot(t, parent, "cache")
			_, err := Import(k.service(t, cacheDir, true), dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if after := snapshot(t, parent, "cache"); after != before {
				t.Errorf("import changed files outside the cache:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if files := cacheFiles(t, cacheDir); len(files) != 0 {
				t.Errorf("cache touched: %v", files)
			}
		})
	}
}

// A 166 MiB manifest once took 906 MiB of memory and produced a 45 MB
// error: the manifest is bounded before it is decoded, and an error lists
// a bounded number of short lines.
func TestManifestAndErrorAreBounded(t *testing.T) {
	k := packed(t)
	dir := filepath.Join(t.TempDir(), "kit")
	copyTree(t, k.bundle, dir)
	svc := k.service(t, t.TempDir(), true)

	big := `{"format":1,"files":[` + strings.Repeat(`{"path":"x","sha256":"y","size":1},`, MaxManifest/30) + `{}]}`
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Import(svc, dir)
	if err == nil || !strings.Contains(err.Error(), "more than a manifest can be") || len(err.Error()) > 1000 {
		t.Fatalf("big manifest: %.2000v", err)
	}

	m := readTestManifest(t, k.bundle)
	long := strings.Repeat("../a", 120)
	for i := range 5000 {
		m.Files = append(m.Files, File{Path: fmt.Sprintf("%s/%d", long, i), SHA256: "zz", Size: 1})
	}
	writeManifest(t, dir, m)
	_, err = Import(svc, dir)
	if err == nil || !strings.Contains(err.Error(), "... and 4980 more") || len(err.Error()) > maxProblems*500 {
		t.Fatalf("many problems: %d bytes: %.3000v", len(fmt.Sprint(err)), err)
	}
}

// FuzzImportManifest imports generated manifests over a real bundle into a
// real cache in a temp dir, next to a sibling tree and a symlink that
// points at it: whatever the manifest says, nothing outside the cache
// changes (the bundle included), and a refusal is an error, not a panic.
func FuzzImportManifest(f *testing.F) {
	k := packed(f)
	valid, err := os.ReadFile(filepath.Join(k.bundle, ManifestFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	var m Manifest
	if err := json.Unmarshal(valid, &m); err != nil {
		f.Fatal(err)
	}
	for _, kind := range []string{"../../sibling/victim", "box/../../../sibling/new", ".", ""} {
		evil := fmt.Sprintf(`"refs": [{"kind": %q, "name": "settings", "sha256": %q},`, kind, m.Refs[0].SHA256)
		f.Add([]byte(strings.Replace(string(valid), `"refs": [`, evil, 1)))
	}
	f.Add([]byte(strings.Replace(string(valid), `"dir": "templates"`, `"dir": "../sibling"`, 1)))
	f.Add([]byte(strings.Replace(string(valid), `"path": "cododemo.lock"`, `"path": "link/victim/settings.json"`, 1)))
	f.Add([]byte(strings.Replace(string(valid), `"path": "blobs/`, `"path": "link/`, 1)))
	f.Add([]byte(`{"format":1,"lock":"cododemo.lock","refs":[{"kind":"../../sibling","name":"x","sha256":"` + strings.Repeat("0", 64) + `"}]}`))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		parent := t.TempDir()
		dir, sibling, cacheDir := filepath.Join(parent, "kit"), filepath.Join(parent, "sibling"), filepath.Join(parent, "cache")
		copyTree(t, k.bundle, dir)
		copyTree(t, filepath.Join(k.bundle, "templates"), filepath.Join(sibling, "templates"))
		if err := os.MkdirAll(filepath.Join(sibling, "victim"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sibling, "victim", "settings.json"), []byte("mine"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(sibling, filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ManifestFile), manifest, 0o644); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, parent, "cache")
		imp, err := Import(k.service(t, cacheDir, true), dir)
		if after := snapshot(t, parent, "cache"); after != before {
			t.Fatalf("import (err %v) changed files outside the cache:\nbefore:\n%s\nafter:\n%s", err, before, after)
		}
		if err == nil && imp.Lock == nil {
			t.Fatal("imported without a lock")
		}
		if err != nil && len(err.Error()) > maxProblems*500+1000 {
			t.Fatalf("error of %d bytes", len(err.Error()))
		}
	})
}

func readTestManifest(t *testing.T, dir string) *Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// snapshot lists every entry under dir except skip (path, type, mode,
// size, content hash or link target), one a line.
func snapshot(t *testing.T, dir, skip string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(dir, p)
		if r == skip {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v %d", filepath.ToSlash(r), fi.Mode(), fi.Size())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			line += " " + hex.EncodeToString(h.Sum(nil))
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
