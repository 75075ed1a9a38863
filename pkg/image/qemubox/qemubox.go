// Package qemubox makes vagrant-libvirt boxes of Flatcar, which publishes
// no libvirt box but a signed QEMU image for every channel and release. It
// fetches the image of one exact release, verifies its detached signature
// and its SHA512 from the DIGESTS file, keeps it in the content-addressed
// cache, and packs a box (metadata.json, box.img, Vagrantfile) that Vagrant
// adds under its real name and version from a local catalog
// (pkg/image/vagrantbox).
//
// Names and layout from flatcar/scripts: build_library/vm_image_util.sh
// builds qemu_uefi as a qcow2 (qemu-img convert -c) and links
// flatcar_production_qemu_image.img to it on amd64 only;
// ci-automation/vms.sh publishes qemu_uefi uncompressed and as .bz2
// ("bz2,none"); ci_automation_common.sh gives every file a detached
// "<file>.sig" and a "<file>.DIGESTS" (MD5, SHA1, SHA512 sections).
package qemubox

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/cododemo/cododemo/pkg/image/cache"
	"github.com/cododemo/cododemo/pkg/image/download"
	"github.com/cododemo/cododemo/pkg/image/vagrantbox"
	"github.com/cododemo/cododemo/pkg/image/verify"
)

// ImageName is Flatcar's QEMU image for arch. amd64 has the BIOS-booting
// name (a link to the UEFI build, which boots either way); arm64 has only
// the UEFI one.
func ImageName(arch string) (string, error) {
	switch arch {
	case "amd64":
		return "flatcar_production_qemu_image.img", nil
	case "arm64":
		return "flatcar_production_qemu_uefi_image.img", nil
	}
	return "", fmt.Errorf("qemubox: no Flatcar QEMU image for architecture %q", arch)
}

// MaxImage bounds the download: today's images are about 500 MB.
const MaxImage = 4 << 30

// Source is one release's image.
type Source struct {
	// Base is the release server (https://stable.release.flatcar-linux.net)
	// or a mirror's channel directory.
	Base    string
	Channel string
	Arch    string
	Version string
}

// URL is the image's address on the release server.
func (s Source) URL() (string, error) {
	name, err := ImageName(s.Arch)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s/%s-usr/%s/%s", strings.TrimRight(s.Base, "/"), s.Arch, s.Version, name), nil
}

// Image is a verified image in the cache.
type Image struct {
	Path   string
	SHA256 string
	Hit    bool // no network was used
}

// Fetcher gets verified images.
type Fetcher struct {
	Downloader *download.Downloader
	Keyring    *verify.Keyring
}

// Fetch returns the image of src. With pinned (the sha256 a lock holds)
// a cached image needs no network, which is what --offline relies on;
// otherwise the image, its .sig and .DIGESTS are fetched, and the image
// enters the cache only once both check out.
func (f *Fetcher) Fetch(ctx context.Context, src Source, pinned string) (Image, error) {
	if pinned != "" {
		if p, ok := f.Downloader.Cache.Path(pinned); ok {
			return Image{Path: p, SHA256: pinned, Hit: true}, nil
		}
	}
	url, err := src.URL()
	if err != nil {
		return Image{}, err
	}
	img, err := f.FetchURL(ctx, url, "")
	if err != nil {
		return Image{}, fmt.Errorf("%s %s: %w", filepath.Base(url), src.Version, err)
	}
	if pinned != "" && img.SHA256 != pinned {
		return Image{}, fmt.Errorf("%s %s: sha256 %s, the lock pins %s: run `cododemo lock` again", filepath.Base(url), src.Version, img.SHA256, pinned)
	}
	return img, nil
}

// FetchURL downloads the image at url with its detached .sig and checks
// both the signature and its SHA512: want512 when the caller has it from
// a DIGESTS file it verified already (the lock's pin), else the one in
// url's .DIGESTS. A file that fails either check leaves no trace in the
// cache.
func (f *Fetcher) FetchURL(ctx context.Context, url, want512 string) (Image, error) {
	name := path.Base(url)
	sig, err := f.Downloader.Small(ctx, url+".sig")
	if err != nil {
		return Image{}, fmt.Errorf("%s.sig: %w", name, err)
	}
	if want512 == "" {
		digests, err := f.Downloader.Small(ctx, url+".DIGESTS")
		if err != nil {
			return Image{}, fmt.Errorf("%s.DIGESTS: %w", name, err)
		}
		if want512, err = SHA512From(digests, name); err != nil {
			return Image{}, err
		}
	}
	p, sha, err := f.Downloader.FetchUnpinned(ctx, url, name, MaxImage)
	if err != nil {
		return Image{}, err
	}
	// FetchUnpinned has committed the bytes under their sha256; a file
	// that fails either check must not stay there to be found later.
	if err := check(p, sig, want512, f.Keyring); err != nil {
		_ = os.Remove(p)
		return Image{}, err
	}
	return Image{Path: p, SHA256: sha}, nil
}

func check(path string, sig []byte, want512 string, k *verify.Keyring) error {
	if err := k.DetachedFile(path, sig); err != nil {
		return fmt.Errorf("image signature: %w", err)
	}
	got, err := FileSHA512(path)
	if err != nil {
		return err
	}
	if got != want512 {
		return fmt.Errorf("SHA512 %s does not match the signed DIGESTS file's %s: the image was changed or damaged", got, want512)
	}
	return nil
}

// FileSHA512 is the hex SHA512 of a file.
func FileSHA512(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha512.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SHA512From reads name's SHA512 from a Flatcar DIGESTS file ("# SHA512
// HASH" then "<hex>  <name>" lines).
func SHA512From(digests []byte, name string) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(digests))
	section := ""
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			section = strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(line, "#")))
			continue
		}
		sum, file, ok := strings.Cut(line, "  ")
		if !ok || section != "SHA512 HASH" || strings.TrimSpace(file) != name {
			continue
		}
		if len(sum) != 128 {
			return "", fmt.Errorf("%s.DIGESTS: SHA512 %q is not 128 hex digits", name, sum)
		}
		if _, err := hex.DecodeString(sum); err != nil {
			return "", fmt.Errorf("%s.DIGESTS: SHA512 %q is not hex", name, sum)
		}
		return strings.ToLower(sum), nil
	}
	return "", fmt.Errorf("%s.DIGESTS: no SHA512 line for %s", name, name)
}

// VirtualSize reads a qcow2 image's virtual disk size from its header
// (magic "QFI\xfb", size as a big-endian uint64 at offset 24).
func VirtualSize(path string) (uint64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	var hdr [32]byte
	if _, err := io.ReadFull(fh, hdr[:]); err != nil {
		return 0, fmt.Errorf("%s: not a qcow2 image: %w", path, err)
	}
	if !bytes.Equal(hdr[:4], []byte{'Q', 'F', 'I', 0xfb}) {
		return 0, fmt.Errorf("%s: not a qcow2 image (no QFI magic)", path)
	}
	return binary.BigEndian.Uint64(hdr[24:32]), nil
}

// BoxVagrantfile is the box's own Vagrantfile: what Flatcar's VirtualBox
// box Vagrantfile says, for libvirt. The project Vagrantfile cododemo
// renders sets the rest (key, Ignition through fw_cfg). Its first line
// names the image's sha256, so a box Vagrant holds can be told apart from
// one packed from another image of the same version (ImageMarker).
func BoxVagrantfile(imageSHA256 string) string {
	return ImageMarker(imageSHA256) + "\n" + boxVagrantfileBody
}

// ImageMarker is the line of BoxVagrantfile that names the image.
func ImageMarker(imageSHA256 string) string {
	return "# Flatcar Container Linux from its signed QEMU image (sha256 " + imageSHA256 + "), packed by cododemo."
}

const boxVagrantfileBody = `Vagrant.configure("2") do |config|
  config.ssh.username = "core"
  config.ssh.insert_key = false
  config.vm.synced_folder ".", "/vagrant", disabled: true
  config.vm.provider :libvirt do |lv|
    lv.disk_bus = "virtio"
  end
end
`

// Metadata is the box's metadata.json for vagrant-libvirt.
type Metadata struct {
	Provider     string `json:"provider"`
	Format       string `json:"format"`
	VirtualSize  uint64 `json:"virtual_size"` // GiB, rounded up
	Architecture string `json:"architecture"`
}

// Pack writes a vagrant-libvirt box of img to w: an uncompressed tar (the
// qcow2 is compressed already; gzip would cost minutes for nothing) with
// fixed times and order, so one image always packs to the same bytes and
// the box is content-addressed like the image.
func Pack(w io.Writer, img Image, arch string) error {
	imgPath := img.Path
	size, err := VirtualSize(imgPath)
	if err != nil {
		return err
	}
	meta, err := json.Marshal(Metadata{Provider: "libvirt", Format: "qcow2", VirtualSize: (size + 1<<30 - 1) >> 30, Architecture: arch})
	if err != nil {
		return err
	}
	fh, err := os.Open(imgPath)
	if err != nil {
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	epoch := time.Unix(0, 0).UTC()
	put := func(name string, size int64, body io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := io.Copy(tw, body)
		return err
	}
	if err := put("metadata.json", int64(len(meta)), bytes.NewReader(meta)); err != nil {
		return err
	}
	vf := BoxVagrantfile(img.SHA256)
	if err := put("Vagrantfile", int64(len(vf)), strings.NewReader(vf)); err != nil {
		return err
	}
	if err := put("box.img", st.Size(), fh); err != nil {
		return err
	}
	return tw.Close()
}

// Build packs img into a box in the cache (content-addressed: packing the
// same image again finds the box already there) and writes its local
// catalog at catalogPath, so `vagrant box add` records it as name at
// version for libvirt.
func Build(c *cache.Cache, img Image, name, version, arch, catalogPath string) (vagrantbox.Box, error) {
	dir, err := c.TempDir()
	if err != nil {
		return vagrantbox.Box{}, err
	}
	tmp, err := os.CreateTemp(dir, "qemubox-*.box")
	if err != nil {
		return vagrantbox.Box{}, err
	}
	defer os.Remove(tmp.Name())
	if err := Pack(tmp, img, arch); err != nil {
		tmp.Close()
		return vagrantbox.Box{}, fmt.Errorf("pack %s %s: %w", name, version, err)
	}
	if err := tmp.Close(); err != nil {
		return vagrantbox.Box{}, err
	}
	sha, _, err := cache.HashFile(tmp.Name())
	if err != nil {
		return vagrantbox.Box{}, err
	}
	p, err := c.Ingest(tmp.Name(), sha, 0)
	if err != nil {
		return vagrantbox.Box{}, err
	}
	b := vagrantbox.Box{Name: name, Version: version, Provider: "libvirt", Arch: arch, SHA256: sha, Path: p}
	if catalogPath != "" {
		if err := vagrantbox.WriteCatalog(catalogPath, b); err != nil {
			return vagrantbox.Box{}, err
		}
	}
	return b, nil
}
