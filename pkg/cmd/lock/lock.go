// Package lock implements `cododemo lock`.
package lock

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/netfail"
)

// Options are `lock`'s inputs.
type Options struct {
	Flags cmdutil.ImageFlags
}

// NewCmdLock builds `cododemo lock`.
func NewCmdLock(f *cmdutil.Factory) *cobra.Command {
	o := &Options{}
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Resolve everything the lab needs into cododemo.lock",
		Long: `lock resolves the lab's channel and version to an exact Flatcar release
(its Vagrant catalog signature checked), and pins the box's sha256 (on
libvirt: the file, URL and SHA512 of Flatcar's QEMU image, from its
signed DIGESTS file; the box is packed from it on each machine), the
node artifacts (fleet's and etcd's release tarballs, and the workshop
image kit with kit.enabled) and a remote template source by content hash
in cododemo.lock beside the config. etcd is pinned by cododemo's built-in
sha256 of the upstream tarball, or by etcd.release_sha256 when your mirror
serves a build of your own (lock warns when it does). The kit is pinned by
kit.sha256, or on first use from <mirror>/artifacts/cododemo-kit-<arch>.tar
(lock says so, and checks it is a kit for the lab's arch). Commit the lock: every attendee then gets
the same lab, and nothing is resolved again until you re-run lock.`,
		Example: `  cododemo lock
  cododemo lock --mirror http://10.0.0.5:8080/flatcar
  cododemo lock --offline     # from the cache or an imported bundle only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := f.ImageSetup(cmd, o.Flags)
			if err != nil {
				return err
			}
			return run(cmd.Context(), f, env)
		},
	}
	cmdutil.AddImageFlags(cmd, &o.Flags, true)
	return cmd
}

func run(ctx context.Context, f *cmdutil.Factory, env *cmdutil.ImageEnv) error {
	l, warnings, err := env.Service.Lock(ctx, env.Loaded.Lab, env.Lock)
	if err != nil {
		return netfail.Explain(err)
	}
	for _, w := range warnings {
		fmt.Fprintln(f.IO.ErrOut, "warning:", w)
	}
	if old := env.Lock; old != nil && old.OS.Version != "" && old.OS.Version != l.OS.Version {
		fmt.Fprintf(f.IO.Out, "flatcar %s: %s -> %s\n", l.Channel, old.OS.Version, l.OS.Version)
	}
	if err := config.WriteLock(env.LockPath, l); err != nil {
		return err
	}
	if im := l.OS.Image; im != nil {
		fmt.Fprintf(f.IO.Out, "locked flatcar %s %s %s: box %s (%s) packed from %s sha512:%s\n", l.Channel, l.Arch, l.OS.Version,
			l.OS.Box.Name, l.OS.Box.Provider, im.File, im.SHA512)
	} else {
		fmt.Fprintf(f.IO.Out, "locked flatcar %s %s %s: box %s (%s) sha256:%s\n", l.Channel, l.Arch, l.OS.Version, l.OS.Box.Name, l.OS.Box.Provider, l.OS.Box.SHA256)
	}
	for _, n := range slices.Sorted(maps.Keys(l.Artifacts)) {
		fmt.Fprintf(f.IO.Out, "locked artifact %s sha256:%s\n", n, l.Artifacts[n].SHA256)
	}
	if l.Templates != nil {
		fmt.Fprintf(f.IO.Out, "locked templates %s sha256:%s\n", l.Templates.Source, l.Templates.SHA256)
	}
	fmt.Fprintf(f.IO.Out, "wrote %s\n", env.LockPath)
	return nil
}
