// Package image takes a lab from "flatcar stable, current" to an exact,
// signed, cached box that Vagrant knows by its real name and version, plus
// the artifacts and template sources the lab pins, all of it usable with
// no network once cached or imported from a bundle.
//
// The chain of trust: the Flatcar image-signing key embedded in the binary
// verifies the detached signature of the release's Vagrant catalog; the
// catalog pins the box's sha256; the box is only ever served from the
// cache after its sha256 matched. The lock records the same sha256, so a
// lab with a lock needs the catalog only to re-check that pin.
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cododemo/cododemo/pkg/artifacts"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/image/cache"
	"github.com/cododemo/cododemo/pkg/image/download"
	"github.com/cododemo/cododemo/pkg/image/qemubox"
	"github.com/cododemo/cododemo/pkg/image/release"
	"github.com/cododemo/cododemo/pkg/image/vagrantbox"
	"github.com/cododemo/cododemo/pkg/image/verify"
)

// EnvKeyring points at a keyring file replacing the embedded Flatcar key
// (a rotated signing subkey before cododemo is updated; tests).
const EnvKeyring = "CODODEMO_KEYRING"

// Options builds a Service.
type Options struct {
	CacheDir string // "" = cache.DefaultDir
	Mirror   string // release server mirror base URL
	Offline  bool
	Runner   exec.Runner
	Getenv   func(string) string
	// Progress gets progress bars (a terminal) or is nil.
	Progress io.Writer
	// Log gets one line per step; nil discards.
	Log io.Writer
	// Keyring overrides the embedded Flatcar key and $CODODEMO_KEYRING.
	Keyring *verify.Keyring
	// RefreshKeyring lets an overriding Keyring be refreshed from the
	// publisher as the embedded key is (tests; the embedded key always is).
	RefreshKeyring bool
	HTTP           *http.Client
	// VagrantEnv is added to vagrant's environment.
	VagrantEnv []string
}

// Service does the image work: resolving and pinning releases, fetching
// and verifying boxes and artifacts, the cache. The box, lock and bundle
// commands use it (through cmdutil.ImageSetup), and so do up's pin and
// box steps (pkg/bringup).
type Service struct {
	Cache   *cache.Cache
	DL      *download.Downloader
	Keyring *verify.Keyring
	Server  release.Server
	Vagrant vagrantbox.Vagrant
	Log     io.Writer
	Offline bool
	Mirror  string

	// refreshKey: the keyring is cododemo's own (or a test's stand-in),
	// so newer subkeys its primary certifies may be taken in.
	refreshKey bool
}

// New builds a Service.
func New(o Options) (*Service, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	dir := o.CacheDir
	if dir == "" {
		var err error
		if dir, err = cache.DefaultDir(getenv); err != nil {
			return nil, err
		}
	}
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	kr, refresh := o.Keyring, o.RefreshKeyring
	if kr == nil {
		var err error
		if p := getenv(EnvKeyring); p != "" {
			// Only the environment (or --keyring) can do this, never a lab
			// file: a shared cododemo.yaml must not choose whose
			// signatures count. Say so on every run, loudly.
			fmt.Fprintf(log, "WARNING: %s=%s: release signatures are checked against that keyring, not Flatcar's image-signing key built into cododemo\n", EnvKeyring, p)
			kr, err = verify.Load(p)
		} else {
			kr, err = verify.Flatcar()
			refresh = true
		}
		if err != nil {
			return nil, err
		}
	}
	c := cache.Open(dir)
	s := &Service{
		Cache:      c,
		DL:         &download.Downloader{Cache: c, HTTP: o.HTTP, Progress: o.Progress, Offline: o.Offline},
		Keyring:    kr,
		Server:     release.Server{Mirror: o.Mirror},
		Vagrant:    vagrantbox.Vagrant{Runner: o.Runner, Getenv: getenv, Env: o.VagrantEnv},
		Log:        log,
		Offline:    o.Offline,
		Mirror:     o.Mirror,
		refreshKey: refresh,
	}
	if refresh {
		s.loadRefreshed()
	}
	return s, nil
}

// OSRelease is one resolved, signature-checked release and its box.
type OSRelease struct {
	Channel string
	Arch    string
	Version string
	Box     config.Box
	// DownloadURL is where the box is fetched from (the mirror's copy
	// when a mirror is set; Box.URL stays upstream's so locks match).
	DownloadURL   string
	CatalogSHA256 string
	SigSHA256     string
	// Image is set on libvirt: the QEMU image the box is packed from, its
	// SHA512 from the release's DIGESTS file (the "catalog" then), whose
	// signature checked out.
	Image *config.Image

	catalog, sig []byte // fetched now, not yet in the cache
	catalogURL   string
}

// CheckChannel rejects channels Flatcar does not have.
func CheckChannel(channel string) error {
	if !slices.Contains(config.Channels["flatcar"], channel) {
		return fmt.Errorf("unknown channel %q: Flatcar has %s", channel, strings.Join(config.Channels["flatcar"], ", "))
	}
	return nil
}

// ResolveOS turns channel + version ("current" or exact) into an exact
// release whose catalog signature checked out. An exact version already in
// the cache costs no network; "current" asks the server unless offline.
func (s *Service) ResolveOS(ctx context.Context, channel, arch, version, provider string) (*OSRelease, error) {
	if err := CheckChannel(channel); err != nil {
		return nil, err
	}
	if version != "current" && !release.IsExact(version) {
		return nil, fmt.Errorf("version %q is neither \"current\" nor an exact release such as 4593.2.5", version)
	}
	if rel, err := s.fromCache(ctx, channel, arch, version, provider); rel != nil || err != nil {
		return rel, err
	}
	if s.Offline {
		return nil, s.offlineMissing(channel, arch, version, provider)
	}

	exact := version
	if version == "current" {
		v, err := s.currentVersion(ctx, channel, arch)
		if err != nil {
			return nil, err
		}
		exact = v
		fmt.Fprintf(s.Log, "flatcar %s %s: current is %s\n", channel, arch, exact)
		if rel, err := s.fromCache(ctx, channel, arch, exact, provider); rel != nil || err != nil {
			return rel, err
		}
	}
	return s.resolveRemote(ctx, channel, arch, exact, provider)
}

// resolveRemote fetches and verifies an exact release's catalog (on
// libvirt, its QEMU image's DIGESTS) from the server.
func (s *Service) resolveRemote(ctx context.Context, channel, arch, exact, provider string) (*OSRelease, error) {
	file, what := release.CatalogFile, "vagrant catalog"
	if provider == LibvirtProvider {
		img, err := qemubox.ImageName(arch)
		if err != nil {
			return nil, err
		}
		file, what = img+DigestsSuffix, "QEMU image DIGESTS"
	}
	catURL := s.Server.URL(channel, arch, exact, file)
	cat, err := s.DL.Small(ctx, catURL)
	if download.IsNotFound(err) {
		return nil, s.notFound(ctx, channel, arch, exact, provider, catURL)
	}
	if err != nil {
		return nil, fmt.Errorf("flatcar %s %s: %s: %w", channel, exact, what, err)
	}
	sig, err := s.DL.Small(ctx, catURL+release.SigSuffix)
	if provider == LibvirtProvider && download.IsNotFound(err) {
		// The DIGESTS file is also published clearsigned; take that one
		// where the detached signature is missing.
		cat, sig, err = s.clearsignedDigests(ctx, catURL+ClearsignedSuffix)
		if download.IsNotFound(err) {
			err = fmt.Errorf("no %s.sig and no %s.asc beside it: %w", path.Base(catURL), path.Base(catURL), err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("flatcar %s %s: %s signature: %w", channel, exact, what, err)
	}
	rel, err := s.check(ctx, channel, arch, exact, provider, cat, sig, catURL)
	if err != nil {
		return nil, err
	}
	rel.catalog, rel.sig, rel.catalogURL = cat, sig, catURL
	return rel, nil
}

// remember stores a freshly fetched, verified catalog and its signature
// once the operation that needed it succeeded (a failed fetch leaves the
// cache as it was).
func (s *Service) remember(rel *OSRelease) error {
	if rel.catalog == nil {
		return nil // came from the cache
	}
	var err error
	if rel.CatalogSHA256, err = s.Cache.PutBytes(rel.catalog); err != nil {
		return err
	}
	if rel.SigSHA256, err = s.Cache.PutBytes(rel.sig); err != nil {
		return err
	}
	ref := cache.Ref{Kind: cache.KindCatalog, Name: rel.Box.Name, Version: rel.Version, Channel: rel.Channel,
		Arch: rel.Arch, SHA256: rel.CatalogSHA256, Size: int64(len(rel.catalog)), Source: rel.catalogURL, SigSHA256: rel.SigSHA256}
	if rel.Image != nil {
		ref.Kind, ref.Name = cache.KindDigests, rel.Image.File
	}
	return s.Cache.PutRef(ref)
}

// check verifies a catalog's signature and picks the provider's box (on
// libvirt: a DIGESTS file's, and the image's SHA512).
func (s *Service) check(ctx context.Context, channel, arch, version, provider string, cat, sig []byte, where string) (*OSRelease, error) {
	if provider == LibvirtProvider {
		return s.checkDigests(ctx, channel, arch, version, cat, sig, where)
	}
	if err := s.verifyCatalog(ctx, cat, sig); err != nil {
		return nil, fmt.Errorf("flatcar %s %s: %s: %w", channel, version, where, err)
	}
	c, err := release.ParseCatalog(cat)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	p, err := c.Find(version, provider)
	if err != nil {
		return nil, err
	}
	rel := &OSRelease{
		Channel: channel, Arch: arch, Version: version,
		Box:         config.Box{Name: c.Name, Provider: provider, URL: p.URL, SHA256: p.Checksum},
		DownloadURL: p.URL,
	}
	if s.Mirror != "" {
		// A mirror keeps the box beside its catalog, as the release
		// server does; upstream's URL points at another host.
		rel.DownloadURL = s.Server.URL(channel, arch, version, release.BoxFile)
	}
	return rel, nil
}

// fromCache returns the release from a cached, re-verified catalog.
func (s *Service) fromCache(ctx context.Context, channel, arch, version, provider string) (*OSRelease, error) {
	kind, name, where := cache.KindCatalog, "", "cached catalog"
	if provider == LibvirtProvider {
		kind, where = cache.KindDigests, "cached DIGESTS"
		var err error
		if name, err = qemubox.ImageName(arch); err != nil {
			return nil, err
		}
	}
	refs, err := s.Cache.Refs(kind)
	if err != nil {
		return nil, err
	}
	var best *cache.Ref
	for i, r := range refs {
		if r.Channel != channel || r.Arch != arch || (name != "" && r.Name != name) {
			continue
		}
		if version == "current" {
			// Only offline may "current" mean "newest we have".
			if !s.Offline {
				continue
			}
			if best == nil || release.Compare(r.Version, best.Version) > 0 {
				best = &refs[i]
			}
		} else if r.Version == version {
			best = &refs[i]
		}
	}
	if best == nil {
		return nil, nil
	}
	catPath, ok1 := s.Cache.Path(best.SHA256)
	sigPath, ok2 := s.Cache.Path(best.SigSHA256)
	if !ok1 || !ok2 {
		return nil, nil
	}
	cat, err := os.ReadFile(catPath)
	if err != nil {
		return nil, err
	}
	sig, err := os.ReadFile(sigPath)
	if err != nil {
		return nil, err
	}
	if version == "current" {
		fmt.Fprintf(s.Log, "offline: flatcar %s %s current taken as %s, the newest cached\n", channel, arch, best.Version)
	}
	rel, err := s.check(ctx, channel, arch, best.Version, provider, cat, sig, where)
	if err != nil {
		return nil, err
	}
	rel.CatalogSHA256, rel.SigSHA256 = best.SHA256, best.SigSHA256
	return rel, nil
}

func (s *Service) offlineMissing(channel, arch, version, provider string) error {
	kind, what := cache.KindCatalog, "signed catalog"
	if provider == LibvirtProvider {
		kind, what = cache.KindDigests, "signed DIGESTS of the QEMU image (libvirt)"
	}
	refs, _ := s.Cache.Refs(kind)
	var have []string
	for _, r := range refs {
		if r.Channel == channel && r.Arch == arch {
			have = append(have, r.Version)
		}
	}
	msg := fmt.Sprintf("offline: no %s for flatcar %s %s %s in the cache (%s)", what, channel, arch, version, s.Cache.Dir)
	if len(have) > 0 {
		release.SortVersions(have)
		msg += "; cached versions: " + strings.Join(have, ", ")
	}
	return errors.New(msg + "; run `cododemo box fetch` online or `cododemo bundle import`")
}

func (s *Service) currentVersion(ctx context.Context, channel, arch string) (string, error) {
	dir := "current"
	if channel == "lts" {
		// LTS has one stream per year; lts-info says which are supported.
		if data, err := s.DL.Small(ctx, s.Server.ChannelBase(channel)+"/"+release.LTSInfoFile); err == nil {
			streams, err := release.ParseLTSInfo(data)
			if err != nil {
				return "", err
			}
			if d := release.NewestSupported(streams); d != "" {
				dir = d
			}
		}
	}
	u := s.Server.URL(channel, arch, dir, release.VersionFile)
	data, err := s.DL.Small(ctx, u)
	if download.IsNotFound(err) {
		return "", fmt.Errorf("flatcar %s %s: %s not found: does %s serve channel %q?", channel, arch, u, s.Server.ChannelBase(channel), channel)
	}
	if err != nil {
		return "", fmt.Errorf("flatcar %s %s: %w", channel, arch, err)
	}
	v, err := release.VersionFromTxt(data)
	if err != nil {
		return "", fmt.Errorf("%s: %w", u, err)
	}
	return v, nil
}

func (s *Service) noSuchVersion(ctx context.Context, channel, arch, version string) error {
	base := s.Server.ArchBase(channel, arch) + "/"
	msg := fmt.Sprintf("flatcar %s %s has no version %s (%s%s)", channel, arch, version, base, version)
	index, err := s.DL.Small(ctx, base)
	if err != nil {
		return fmt.Errorf("%s; could not list versions: %v", msg, err)
	}
	all := release.ParseIndex(index)
	if len(all) == 0 {
		return errors.New(msg)
	}
	return fmt.Errorf("%s; nearest: %s", msg, strings.Join(release.Nearest(all, version, 5), ", "))
}

// Box is a box in the cache, ready for Vagrant.
type Box struct {
	vagrantbox.Box
	// Catalog is the local catalog (file:// URL) Vagrant adds it from.
	Catalog string
	// Hit says no byte of the box crossed the network.
	Hit bool
	// PackedFrom is the sha256 of the QEMU image a libvirt box was
	// packed from.
	PackedFrom string
}

// EnsureBox makes the lab's box available in the cache: the lock's when
// the lab has one (nothing resolved), else resolved from the lab.
func (s *Service) EnsureBox(ctx context.Context, lab config.Lab, lock *config.Lock) (*Box, error) {
	if lab.Distro != "flatcar" {
		return nil, fmt.Errorf("distro %s: its release servers are gone; cododemo only fetches Flatcar boxes", lab.Distro)
	}
	var rel *OSRelease
	var err error
	if lock.Resolved() {
		if err := lock.Matches(lab); err != nil {
			return nil, err
		}
		if lock.OS.Box.Provider != lab.Provider {
			return nil, fmt.Errorf("%s pins a %s box but the lab runs on %s; run `cododemo lock` again", config.LockFile, lock.OS.Box.Provider, lab.Provider)
		}
		rel, err = s.ResolveOS(ctx, lock.Channel, lock.Arch, lock.OS.Version, lock.OS.Box.Provider)
		if err != nil {
			return nil, err
		}
		if err := pinsMatch(lock, rel); err != nil {
			if rel.catalog != nil || s.Offline {
				return nil, err
			}
			// The cache's copy is older than the lock (a lock made
			// elsewhere after the server republished): ask the server.
			fresh, ferr := s.resolveRemote(ctx, lock.Channel, lock.Arch, lock.OS.Version, lock.OS.Box.Provider)
			if ferr != nil {
				return nil, fmt.Errorf("%w (and the server: %v)", err, ferr)
			}
			if err := pinsMatch(lock, fresh); err != nil {
				return nil, err
			}
			rel = fresh
		}
	} else {
		rel, err = s.ResolveOS(ctx, lab.Channel, lab.Arch, lab.Version, lab.Provider)
		if err != nil {
			return nil, err
		}
	}
	return s.fetchBox(ctx, rel)
}

// MaxBoxSize bounds a box download: the hash decides what is kept, this
// stops a server that streams without end from filling the disk first (a
// Flatcar box is about 500 MiB).
const MaxBoxSize = 8 << 30

func (s *Service) fetchBox(ctx context.Context, rel *OSRelease) (*Box, error) {
	if rel.Image != nil {
		return s.packBox(ctx, rel)
	}
	name := fmt.Sprintf("%s %s (%s)", rel.Box.Name, rel.Version, rel.Box.Provider)
	res, err := s.DL.Fetch(ctx, download.Request{URL: rel.DownloadURL, SHA256: rel.Box.SHA256, Name: name, Max: MaxBoxSize})
	if err != nil {
		return nil, err
	}
	if err := s.remember(rel); err != nil {
		return nil, err
	}
	fi, err := os.Stat(res.Path)
	if err != nil {
		return nil, err
	}
	b := &Box{Box: vagrantbox.Box{Name: rel.Box.Name, Version: rel.Version, Provider: rel.Box.Provider, Arch: rel.Arch,
		SHA256: rel.Box.SHA256, Path: res.Path}, Hit: res.Hit}
	ref := cache.Ref{Kind: cache.KindBox, Name: b.Name, Version: b.Version, Provider: b.Provider, Channel: rel.Channel,
		Arch: rel.Arch, SHA256: b.SHA256, Size: fi.Size(), Source: rel.Box.URL}
	if old, ok := s.Cache.GetRef(ref); !ok || old.SHA256 != ref.SHA256 {
		if err := s.Cache.PutRef(ref); err != nil {
			return nil, err
		}
	}
	b.Catalog = s.CatalogPath(b.Box)
	if _, err := os.Stat(b.Catalog); err != nil {
		if err := vagrantbox.WriteCatalog(b.Catalog, b.Box); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// CatalogPath is where the local Vagrant catalog of b lives.
func (s *Service) CatalogPath(b vagrantbox.Box) string {
	key := cache.Ref{Kind: cache.KindBox, Name: b.Name, Version: b.Version, Provider: b.Provider}.Key()
	return filepath.Join(s.Cache.Dir, "vagrant", key+".json")
}

// AddToVagrant adds b unless Vagrant has it already; it says which. A
// libvirt box Vagrant holds under b's name and version but packed from
// another image (the lock changed, the version did not) is replaced.
func (s *Service) AddToVagrant(ctx context.Context, b *Box) (added bool, err error) {
	if s.Vagrant.Has(b.Box) {
		if !s.packedFromOther(b) {
			return false, nil
		}
		fmt.Fprintf(s.Log, "vagrant: its %s %s (%s) was packed from another image than the lock pins; replacing it\n", b.Name, b.Version, b.Provider)
		if err := s.Vagrant.Remove(ctx, b.Box); err != nil {
			return false, err
		}
		defer fmt.Fprintln(s.Log, replaceNote(b))
	}
	return true, s.Vagrant.Add(ctx, b.Catalog, b.Box)
}

// Artifact is a node artifact in the cache.
type Artifact struct {
	Name   string
	File   string
	SHA256 string
	Path   string
	Hit    bool
}

// EnsureArtifacts fetches every artifact the lock pins into the cache,
// from the mirror when one is set. The lock alone says what and from
// where, so a bundle's lock fetches the same on any laptop.
func (s *Service) EnsureArtifacts(ctx context.Context, lock *config.Lock) ([]Artifact, error) {
	if lock == nil {
		return nil, nil
	}
	names := make([]string, 0, len(lock.Artifacts))
	for n := range lock.Artifacts {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []Artifact
	var errs []error
	for _, n := range names {
		a := lock.Artifacts[n]
		pin, err := artifacts.FromURL(n, a.URL)
		if err != nil {
			errs = append(errs, fmt.Errorf("artifact %s: %w", n, err))
			continue
		}
		url := a.URL
		if s.Mirror != "" {
			url = pin.Source(s.Mirror)
		}
		res, err := s.DL.Fetch(ctx, download.Request{URL: url, SHA256: a.SHA256, Size: a.Size, Name: pin.File, Max: artifacts.MaxSize})
		if err != nil {
			errs = append(errs, fmt.Errorf("artifact %s: %w", n, err))
			continue
		}
		if err := s.Cache.PutRef(cache.Ref{Kind: cache.KindArtifact, Name: pin.File, SHA256: a.SHA256, Size: a.Size, Source: a.URL}); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Artifact{Name: n, File: pin.File, SHA256: a.SHA256, Path: res.Path, Hit: res.Hit})
	}
	return out, errors.Join(errs...)
}

// ArtifactPath returns the cached file of a locked artifact, for `up` to
// serve to the nodes. Its error says how to get it.
func ArtifactPath(c *cache.Cache, lock *config.Lock, name string) (string, error) {
	if lock == nil {
		return "", fmt.Errorf("artifact %s: no %s; run `cododemo lock`", name, config.LockFile)
	}
	a, ok := lock.Artifacts[name]
	if !ok || a.SHA256 == "" {
		return "", fmt.Errorf("artifact %s: not pinned in %s; run `cododemo lock`", name, config.LockFile)
	}
	p, ok := c.Path(a.SHA256)
	if !ok {
		return "", fmt.Errorf("artifact %s (sha256 %s) is not in the cache %s; run `cododemo box fetch` or `cododemo bundle import`", name, a.SHA256, c.Dir)
	}
	return p, nil
}

// CatalogPins checks that a (verified) catalog pins sha for version and
// provider.
func CatalogPins(catalog []byte, version, provider, sha string) error {
	c, err := release.ParseCatalog(catalog)
	if err != nil {
		return err
	}
	p, err := c.Find(version, provider)
	if err != nil {
		return err
	}
	if p.Checksum != sha {
		return fmt.Errorf("pins box sha256 %s, the lock %s", p.Checksum, sha)
	}
	return nil
}

// LocalCatalogFor is the local Vagrant catalog (file:// box URL) of the
// lock's box, for a Vagrantfile's config.vm.box_url; it exists once `box
// fetch` or `bundle import` ran.
func (s *Service) LocalCatalogFor(lock *config.Lock) string {
	return s.CatalogPath(vagrantbox.Box{Name: lock.OS.Box.Name, Version: lock.OS.Version, Provider: lock.OS.Box.Provider})
}
