// Package vagrantbox hands a cached box to Vagrant through a local catalog
// (a metadata JSON with a file:// URL and the sha256), so Vagrant records
// the box under its real name and version instead of version 0, and checks
// the checksum itself once more.
package vagrantbox

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/image/release"
)

// Box is one box version for one provider.
type Box struct {
	Name     string
	Version  string
	Provider string
	Arch     string
	SHA256   string
	// Path is the box file (a cache blob).
	Path string
}

// FileURL turns an absolute path into a file:// URL (file:///C:/... on
// Windows).
func FileURL(p string) string {
	s := filepath.ToSlash(p)
	if !strings.HasPrefix(s, "/") {
		s = "/" + s
	}
	return "file://" + s
}

// CatalogJSON is the local catalog for b.
func CatalogJSON(b Box) ([]byte, error) {
	// The same JSON as the release server's catalog, with one version and
	// one provider: the cached box.
	c := release.Catalog{Name: b.Name, Versions: []release.CatalogVersion{{Version: b.Version, Providers: []release.CatalogProvider{{
		Name: b.Provider, URL: FileURL(b.Path), ChecksumType: "sha256", Checksum: b.SHA256, Architecture: b.Arch,
	}}}}}
	data, err := json.MarshalIndent(c, "", "  ")
	return append(data, '\n'), err
}

// WriteCatalog writes b's local catalog to path.
func WriteCatalog(path string, b Box) error {
	data, err := CatalogJSON(b)
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, data, 0o644)
}

// Vagrant runs the vagrant CLI.
type Vagrant struct {
	Runner exec.Runner
	// Getenv reads VAGRANT_HOME and HOME.
	Getenv func(string) string
	// Env is added to every vagrant call (VAGRANT_HOME in tests).
	Env []string
}

// quietEnv stops Vagrant phoning home on every call.
var quietEnv = []string{"VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE=1"}

func (v Vagrant) env(key string) string {
	for i := len(v.Env) - 1; i >= 0; i-- {
		if k, val, ok := strings.Cut(v.Env[i], "="); ok && k == key {
			return val
		}
	}
	if v.Getenv != nil {
		return v.Getenv(key)
	}
	return ""
}

// Home is Vagrant's data dir: $VAGRANT_HOME or ~/.vagrant.d.
func (v Vagrant) Home() string {
	if h := v.env("VAGRANT_HOME"); h != "" {
		return h
	}
	if h := v.env("HOME"); h != "" {
		return filepath.Join(h, ".vagrant.d")
	}
	h, _ := os.UserHomeDir()
	return filepath.Join(h, ".vagrant.d")
}

// Has says whether Vagrant already has the box. It reads Vagrant's box
// directory (boxes/<name>/<version>/<provider>, "/" in names spelt
// -VAGRANTSLASH-) instead of running `vagrant box list`: a cache hit must
// not pay Vagrant's 1-2 s of Ruby start-up.
func (v Vagrant) Has(b Box) bool {
	_, err := os.Stat(filepath.Join(v.Dir(b), "metadata.json"))
	return err == nil
}

// Dir is where Vagrant keeps the files of b once added.
func (v Vagrant) Dir(b Box) string {
	return filepath.Join(v.Home(), "boxes", strings.ReplaceAll(b.Name, "/", "-VAGRANTSLASH-"), b.Version, b.Provider)
}

// Remove removes b (that version, that provider) from Vagrant, even when
// a machine still uses it: the caller replaces it at once.
func (v Vagrant) Remove(ctx context.Context, b Box) error {
	c := exec.Cmd{
		Name: "vagrant",
		Args: []string{"box", "remove", "--force", "--provider", b.Provider, "--box-version", b.Version, b.Name},
		Env:  append(append([]string(nil), quietEnv...), v.Env...),
	}
	if err := v.Runner.Run(ctx, c); err != nil {
		return fmt.Errorf("vagrant box remove %s %s (%s): %w", b.Name, b.Version, b.Provider, err)
	}
	return nil
}

// Add adds the box from its local catalog.
func (v Vagrant) Add(ctx context.Context, catalogPath string, b Box) error {
	c := exec.Cmd{
		Name: "vagrant",
		Args: []string{"box", "add", "--provider", b.Provider, "--box-version", b.Version, catalogPath},
		Env:  append(append([]string(nil), quietEnv...), v.Env...),
	}
	if err := v.Runner.Run(ctx, c); err != nil {
		return fmt.Errorf("vagrant box add %s %s (%s): %w", b.Name, b.Version, b.Provider, err)
	}
	return nil
}
