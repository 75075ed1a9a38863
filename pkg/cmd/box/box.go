// Package box implements `cododemo box fetch|list|prune`.
package box

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/image/cache"
	"github.com/cododemo/cododemo/pkg/image/download"
	"github.com/cododemo/cododemo/pkg/image/release"
	"github.com/cododemo/cododemo/pkg/image/vagrantbox"
	"github.com/cododemo/cododemo/pkg/netfail"
)

// NewCmdBox builds `cododemo box`.
func NewCmdBox(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "box",
		Short: "Fetch, list and prune verified Flatcar boxes and node artifacts",
		Long: `Boxes are resolved through the Flatcar release server (or --mirror),
their Vagrant catalog's GPG signature checked against the Flatcar
image-signing key built into cododemo, downloaded into the cache
(content-addressed by sha256; $CODODEMO_CACHE_DIR or the XDG cache dir)
and added to Vagrant under their real name and version.

Flatcar publishes no libvirt box: on libvirt, cododemo fetches the
release's QEMU image instead, checks its DIGESTS file's signature, the
image's own signature and its SHA512, and packs a vagrant-libvirt box
from it in the cache.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdFetch(f), NewCmdList(f), NewCmdPrune(f))
	return cmd
}

// FetchOptions are `box fetch`'s inputs.
type FetchOptions struct {
	Flags     cmdutil.ImageFlags
	Channel   string
	Version   string
	NoVagrant bool
}

// NewCmdFetch builds `cododemo box fetch`.
func NewCmdFetch(f *cmdutil.Factory) *cobra.Command {
	o := &FetchOptions{}
	cmd := &cobra.Command{
		Use:   "fetch",
		Short: "Resolve, download, verify and cache the lab's box, and add it to Vagrant",
		Long: `With a cododemo.lock, fetch gets exactly what it pins (box, artifacts,
template source) and resolves nothing. Without one, or with --channel or
--version, it resolves the lab's channel and version on the release server.`,
		Example: `  cododemo box fetch
  cododemo box fetch --channel beta --version current
  cododemo box fetch --version 4593.2.5 --mirror http://10.0.0.5:8080/flatcar
  cododemo box fetch --offline     # from the cache or an imported bundle only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Channel != "" {
				if err := image.CheckChannel(o.Channel); err != nil {
					return cmdutil.Usage(err)
				}
			}
			if o.Version != "" && o.Version != "current" && !release.IsExact(o.Version) {
				return cmdutil.Usage(fmt.Errorf("--version %q: want current or an exact release such as 4593.2.5", o.Version))
			}
			env, err := f.ImageSetup(cmd, o.Flags)
			if err != nil {
				return err
			}
			return runFetch(cmd.Context(), f, env, o)
		},
	}
	cmdutil.AddImageFlags(cmd, &o.Flags, true)
	cmd.Flags().StringVar(&o.Channel, "channel", "", "release channel: alpha, beta, stable, lts (default: the lab's)")
	cmd.Flags().StringVar(&o.Version, "version", "", "current or an exact release (default: the lab's, or the lock's)")
	cmd.Flags().BoolVar(&o.NoVagrant, "no-vagrant", false, "only fill the cache; do not run vagrant box add")
	return cmd
}

func runFetch(ctx context.Context, f *cmdutil.Factory, env *cmdutil.ImageEnv, o *FetchOptions) error {
	lab := env.Loaded.Lab
	lock := env.Lock
	if o.Channel != "" || o.Version != "" {
		if o.Channel != "" {
			lab.Channel = o.Channel
		}
		if o.Version != "" {
			lab.Version = o.Version
		}
		if lock.Resolved() && (lab.Channel != lock.Channel || (lab.Version != "current" && lab.Version != lock.OS.Version) || lab.Version == "current") {
			fmt.Fprintf(f.IO.ErrOut, "note: %s pins %s %s; fetching %s %s as asked\n", config.LockFile, lock.Channel, lock.OS.Version, lab.Channel, lab.Version)
			lock = nil
		}
	}
	svc := env.Service
	b, err := svc.EnsureBox(ctx, lab, lock)
	if err != nil {
		return netfail.Explain(err)
	}
	state := "downloaded"
	if b.Hit {
		state = "cached"
	}
	fmt.Fprintf(f.IO.Out, "box %s %s (%s) sha256:%s %s\n", b.Name, b.Version, b.Provider, b.SHA256, state)
	if b.PackedFrom != "" {
		fmt.Fprintf(f.IO.Out, "  packed from the QEMU image sha256:%s\n", b.PackedFrom)
	}
	if !o.NoVagrant {
		added, err := svc.AddToVagrant(ctx, b)
		if err != nil {
			return err
		}
		if added {
			fmt.Fprintf(f.IO.Out, "vagrant: added %s %s (%s)\n", b.Name, b.Version, b.Provider)
		} else {
			fmt.Fprintf(f.IO.Out, "vagrant: already has %s %s (%s)\n", b.Name, b.Version, b.Provider)
		}
	}
	if lock != nil {
		arts, err := svc.EnsureArtifacts(ctx, lock)
		for _, a := range arts {
			fmt.Fprintf(f.IO.Out, "artifact %s %s sha256:%s\n", a.Name, a.File, a.SHA256)
		}
		if err != nil {
			return err
		}
		if lock.Templates != nil {
			if _, _, err := svc.Templates(ctx, lock.Templates.Source, lock.Templates.SHA256); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "templates %s sha256:%s\n", lock.Templates.Source, lock.Templates.SHA256)
		}
	} else if pins, _ := image.LabArtifacts(lab); len(pins) > 0 {
		names := make([]string, len(pins))
		for i, p := range pins {
			names[i] = p.Name
		}
		fmt.Fprintf(f.IO.ErrOut, "note: no %s, so the node artifacts (%s) are not fetched; run `cododemo lock`\n", config.LockFile, strings.Join(names, ", "))
	}
	return nil
}

// ListOptions are `box list`'s inputs.
type ListOptions struct{ Output string }

// NewCmdList builds `cododemo box list`.
func NewCmdList(f *cmdutil.Factory) *cobra.Command {
	o := &ListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the boxes, catalogs and artifacts in the cache",
		Example: "  cododemo box list\n  cododemo box list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := cmdutil.CheckOutput(o.Output, cmdutil.OutputTable, cmdutil.OutputJSON)
			if err != nil {
				return err
			}
			dir, err := cache.DefaultDir(f.Getenv)
			if err != nil {
				return err
			}
			svc, err := image.New(image.Options{CacheDir: dir, Getenv: f.Getenv, Runner: f.Runner})
			if err != nil {
				return err
			}
			return runList(f.IO.Out, svc, out)
		},
	}
	cmdutil.AddOutputFlag(cmd, &o.Output, cmdutil.OutputTable, cmdutil.OutputJSON)
	return cmd
}

// Entry is one line of `box list -o json`.
type Entry struct {
	cache.Ref
	// InVagrant is set for boxes Vagrant already has.
	InVagrant *bool `json:"in_vagrant,omitempty"`
}

func runList(w io.Writer, svc *image.Service, out cmdutil.Output) error {
	refs, err := svc.Cache.Refs("")
	if err != nil {
		return err
	}
	entries := make([]Entry, 0, len(refs))
	for _, r := range refs {
		e := Entry{Ref: r}
		if r.Kind == cache.KindBox {
			has := svc.Vagrant.Has(boxOf(r))
			e.InVagrant = &has
		}
		entries = append(entries, e)
	}
	if out == cmdutil.OutputJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	if len(entries) == 0 {
		fmt.Fprintf(w, "the cache %s is empty\n", svc.Cache.Dir)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tVERSION\tPROVIDER\tSIZE\tSHA256\tVAGRANT")
	for _, e := range entries {
		v := ""
		if e.InVagrant != nil {
			v = map[bool]string{true: "yes", false: "no"}[*e.InVagrant]
		}
		name := e.Name
		if e.Kind == cache.KindCatalog || e.Kind == cache.KindImage || e.Kind == cache.KindDigests {
			name = fmt.Sprintf("%s (%s/%s)", e.Name, e.Channel, e.Arch)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Kind, name, e.Version, e.Provider, download.Human(e.Size), short(e.SHA256), v)
	}
	return tw.Flush()
}

// PruneOptions are `box prune`'s inputs.
type PruneOptions struct {
	All    bool
	DryRun bool
}

// NewCmdPrune builds `cododemo box prune`.
func NewCmdPrune(f *cmdutil.Factory) *cobra.Command {
	o := &PruneOptions{}
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove older boxes, unreferenced files and interrupted downloads from the cache",
		Long: `prune keeps what the lab's cododemo.lock pins and the newest version of
each box; it removes older box versions and their catalogs, files nothing
refers to, and interrupted downloads. --all keeps only the lock's pins.
Boxes already added to Vagrant stay there (see vagrant box prune).`,
		Example: "  cododemo box prune --dry-run\n  cododemo box prune --all",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			env, err := f.ImageSetup(cmd, cmdutil.ImageFlags{Offline: true})
			if err != nil {
				return err
			}
			return runPrune(f.IO.Out, env, o)
		},
	}
	cmd.Flags().BoolVar(&o.All, "all", false, "remove everything the lab's lock does not pin")
	cmd.Flags().BoolVar(&o.DryRun, "dry-run", false, "only say what would be removed")
	return cmd
}

func runPrune(w io.Writer, env *cmdutil.ImageEnv, o *PruneOptions) error {
	c := env.Service.Cache
	refs, err := c.Refs("")
	if err != nil {
		return err
	}
	pinned := map[string]bool{}
	if l := env.Lock; l != nil {
		pinned[l.OS.Box.SHA256] = true
		for _, a := range l.Artifacts {
			pinned[a.SHA256] = true
		}
	}
	newest := map[string]string{} // name/provider -> version
	for _, r := range refs {
		if r.Kind == cache.KindBox {
			k := r.Name + "/" + r.Provider
			if v, ok := newest[k]; !ok || release.Compare(r.Version, v) > 0 {
				newest[k] = r.Version
			}
		}
	}
	keep := func(r cache.Ref) bool {
		if pinned[r.SHA256] {
			return true
		}
		switch r.Kind {
		case cache.KindBox:
			if l := env.Lock; l != nil && l.OS.Image != nil && r.Name == l.OS.Box.Name && r.Version == l.OS.Version && r.Provider == l.OS.Box.Provider {
				return true // packed here from the lock's image: no sha256 in the lock
			}
			return !o.All && newest[r.Name+"/"+r.Provider] == r.Version
		case cache.KindCatalog, cache.KindImage, cache.KindDigests:
			if env.Lock != nil && r.Version == env.Lock.OS.Version && r.Channel == env.Lock.Channel && r.Arch == env.Lock.Arch {
				return true
			}
			return !o.All && slices.Contains(mapValues(newest), r.Version)
		}
		return !o.All
	}
	res, err := c.Prune(keep, o.DryRun)
	if err != nil {
		return err
	}
	verb := "removed"
	if o.DryRun {
		verb = "would remove"
	}
	for _, r := range res.Refs {
		fmt.Fprintf(w, "%s %s %s %s %s\n", verb, r.Kind, r.Name, r.Version, r.Provider)
	}
	fmt.Fprintf(w, "%s %d files, %s\n", verb, len(res.Blobs), download.Human(res.Bytes))
	return nil
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func boxOf(r cache.Ref) vagrantbox.Box {
	return vagrantbox.Box{Name: r.Name, Version: r.Version, Provider: r.Provider}
}

// short abbreviates a sha256 for tables.
func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
