package qemubox

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/image/cache"
	"github.com/cododemo/cododemo/pkg/image/download"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
	"github.com/cododemo/cododemo/pkg/image/vagrantbox"
	"github.com/cododemo/cododemo/pkg/image/verify"
)

// fakeQcow2 is a qcow2 header (magic, version 3, virtual size) and some
// bytes: enough for VirtualSize and for Vagrant, which does not boot it.
func fakeQcow2(size uint64, body int) []byte {
	b := make([]byte, 512+body)
	copy(b, []byte{'Q', 'F', 'I', 0xfb})
	binary.BigEndian.PutUint32(b[4:], 3)
	binary.BigEndian.PutUint64(b[24:], size)
	for i := 512; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}

// digests writes a DIGESTS file the way ci_automation_common.sh does.
func digests(name string, data []byte) []byte {
	return []byte(fmt.Sprintf("# MD5 HASH\n%x  %s\n# SHA1 HASH\n%x  %s\n# SHA512 HASH\n%x  %s\n",
		md5.Sum(data), name, sha1.Sum(data), name, sha512.Sum512(data), name))
}

type lab struct {
	srv    *releasetest.Server
	signer *releasetest.Signer
	f      *Fetcher
	src    Source
	img    []byte
	dir    string
}

func newLab(t *testing.T) *lab {
	l := &lab{srv: releasetest.New(t), signer: releasetest.NewSigner(t, "qemubox"), img: fakeQcow2(8694792192, 64<<10)}
	l.src = Source{Base: l.srv.URL + "/stable", Channel: "stable", Arch: "amd64", Version: "4593.2.5"}
	u, _ := l.src.URL()
	path := strings.TrimPrefix(u, l.srv.URL)
	l.dir = path
	l.srv.Put(path, l.img)
	l.srv.Put(path+".sig", l.signer.Sign(t, l.img))
	l.srv.Put(path+".DIGESTS", digests("flatcar_production_qemu_image.img", l.img))
	l.f = &Fetcher{Downloader: &download.Downloader{Cache: cache.Open(t.TempDir())}, Keyring: l.signer.Keyring}
	return l
}

func TestFetchVerifyCachePack(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	img, err := l.f.Fetch(ctx, l.src, "")
	if err != nil {
		t.Fatal(err)
	}
	if img.Hit || img.SHA256 != releasetest.SHA256(l.img) {
		t.Fatalf("%+v", img)
	}
	// Pinned and cached: no request at all, offline too.
	before := l.srv.Total()
	l.f.Downloader.Offline = true
	again, err := l.f.Fetch(ctx, l.src, img.SHA256)
	if err != nil || !again.Hit || again.Path != img.Path || l.srv.Total() != before {
		t.Fatalf("cached fetch: %+v %v, %d requests", again, err, l.srv.Total()-before)
	}
	l.f.Downloader.Offline = false

	catalog := filepath.Join(t.TempDir(), "flatcar-stable.libvirt.json")
	box, err := Build(l.f.Downloader.Cache, img, "flatcar-stable", "4593.2.5", "amd64", catalog)
	if err != nil {
		t.Fatal(err)
	}
	// Content-addressed: the same image packs to the same box.
	box2, err := Build(l.f.Downloader.Cache, img, "flatcar-stable", "4593.2.5", "amd64", "")
	if err != nil || box2.SHA256 != box.SHA256 || box2.Path != box.Path {
		t.Fatalf("repack: %+v %v (first %s)", box2, err, box.SHA256)
	}
	if got, _, _ := cache.HashFile(box.Path); got != box.SHA256 {
		t.Fatalf("box blob hashes %s, recorded %s", got, box.SHA256)
	}
	names, meta, disk := readBox(t, box.Path)
	if strings.Join(names, " ") != "metadata.json Vagrantfile box.img" {
		t.Fatalf("box holds %v", names)
	}
	if meta.Provider != "libvirt" || meta.Format != "qcow2" || meta.VirtualSize != 9 || meta.Architecture != "amd64" {
		t.Fatalf("metadata %+v", meta)
	}
	if !bytes.Equal(disk, l.img) {
		t.Fatal("box.img is not the verified image")
	}
	var cat struct {
		Name     string `json:"name"`
		Versions []struct {
			Version   string `json:"version"`
			Providers []struct {
				Name, URL, Checksum string
			} `json:"providers"`
		} `json:"versions"`
	}
	data, err := os.ReadFile(catalog)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cat); err != nil || cat.Name != "flatcar-stable" || cat.Versions[0].Version != "4593.2.5" ||
		cat.Versions[0].Providers[0].Name != "libvirt" || cat.Versions[0].Providers[0].Checksum != box.SHA256 ||
		cat.Versions[0].Providers[0].URL != vagrantbox.FileURL(box.Path) {
		t.Fatalf("catalog %v: %s", err, data)
	}
}

// Vagrant itself adds the packed box from its catalog, under its real
// name and version, for libvirt.
func TestVagrantAddsTheBox(t *testing.T) {
	if _, err := osexec.LookPath("vagrant"); err != nil {
		t.Fatal("vagrant is required (.ci/setup installs it)")
	}
	l := newLab(t)
	img, err := l.f.Fetch(context.Background(), l.src, "")
	if err != nil {
		t.Fatal(err)
	}
	catalog := filepath.Join(t.TempDir(), "catalog.json")
	box, err := Build(l.f.Downloader.Cache, img, "flatcar-stable", "4593.2.5", "amd64", catalog)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	cmd := osexec.Command("vagrant", "box", "add", "--provider", "libvirt", "--box-version", "4593.2.5", catalog)
	cmd.Env = append(os.Environ(), "VAGRANT_HOME="+home, "VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("vagrant box add: %v\n%s", err, out)
	}
	v := vagrantbox.Vagrant{Env: []string{"VAGRANT_HOME=" + home}}
	if !v.Has(box) {
		t.Fatalf("Vagrant has no %s %s for libvirt in %s", box.Name, box.Version, home)
	}
	if got, err := os.ReadFile(filepath.Join(home, "boxes", "flatcar-stable", "4593.2.5", "libvirt", "box.img")); err != nil || !bytes.Equal(got, l.img) {
		t.Fatalf("Vagrant's box.img: %v", err)
	}
}

// A tampered image, a signature by another key and a DIGESTS that does
// not match are refused, and nothing of the bad image stays in the cache.
func TestFetchRefuses(t *testing.T) {
	cases := map[string]func(l *lab, t *testing.T){
		"tampered image": func(l *lab, t *testing.T) {
			bad := append([]byte(nil), l.img...)
			bad[600] ^= 1
			l.srv.Put(l.dir, bad)
		},
		"signed by another key": func(l *lab, t *testing.T) {
			other := releasetest.NewSigner(t, "mallory")
			l.srv.Put(l.dir+".sig", other.Sign(t, l.img))
		},
		"DIGESTS of another image": func(l *lab, t *testing.T) {
			l.srv.Put(l.dir+".DIGESTS", digests("flatcar_production_qemu_image.img", fakeQcow2(1, 10)))
		},
		"DIGESTS without the image": func(l *lab, t *testing.T) {
			l.srv.Put(l.dir+".DIGESTS", digests("flatcar_production_qemu_uefi_image.img", l.img))
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			l := newLab(t)
			edit(l, t)
			_, err := l.f.Fetch(context.Background(), l.src, "")
			if err == nil {
				t.Fatal("accepted")
			}
			if name == "signed by another key" && !errors.Is(err, verify.ErrBadSignature) {
				t.Errorf("not a signature error: %v", err)
			}
			blobs, _ := filepath.Glob(filepath.Join(l.f.Downloader.Cache.Dir, "blobs", "sha256", "*"))
			if len(blobs) != 0 {
				t.Fatalf("%v: left in the cache: %v", err, blobs)
			}
		})
	}
}

func TestNamesAndDigests(t *testing.T) {
	if n, _ := ImageName("arm64"); n != "flatcar_production_qemu_uefi_image.img" {
		t.Fatal(n)
	}
	if _, err := ImageName("riscv"); err == nil {
		t.Fatal("riscv has an image?")
	}
	if _, err := SHA512From([]byte("# SHA512 HASH\nzz  x.img\n"), "x.img"); err == nil {
		t.Fatal("a short hash passed")
	}
	if _, err := VirtualSize(writeTemp(t, []byte("not a qcow2 image at all, longer than 32 bytes"))); err == nil {
		t.Fatal("no magic passed")
	}
}

func writeTemp(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readBox(t *testing.T, p string) (names []string, meta Metadata, disk []byte) {
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	tr := tar.NewReader(fh)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		b, _ := io.ReadAll(tr)
		switch h.Name {
		case "metadata.json":
			if err := json.Unmarshal(b, &meta); err != nil {
				t.Fatal(err)
			}
		case "box.img":
			disk = b
		}
	}
}
