package image

import (
	"context"
	"fmt"
	"strings"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/image/artifacts"
	"github.com/cododemo/cododemo/pkg/image/cache"
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
	if lab.Distro != "flatcar" {
		return nil, nil, fmt.Errorf("distro %s: nothing to resolve (its release servers are gone); lock pins Flatcar labs", lab.Distro)
	}
	l := &config.Lock{
		Version: config.LockVersion,
		Distro:  lab.Distro,
		Channel: lab.Channel,
		Arch:    lab.Arch,
	}
	if lab.Box.Name == "" {
		rel, err := s.ResolveOS(ctx, lab.Channel, lab.Arch, lab.Version, lab.Provider)
		if err != nil {
			return nil, nil, err
		}
		if err := s.remember(rel); err != nil {
			return nil, nil, err
		}
		l.OS = config.OSRelease{Version: rel.Version, Box: rel.Box}
	}
	var warnings []string
	if lab.Fleet.Enabled {
		pin, err := artifacts.Fleet(lab.Fleet.Version, lab.Arch)
		if err != nil {
			return nil, nil, err
		}
		a := config.Artifact{URL: pin.URL, SHA256: pin.SHA256}
		if a.SHA256 == "" {
			if old, ok := lockArtifact(prev, "fleet"); ok && old.URL == pin.URL && old.SHA256 != "" {
				a = old
			} else {
				path, sha, err := s.DL.FetchUnpinned(ctx, pin.Source(s.Mirror), pin.File)
				if err != nil {
					return nil, nil, fmt.Errorf("artifact fleet: %w", err)
				}
				_, n, err := cache.HashFile(path)
				if err != nil {
					return nil, nil, err
				}
				a.SHA256, a.Size = sha, n
				warnings = append(warnings, fmt.Sprintf("fleet: cododemo has no upstream sha256 for %s; pinned what %s served (%s) on first use",
					pin.File, pin.Source(s.Mirror), sha))
			}
		}
		if a.Size == 0 {
			if p, ok := s.Cache.Path(a.SHA256); ok {
				_, a.Size, _ = cache.HashFile(p)
			}
		}
		l.Artifacts = map[string]config.Artifact{"fleet": a}
	}
	if IsRemoteTemplates(lab.Templates) {
		// Re-locking means re-fetching: the source may have moved on.
		_, sha, err := s.Templates(ctx, lab.Templates, "")
		if err != nil {
			return nil, nil, err
		}
		l.Templates = &config.TemplateSource{Source: lab.Templates, SHA256: sha}
	}
	return l, warnings, nil
}

func lockArtifact(l *config.Lock, name string) (config.Artifact, bool) {
	if l == nil {
		return config.Artifact{}, false
	}
	a, ok := l.Artifacts[name]
	return a, ok
}
