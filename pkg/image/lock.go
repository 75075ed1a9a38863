package image

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/cododemo/cododemo/pkg/artifacts"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/image/cache"
	"github.com/cododemo/cododemo/pkg/kit"
	"github.com/cododemo/cododemo/pkg/kit/imagetar"
)

// IsRemoteTemplates says whether a templates: value is a go-getter source
// rather than a local directory.
func IsRemoteTemplates(src string) bool {
	return strings.Contains(src, "::") || strings.Contains(src, "://")
}

// Lock resolves everything lab needs into a new lock. prev (may be nil)
// keeps trust-on-first-use pins stable: an artifact cododemo has no
// upstream hash for keeps the hash the previous lock recorded. A lab on a
// box of its own (box.name) resolves no OS release: its lock pins only the
// artifacts and templates.
func (s *Service) Lock(ctx context.Context, lab config.Lab, prev *config.Lock) (*config.Lock, []string, error) {
	return s.lock(ctx, lab, prev, false)
}

// Fill completes prev for lab without moving what it already pins: an OS
// release that still fits the lab (same distro, channel, arch, version
// and box provider) is kept, not resolved again, so a lock that lacks
// only an artifact (made before cododemo pinned etcd, say) does not carry
// the lab to a newer Flatcar behind the user's back; likewise a remote
// template source pinned for the same address. `up` fills; `cododemo
// lock` re-resolves.
func (s *Service) Fill(ctx context.Context, lab config.Lab, prev *config.Lock) (*config.Lock, []string, error) {
	return s.lock(ctx, lab, prev, true)
}

func (s *Service) lock(ctx context.Context, lab config.Lab, prev *config.Lock, keep bool) (*config.Lock, []string, error) {
	if lab.Distro != "flatcar" {
		return nil, nil, fmt.Errorf("distro %s: nothing to resolve (its release servers are gone); lock pins Flatcar labs", lab.Distro)
	}
	l := &config.Lock{
		Version: config.LockVersion,
		Distro:  lab.Distro,
		Channel: lab.Channel,
		Arch:    lab.Arch,
	}
	keepOS := keep && prev.Resolved() && prev.Matches(lab) == nil && prev.OS.Box.Provider == lab.Provider
	switch {
	case lab.Box.Name != "":
	case keepOS:
		l.OS = prev.OS
	default:
		rel, err := s.ResolveOS(ctx, lab.Channel, lab.Arch, lab.Version, lab.Provider)
		if err != nil {
			return nil, nil, err
		}
		if err := s.remember(rel); err != nil {
			return nil, nil, err
		}
		l.OS = config.OSRelease{Version: rel.Version, Box: rel.Box, Image: rel.Image}
	}
	pins, err := LabArtifacts(lab)
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	for _, pin := range pins {
		a, warn, err := s.lockArtifact(ctx, pin, prev)
		if err != nil {
			return nil, nil, err
		}
		if warn != "" {
			warnings = append(warnings, warn)
		}
		if l.Artifacts == nil {
			l.Artifacts = map[string]config.Artifact{}
		}
		l.Artifacts[pin.Name] = a
	}
	switch {
	case !IsRemoteTemplates(lab.Templates):
	case keep && prev != nil && prev.Templates != nil && prev.Templates.Source == lab.Templates:
		l.Templates = prev.Templates
	default:
		// Re-locking means re-fetching: the source may have moved on.
		_, sha, err := s.Templates(ctx, lab.Templates, "")
		if err != nil {
			return nil, nil, err
		}
		l.Templates = &config.TemplateSource{Source: lab.Templates, SHA256: sha}
	}
	return l, warnings, nil
}

// lockArtifact pins one artifact: by the hash cododemo (or the user's
// override) knows, or else by what the server sends on first use. It
// returns the warning the user must see, if any.
func (s *Service) lockArtifact(ctx context.Context, pin artifacts.Pin, prev *config.Lock) (config.Artifact, string, error) {
	if pin.URL == "" {
		// The kit has no upstream: the lock records the mirror's copy it
		// was pinned from (any mirror serves it under the same name).
		if s.Mirror == "" {
			return config.Artifact{}, "", fmt.Errorf("artifact %s: %s has no public download; set mirror: (or --mirror) to a mirror serving it at <mirror>/%s, "+
				"or kit.url and kit.sha256; `sh scripts/build-kit.sh DIR` builds it, or `cododemo bundle import` a bundle that carries it", pin.Name, pin.File, pin.MirrorPath)
		}
		pin.URL = pin.Source(s.Mirror)
	}
	a := config.Artifact{URL: pin.URL, SHA256: pin.SHA256}
	var warn string
	switch {
	case pin.Overridden:
		builtin := "none"
		if pin.Builtin != "" {
			builtin = pin.Builtin
		}
		warn = fmt.Sprintf("%s: etcd.release_sha256 replaces cododemo's built-in pin of %s (%s) with %s: nodes get the tarball %s serves, not upstream's release",
			pin.Name, pin.File, builtin, pin.SHA256, pin.Source(s.Mirror))
	case a.SHA256 == "":
		if old, ok := previous(prev, pin.Name); ok && old.URL == pin.URL && old.SHA256 != "" {
			a = old
			break
		}
		path, sha, err := s.DL.FetchUnpinned(ctx, pin.Source(s.Mirror), pin.File, artifacts.MaxSize)
		if err != nil {
			return a, "", fmt.Errorf("artifact %s: %w", pin.Name, err)
		}
		_, n, err := cache.HashFile(path)
		if err != nil {
			return a, "", err
		}
		a.SHA256, a.Size = sha, n
		warn = fmt.Sprintf("%s: cododemo has no upstream sha256 for %s; pinned what %s served (%s) on first use",
			pin.Name, pin.File, pin.Source(s.Mirror), sha)
		if pin.Name == artifacts.KitName {
			if err := checkKit(path, pin); err != nil {
				return a, "", fmt.Errorf("artifact %s: %s served by %s: %w", pin.Name, pin.File, pin.Source(s.Mirror), err)
			}
			warn = fmt.Sprintf("%s: no kit.sha256 set; pinned what %s served (%s) on first use: compare it with the sha256 `sh scripts/build-kit.sh` prints",
				pin.Name, pin.Source(s.Mirror), sha)
		}
	}
	if a.Size == 0 {
		if p, ok := s.Cache.Path(a.SHA256); ok {
			_, a.Size, _ = cache.HashFile(p)
		}
	}
	return a, warn, nil
}

// LabArtifacts lists the artifacts lab's nodes install, with their pins,
// in a fixed order: fleet when it runs, etcd when it comes from the
// release tarball, the image kit when the nodes load it. Legacy CoreOS
// boxes have fleet and etcd built in.
func LabArtifacts(lab config.Lab) ([]artifacts.Pin, error) {
	var out []artifacts.Pin
	if lab.Fleet.Enabled && lab.Distro == "flatcar" {
		p, err := artifacts.Fleet(lab.Fleet.Version, lab.Arch)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if lab.EtcdFromRelease() {
		p, err := artifacts.Etcd(lab.Etcd.ImageTag, lab.Arch, lab.Etcd.ReleaseSHA256)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if lab.KitEnabled() {
		out = append(out, artifacts.Kit(lab.Arch, lab.Kit.URL, lab.Kit.SHA256))
	}
	return out, nil
}

// checkKit refuses a kit pinned on first use that is not one: a
// docker-save tarball holding every image of cododemo's kit, for the
// lab's architecture. It runs before the hash goes into the lock, so a
// mirror serving something else is caught at `cododemo lock`, not on the
// nodes.
func checkKit(path string, pin artifacts.Pin) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	images, err := imagetar.Read(f)
	if err != nil {
		return fmt.Errorf("not an image kit: %w", err)
	}
	arch := pin.Arch
	have := map[string]bool{}
	for _, img := range images {
		if img.Arch != arch {
			return fmt.Errorf("image %s is for %s, the lab is %s", strings.Join(img.Tags, ","), img.Arch, arch)
		}
		for _, t := range img.Tags {
			have[t] = true
		}
	}
	var missing []string
	for _, want := range kit.Images() {
		if !have[want] {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not cododemo's image kit: lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

func previous(l *config.Lock, name string) (config.Artifact, bool) {
	if l == nil {
		return config.Artifact{}, false
	}
	a, ok := l.Artifacts[name]
	return a, ok
}
