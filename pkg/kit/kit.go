// Package kit builds the workshop's offline image kit: the demo programs
// of this repository (kit/hello, kit/web, kit/lb) compiled static for one
// architecture and packed into one `docker load`-able tarball, so the
// exercises run in a room without internet and units never pull.
//
// Builds are reproducible: -trimpath, no build ID, no VCS stamp, and
// imagetar's fixed timestamps give the same sha256 for the same sources
// and Go toolchain, so the kit can be pinned like any other artifact.
package kit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/cododemo/cododemo/pkg/artifacts"
	"github.com/cododemo/cododemo/pkg/kit/imagetar"
)

// Tag is the tag every kit image carries.
const Tag = "1"

// Program is one demo program and the image it becomes.
type Program struct {
	Name string // image cododemo/<Name>:<Tag>, binary /<Name>
	// Package is the Go package path, relative to the module root.
	Package string
	Args    []string // the image's Cmd
	Ports   []string
}

// Image is the program's image reference.
func (p Program) Image() string { return "cododemo/" + p.Name + ":" + Tag }

// Programs are the kit's images.
var Programs = []Program{
	{Name: "hello", Package: "./kit/hello"},
	{Name: "web", Package: "./kit/web", Ports: []string{"8080/tcp"}},
	{Name: "lb", Package: "./kit/lb", Ports: []string{"80/tcp"}},
}

// Images lists the kit's image references, in Programs' order: what a
// node has once the kit is loaded.
func Images() []string {
	out := make([]string, len(Programs))
	for i, p := range Programs {
		out[i] = p.Image()
	}
	return out
}

// Arches are the architectures a kit is built for.
var Arches = []string{"amd64", "arm64"}

// FileName is the kit tarball's name for arch, as a mirror serves it
// under artifacts/.
func FileName(arch string) string { return artifacts.KitFile(arch) }

// Options say how to build.
type Options struct {
	// ModuleDir is the repository root (where go.mod is).
	ModuleDir string
	// Go is the go command (default "go").
	Go string
	// Programs to build (default Programs).
	Programs []Program
}

// BuildImages compiles every program static for linux/arch and returns
// the images, one file each.
func BuildImages(ctx context.Context, o Options, arch string) ([]imagetar.Image, error) {
	if o.Go == "" {
		o.Go = "go"
	}
	progs := o.Programs
	if progs == nil {
		progs = Programs
	}
	tmp, err := os.MkdirTemp("", "cododemo-kit-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var images []imagetar.Image
	for _, p := range progs {
		out := filepath.Join(tmp, p.Name+"-"+arch)
		cmd := exec.CommandContext(ctx, o.Go, "build", "-trimpath", "-buildvcs=false",
			"-ldflags=-s -w -buildid=", "-o", out, p.Package)
		cmd.Dir = o.ModuleDir
		// CGO off makes the binary static: a FROM scratch image has no libc.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build %s for %s: %v: %s", p.Package, arch, err, stderr.Bytes())
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			return nil, err
		}
		images = append(images, imagetar.Image{
			Tags: []string{p.Image()}, Arch: arch,
			Entrypoint: []string{"/" + p.Name}, Cmd: p.Args, ExposedPorts: p.Ports,
			Files: []imagetar.File{{Path: "/" + p.Name, Mode: 0o755, Data: bin}},
		})
	}
	return images, nil
}

// Built is one written kit tarball.
type Built struct {
	Arch   string
	Path   string
	Size   int64
	SHA256 string
}

// Build writes the kit for arch into dir.
func Build(ctx context.Context, o Options, arch, dir string) (Built, error) {
	images, err := BuildImages(ctx, o, arch)
	if err != nil {
		return Built{}, err
	}
	var buf bytes.Buffer
	if err := imagetar.Write(&buf, images); err != nil {
		return Built{}, err
	}
	path := filepath.Join(dir, FileName(arch))
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return Built{}, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return Built{Arch: arch, Path: path, Size: int64(buf.Len()), SHA256: hex.EncodeToString(sum[:])}, nil
}
