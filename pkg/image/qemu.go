package image

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/image/cache"
	"github.com/cododemo/cododemo/pkg/image/qemubox"
	"github.com/cododemo/cododemo/pkg/image/release"
	"github.com/cododemo/cododemo/pkg/image/vagrantbox"
)

// Flatcar publishes no libvirt box. On libvirt, cododemo packs one from
// the release's QEMU image (pkg/image/qemubox), and the chain of trust is
// the VirtualBox one with the DIGESTS file in the catalog's place: the
// embedded key verifies "<image>.DIGESTS.sig" (ci_automation_common.sh
// signs every file it publishes, DIGESTS files included; where that
// detached signature is missing, the clearsigned "<image>.DIGESTS.asc"
// create_digests writes stands in); the DIGESTS
// gives the image's SHA512, which the lock pins; the image is kept only
// once its own "<image>.sig" and that SHA512 both check out.

// LibvirtProvider is the provider whose Flatcar box cododemo packs.
const LibvirtProvider = "libvirt"

// DigestsSuffix names the checksum file beside each published file.
const DigestsSuffix = ".DIGESTS"

// ClearsignedSuffix names the clearsigned copy of a DIGESTS file
// (create_digests in ci_automation_common.sh writes "<file>.DIGESTS.asc"
// with gpg --clearsign).
const ClearsignedSuffix = ".asc"

// clearsignedDigests fetches a clearsigned DIGESTS file and splits it into
// the signed text and a detached signature over it, the form every other
// signature check (and the cache, and bundles) takes.
func (s *Service) clearsignedDigests(ctx context.Context, url string) (text, sig []byte, err error) {
	data, err := s.DL.Small(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	block, _ := clearsign.Decode(data)
	if block == nil || block.ArmoredSignature == nil {
		return nil, nil, fmt.Errorf("%s: not a clearsigned file", url)
	}
	if sig, err = io.ReadAll(io.LimitReader(block.ArmoredSignature.Body, 1<<20)); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", url, err)
	}
	return block.Bytes, sig, nil
}

// checkDigests verifies a DIGESTS file's signature and reads the image's
// SHA512 from it.
func (s *Service) checkDigests(ctx context.Context, channel, arch, version string, digests, sig []byte, where string) (*OSRelease, error) {
	file, err := qemubox.ImageName(arch)
	if err != nil {
		return nil, err
	}
	if err := s.verifyCatalog(ctx, digests, sig); err != nil {
		return nil, fmt.Errorf("flatcar %s %s: %s: %w", channel, version, where, err)
	}
	sum, err := qemubox.SHA512From(digests, file)
	if err != nil {
		return nil, fmt.Errorf("flatcar %s %s: %s: %w", channel, version, where, err)
	}
	upstream := release.Server{}.URL(channel, arch, version, file)
	return &OSRelease{
		Channel: channel, Arch: arch, Version: version,
		Box:         config.Box{Name: "flatcar-" + channel, Provider: LibvirtProvider, URL: upstream},
		Image:       &config.Image{File: file, URL: upstream, SHA512: sum},
		DownloadURL: s.Server.URL(channel, arch, version, file),
	}, nil
}

// notFound explains a 404 for a release file: no such version, or (on a
// mirror, say) the version without that file.
func (s *Service) notFound(ctx context.Context, channel, arch, version, provider, url string) error {
	base := s.Server.ArchBase(channel, arch) + "/"
	if index, err := s.DL.Small(ctx, base); err == nil {
		for _, v := range release.ParseIndex(index) {
			if v == version {
				why := ""
				if provider == LibvirtProvider {
					why = " (the libvirt box is packed from Flatcar's QEMU image)"
				}
				return fmt.Errorf("flatcar %s %s %s: %s not found%s; a mirror keeps each file beside its .sig and .DIGESTS as the release server does",
					channel, arch, version, url, why)
			}
		}
	}
	return s.noSuchVersion(ctx, channel, arch, version)
}

// pinsMatch checks that what the signed catalog (or DIGESTS) says now is
// what the lock pins.
func pinsMatch(lock *config.Lock, rel *OSRelease) error {
	if rel.Image == nil {
		if rel.Box.SHA256 != lock.OS.Box.SHA256 {
			return fmt.Errorf("%s: lock pins box sha256 %s but the signed catalog of %s says %s; run `cododemo lock` again",
				config.LockFile, lock.OS.Box.SHA256, lock.OS.Version, rel.Box.SHA256)
		}
		return nil
	}
	im := lock.OS.Image
	switch {
	case im == nil:
		return fmt.Errorf("%s pins no QEMU image for the libvirt box; run `cododemo lock` again", config.LockFile)
	case im.File != rel.Image.File:
		return fmt.Errorf("%s pins the QEMU image %s, but %s %s has %s; run `cododemo lock` again", config.LockFile, im.File, lock.Arch, lock.OS.Version, rel.Image.File)
	case im.SHA512 != rel.Image.SHA512:
		return fmt.Errorf("%s: lock pins %s SHA512 %s but the signed DIGESTS of %s says %s; run `cododemo lock` again",
			config.LockFile, im.File, im.SHA512, lock.OS.Version, rel.Image.SHA512)
	}
	return nil
}

// imageRef is the cache's record of a release's QEMU image.
func imageRef(rel *OSRelease) cache.Ref {
	return cache.Ref{Kind: cache.KindImage, Name: rel.Image.File, Version: rel.Version, Channel: rel.Channel, Arch: rel.Arch}
}

// packBox gets the release's QEMU image (the cache's copy when it has the
// pinned one), then the vagrant-libvirt box packed from it (packed once
// per image: the box records which image it holds).
func (s *Service) packBox(ctx context.Context, rel *OSRelease) (*Box, error) {
	what := fmt.Sprintf("flatcar %s %s %s: QEMU image %s", rel.Channel, rel.Arch, rel.Version, rel.Image.File)
	ref := imageRef(rel)
	img := qemubox.Image{}
	if old, ok := s.Cache.GetRef(ref); ok && old.SHA512 == rel.Image.SHA512 {
		p, _ := s.Cache.Path(old.SHA256)
		img = qemubox.Image{Path: p, SHA256: old.SHA256, Hit: true}
	} else {
		if s.Offline {
			return nil, fmt.Errorf("offline: %s (SHA512 %s…) is not in the cache %s; run `cododemo box fetch` online or `cododemo bundle import`",
				what, rel.Image.SHA512[:16], s.Cache.Dir)
		}
		f := qemubox.Fetcher{Downloader: s.DL, Keyring: s.Keyring}
		var err error
		if img, err = f.FetchURL(ctx, rel.DownloadURL, rel.Image.SHA512); err != nil {
			return nil, fmt.Errorf("%s from %s: %w", what, rel.DownloadURL, err)
		}
		fi, err := os.Stat(img.Path)
		if err != nil {
			return nil, err
		}
		ref.SHA256, ref.Size, ref.Source, ref.SHA512 = img.SHA256, fi.Size(), rel.Image.URL, rel.Image.SHA512
		if err := s.Cache.PutRef(ref); err != nil {
			return nil, err
		}
		fmt.Fprintf(s.Log, "%s: signature and SHA512 checked\n", what)
	}
	if err := s.remember(rel); err != nil {
		return nil, err
	}
	boxRef := cache.Ref{Kind: cache.KindBox, Name: rel.Box.Name, Version: rel.Version, Provider: LibvirtProvider, Channel: rel.Channel, Arch: rel.Arch}
	b := &Box{PackedFrom: img.SHA256, Hit: img.Hit}
	if old, ok := s.Cache.GetRef(boxRef); ok && old.From == img.SHA256 {
		p, _ := s.Cache.Path(old.SHA256)
		b.Box = vagrantbox.Box{Name: rel.Box.Name, Version: rel.Version, Provider: LibvirtProvider, Arch: rel.Arch, SHA256: old.SHA256, Path: p}
	} else {
		fmt.Fprintf(s.Log, "packing the vagrant-libvirt box %s %s from %s\n", rel.Box.Name, rel.Version, rel.Image.File)
		vb, err := qemubox.Build(s.Cache, img, rel.Box.Name, rel.Version, rel.Arch, "")
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(vb.Path)
		if err != nil {
			return nil, err
		}
		boxRef.SHA256, boxRef.Size, boxRef.Source, boxRef.From = vb.SHA256, fi.Size(), rel.Image.URL, img.SHA256
		if err := s.Cache.PutRef(boxRef); err != nil {
			return nil, err
		}
		b.Box = vb
	}
	b.Catalog = s.CatalogPath(b.Box)
	if err := vagrantbox.WriteCatalog(b.Catalog, b.Box); err != nil {
		return nil, err
	}
	return b, nil
}

// packedFromOther says whether Vagrant's copy of b was packed from
// another image than b (same name and version, another lock).
func (s *Service) packedFromOther(b *Box) bool {
	if b.PackedFrom == "" {
		return false
	}
	vf, err := os.ReadFile(filepath.Join(s.Vagrant.Dir(b.Box), "Vagrantfile"))
	if err != nil {
		return false // not one of ours: leave it
	}
	first, _, _ := bytes.Cut(vf, []byte("\n"))
	return strings.Contains(string(first), "packed by cododemo") && string(first) != qemubox.ImageMarker(b.PackedFrom)
}

// replaceNote is what a user must know after Vagrant's libvirt box was
// replaced: vagrant-libvirt uploads a box into its storage pool once and
// reuses that volume for every later machine of the same box version.
func replaceNote(b *Box) string {
	return fmt.Sprintf("note: vagrant-libvirt keeps its own copy of the old %s %s in its storage pool (a volume named %s_vagrant_box_image_%s...); "+
		"new nodes boot from that copy until it is deleted: `cododemo destroy`, then `virsh vol-list default` and `virsh vol-delete --pool default NAME`",
		b.Name, b.Version, strings.ReplaceAll(b.Name, "/", "-VAGRANTSLASH-"), b.Version)
}
