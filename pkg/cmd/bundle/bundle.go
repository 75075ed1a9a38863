// Package bundle implements `cododemo bundle pack|import`.
package bundle

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/image"
	imgbundle "github.com/cododemo/cododemo/pkg/image/bundle"
	"github.com/cododemo/cododemo/pkg/image/download"
)

// NewCmdBundle builds `cododemo bundle`.
func NewCmdBundle(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Carry a locked lab offline: pack it to a directory, import it elsewhere",
		Long: `A bundle holds the lab's box, its signed Vagrant catalog, the node
artifacts, the template source and cododemo.lock, with a manifest of
sha256s. On libvirt it holds Flatcar's QEMU image and its signed DIGESTS
instead, and import packs the vagrant-libvirt box from them. Copy it to a USB stick; import verifies every byte before
filling the cache and adds the box to Vagrant, with no network.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdPack(f), NewCmdImport(f))
	return cmd
}

// PackOptions are `bundle pack`'s inputs.
type PackOptions struct {
	Dir   string
	Flags cmdutil.ImageFlags
}

// NewCmdPack builds `cododemo bundle pack DIR`.
func NewCmdPack(f *cmdutil.Factory) *cobra.Command {
	o := &PackOptions{}
	cmd := &cobra.Command{
		Use:     "pack DIR",
		Short:   "Write the locked lab's box, catalog, signatures, artifacts, templates and lock to DIR",
		Example: "  cododemo lock && cododemo box fetch && cododemo bundle pack /media/usb/lab-kit",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Dir = args[0]
			o.Flags.Offline = true // packing copies from the cache only
			env, err := f.ImageSetup(cmd, o.Flags)
			if err != nil {
				return err
			}
			return runPack(f, env, o)
		},
	}
	return cmd
}

func runPack(f *cmdutil.Factory, env *cmdutil.ImageEnv, o *PackOptions) error {
	if env.Lock == nil {
		return fmt.Errorf("bundle pack: no %s beside the config; run `cododemo lock` and `cododemo box fetch` first", config.LockFile)
	}
	dir := o.Dir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(f.WorkDir, dir)
	}
	tpl := ""
	if t := env.Loaded.TemplatesPath(); t != "" && !image.IsRemoteTemplates(t) {
		tpl = t
	}
	m, err := imgbundle.Pack(env.Service, dir, imgbundle.PackOptions{Lock: env.Lock, LockPath: env.LockPath, TemplatesDir: tpl})
	if err != nil {
		return err
	}
	var total int64
	for _, fl := range m.Files {
		total += fl.Size
	}
	fmt.Fprintf(f.IO.Out, "packed %d files (%s) into %s\n", len(m.Files), download.Human(total), dir)
	return nil
}

// ImportOptions are `bundle import`'s inputs.
type ImportOptions struct {
	Dir       string
	Flags     cmdutil.ImageFlags
	NoVagrant bool
}

// NewCmdImport builds `cododemo bundle import DIR`.
func NewCmdImport(f *cmdutil.Factory) *cobra.Command {
	o := &ImportOptions{}
	cmd := &cobra.Command{
		Use:   "import DIR",
		Short: "Verify a bundle, fill the cache from it and add its box to Vagrant, offline",
		Long: `import checks every file against the manifest, the catalog signature
against the Flatcar key and the box against the signed catalog; if
anything is missing or corrupt it names it and leaves the cache alone.
When the lab has no cododemo.lock yet, the bundle's is written beside the
config.`,
		Example: "  cododemo bundle import /media/usb/lab-kit",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Dir = args[0]
			o.Flags.Offline = true
			env, err := f.ImageSetup(cmd, o.Flags)
			if err != nil {
				return err
			}
			return runImport(cmd.Context(), f, env, o)
		},
	}
	cmd.Flags().StringVar(&o.Flags.Keyring, "keyring", "", "OpenPGP public keyring to verify with instead of the embedded Flatcar key")
	cmd.Flags().BoolVar(&o.NoVagrant, "no-vagrant", false, "only fill the cache; do not run vagrant box add")
	return cmd
}

func runImport(ctx context.Context, f *cmdutil.Factory, env *cmdutil.ImageEnv, o *ImportOptions) error {
	dir := o.Dir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(f.WorkDir, dir)
	}
	svc := env.Service
	imp, err := imgbundle.Import(svc, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "verified and imported %d files (%s) into %s\n", imp.Files, download.Human(imp.Bytes), svc.Cache.Dir)
	lock := imp.Lock
	switch {
	case env.Lock == nil:
		if err := fsutil.WriteFileAtomic(env.LockPath, imp.LockData, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(f.IO.Out, "wrote %s from the bundle\n", env.LockPath)
	case env.Lock.OS.Box.SHA256 != lock.OS.Box.SHA256 || imageSHA512(env.Lock) != imageSHA512(lock):
		fmt.Fprintf(f.IO.ErrOut, "warning: %s pins %s %s, the bundle %s; the lab keeps its lock\n",
			env.LockPath, env.Lock.OS.Box.Name, env.Lock.OS.Version, lock.OS.Version)
		return nil
	default:
		if cur, err := os.ReadFile(env.LockPath); err == nil {
			if !bytes.Equal(cur, imp.LockData) {
				fmt.Fprintf(f.IO.ErrOut, "note: %s differs from the bundle's but pins the same box\n", env.LockPath)
			}
		}
	}
	lab := env.Loaded.Lab
	if err := lock.Matches(lab); err != nil {
		fmt.Fprintf(f.IO.ErrOut, "warning: the bundle is for another lab: %v\n", err)
		lab.Distro, lab.Channel, lab.Arch, lab.Version = lock.Distro, lock.Channel, lock.Arch, lock.OS.Version
	}
	if p := lock.OS.Box.Provider; p != "" && p != lab.Provider {
		fmt.Fprintf(f.IO.ErrOut, "warning: the bundle's box is for %s, the lab runs on %s; adding the %s box\n", p, lab.Provider, p)
		lab.Provider = p
	}
	b, err := svc.EnsureBox(ctx, lab, lock)
	if err != nil {
		return err
	}
	if !o.NoVagrant {
		added, err := svc.AddToVagrant(ctx, b)
		if err != nil {
			return err
		}
		verb := "already has"
		if added {
			verb = "added"
		}
		fmt.Fprintf(f.IO.Out, "vagrant: %s %s %s (%s)\n", verb, b.Name, b.Version, b.Provider)
	}
	return nil
}

// imageSHA512 is the QEMU image a libvirt lock pins ("" for VirtualBox).
func imageSHA512(l *config.Lock) string {
	if l.OS.Image == nil {
		return ""
	}
	return l.OS.Image.SHA512
}
