// Package imagetar writes container images as `docker save`-format
// tarballs that `docker load` reads, with no Docker and no registry: per
// image one layer tar, its config JSON, and an entry in manifest.json
// naming the RepoTags. Several images share one tarball, as `docker save
// a b` makes.
//
// The output is reproducible: every tar entry has mtime 0, owner 0:0 and
// fixed modes, entries are written in sorted order, the config's created
// time is the epoch, so the same files give the same bytes and the kit can
// be pinned by sha256 like any other artifact.
package imagetar

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"
)

// File is one file of an image's single layer.
type File struct {
	// Path inside the image, absolute or relative to /; no "..".
	Path string
	// Mode is the permission bits (0755 for programs).
	Mode int64
	Data []byte
}

// Image is a FROM scratch image of one layer.
type Image struct {
	// Tags are the repo tags docker load gives it (cododemo/web:1).
	Tags []string
	// Arch is the GOARCH it runs on (amd64, arm64).
	Arch       string
	Entrypoint []string
	Cmd        []string
	Env        []string
	// ExposedPorts like "8080/tcp".
	ExposedPorts []string
	Files        []File
}

// epoch is every timestamp the tarball carries.
var epoch = time.Unix(0, 0).UTC()

type configFile struct {
	Architecture string         `json:"architecture"`
	OS           string         `json:"os"`
	Created      time.Time      `json:"created"`
	Config       containerConf  `json:"config"`
	RootFS       rootFS         `json:"rootfs"`
	History      []historyEntry `json:"history"`
}

type containerConf struct {
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type historyEntry struct {
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}

// ManifestEntry is one image in manifest.json.
type ManifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// Layer builds an image's layer tar: the files sorted by path, with the
// directories they need.
func Layer(files []File) ([]byte, error) {
	entries := map[string]*tar.Header{}
	data := map[string][]byte{}
	for _, f := range files {
		p, err := cleanPath(f.Path)
		if err != nil {
			return nil, err
		}
		if _, dup := entries[p]; dup {
			return nil, fmt.Errorf("layer: %s twice", f.Path)
		}
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if _, ok := entries[d+"/"]; !ok {
				entries[d+"/"] = header(d+"/", tar.TypeDir, 0o755, 0)
			}
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		entries[p] = header(p, tar.TypeReg, mode&0o7777, int64(len(f.Data)))
		data[p] = f.Data
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range sortedKeys(entries) {
		if err := tw.WriteHeader(entries[name]); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func cleanPath(p string) (string, error) {
	c := path.Clean("/" + p)
	if p == "" || c == "/" || strings.Contains(p, "..") {
		return "", fmt.Errorf("layer: bad file path %q", p)
	}
	return strings.TrimPrefix(c, "/"), nil
}

func header(name string, typ byte, mode, size int64) *tar.Header {
	return &tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: epoch, Format: tar.FormatUSTAR}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Write writes images as one docker-save tarball.
func Write(w io.Writer, images []Image) error {
	if len(images) == 0 {
		return errors.New("imagetar: no images")
	}
	blobs := map[string][]byte{}
	var manifest []ManifestEntry
	seenTag := map[string]bool{}
	for _, img := range images {
		if len(img.Tags) == 0 {
			return errors.New("imagetar: an image without a tag")
		}
		for _, t := range img.Tags {
			if seenTag[t] {
				return fmt.Errorf("imagetar: tag %s twice", t)
			}
			seenTag[t] = true
		}
		if img.Arch == "" {
			return fmt.Errorf("imagetar: %s: no architecture", img.Tags[0])
		}
		layer, err := Layer(img.Files)
		if err != nil {
			return fmt.Errorf("imagetar: %s: %w", img.Tags[0], err)
		}
		layerID := digest(layer)
		cfg := configFile{
			Architecture: img.Arch, OS: "linux", Created: epoch,
			Config: containerConf{Entrypoint: img.Entrypoint, Cmd: img.Cmd, Env: img.Env, WorkingDir: "/"},
			RootFS: rootFS{Type: "layers", DiffIDs: []string{"sha256:" + layerID}},
			History: []historyEntry{{Created: epoch, CreatedBy: "cododemo kit: " +
				strings.Join(append(slices.Clone(img.Entrypoint), img.Cmd...), " ")}},
		}
		if len(img.ExposedPorts) > 0 {
			cfg.Config.ExposedPorts = map[string]struct{}{}
			for _, p := range img.ExposedPorts {
				cfg.Config.ExposedPorts[p] = struct{}{}
			}
		}
		cj, err := json.Marshal(cfg)
		if err != nil {
			return err
		}
		cfgName := digest(cj) + ".json"
		layerName := layerID + "/layer.tar"
		blobs[cfgName] = cj
		blobs[layerName] = layer
		blobs[layerID+"/VERSION"] = []byte("1.0")
		manifest = append(manifest, ManifestEntry{Config: cfgName, RepoTags: img.Tags, Layers: []string{layerName}})
	}
	mj, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	blobs["manifest.json"] = mj
	dirs := map[string]bool{}
	for name := range blobs {
		if d, _, ok := strings.Cut(name, "/"); ok {
			dirs[d+"/"] = true
		}
	}
	all := map[string]bool{}
	for n := range blobs {
		all[n] = true
	}
	for d := range dirs {
		all[d] = true
	}
	tw := tar.NewWriter(w)
	for _, name := range sortedKeys(all) {
		if dirs[name] {
			if err := tw.WriteHeader(header(name, tar.TypeDir, 0o755, 0)); err != nil {
				return err
			}
			continue
		}
		b := blobs[name]
		if err := tw.WriteHeader(header(name, tar.TypeReg, 0o644, int64(len(b)))); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	return tw.Close()
}

// Loaded is an image read back from a tarball.
type Loaded struct {
	Tags   []string
	Arch   string
	Config []byte
	// Files maps each regular file of the layer (path without leading
	// slash) to its mode and contents.
	Files map[string]File
}

// Read reads a docker-save tarball written by Write (or docker save,
// for single-layer images), checking each config and layer against the
// digests that name them.
func Read(r io.Reader) ([]Loaded, error) {
	entries := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("imagetar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 1<<30))
		if err != nil {
			return nil, err
		}
		entries[h.Name] = b
	}
	mj, ok := entries["manifest.json"]
	if !ok {
		return nil, errors.New("imagetar: no manifest.json")
	}
	var manifest []ManifestEntry
	if err := json.Unmarshal(mj, &manifest); err != nil {
		return nil, fmt.Errorf("imagetar: manifest.json: %w", err)
	}
	var out []Loaded
	for _, m := range manifest {
		cj, ok := entries[m.Config]
		if !ok {
			return nil, fmt.Errorf("imagetar: %v: config %s missing", m.RepoTags, m.Config)
		}
		if digest(cj)+".json" != m.Config {
			return nil, fmt.Errorf("imagetar: %v: config does not match its digest", m.RepoTags)
		}
		var cfg configFile
		if err := json.Unmarshal(cj, &cfg); err != nil {
			return nil, fmt.Errorf("imagetar: %v: config: %w", m.RepoTags, err)
		}
		if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
			return nil, fmt.Errorf("imagetar: %v: %d layers, %d diff_ids", m.RepoTags, len(m.Layers), len(cfg.RootFS.DiffIDs))
		}
		l := Loaded{Tags: m.RepoTags, Arch: cfg.Architecture, Config: cj, Files: map[string]File{}}
		for i, name := range m.Layers {
			lb, ok := entries[name]
			if !ok {
				return nil, fmt.Errorf("imagetar: %v: layer %s missing", m.RepoTags, name)
			}
			if "sha256:"+digest(lb) != cfg.RootFS.DiffIDs[i] {
				return nil, fmt.Errorf("imagetar: %v: layer %s does not match its diff_id", m.RepoTags, name)
			}
			lr := tar.NewReader(bytes.NewReader(lb))
			for {
				h, err := lr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, fmt.Errorf("imagetar: %v: layer: %w", m.RepoTags, err)
				}
				if h.Typeflag != tar.TypeReg {
					continue
				}
				b, err := io.ReadAll(lr)
				if err != nil {
					return nil, err
				}
				l.Files[h.Name] = File{Path: h.Name, Mode: h.Mode, Data: b}
			}
		}
		out = append(out, l)
	}
	return out, nil
}
