package bundle

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/image/cache"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
)

const qemuFile = "flatcar_production_qemu_image.img"

// packedLibvirt locks and fetches a libvirt lab (from a QEMU image served
// under Flatcar's names, signed by a test key) and packs a bundle.
func packedLibvirt(t *testing.T) *kit {
	t.Helper()
	k := &kit{srv: releasetest.New(t), signer: releasetest.NewSigner(t, "release")}
	k.srv.Put("/stable/amd64-usr/current/version.txt", releasetest.VersionTxt(version))
	k.srv.PublishQEMU(t, k.signer, releasetest.QEMURelease{Channel: "stable", Arch: "amd64", Version: version, File: qemuFile, Image: releasetest.QCOW2})
	k.lab = config.Default()
	k.lab.Provider = "libvirt"
	k.lab.Fleet.Enabled, k.lab.Etcd.From = false, "box"
	svc := k.service(t, t.TempDir(), false)
	ctx := context.Background()
	var err error
	if k.lock, _, err = svc.Lock(ctx, k.lab, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EnsureBox(ctx, k.lab, k.lock); err != nil {
		t.Fatal(err)
	}
	k.lockP = filepath.Join(t.TempDir(), config.LockFile)
	if err := config.WriteLock(k.lockP, k.lock); err != nil {
		t.Fatal(err)
	}
	k.bundle = filepath.Join(t.TempDir(), "lab-kit")
	m, err := Pack(svc, k.bundle, PackOptions{Lock: k.lock, LockPath: k.lockP})
	if err != nil {
		t.Fatal(err)
	}
	// image, DIGESTS, its signature, lock: not the box packed from it.
	var kinds []string
	for _, r := range m.Refs {
		kinds = append(kinds, r.Kind)
	}
	if len(m.Files) != 4 || strings.Join(kinds, " ") != "image digests" {
		t.Fatalf("manifest files %+v refs %v", m.Files, kinds)
	}
	return k
}

// A libvirt lab's bundle imports offline on another laptop, whose up then
// packs the box and a real Vagrant adds it, with no network at all.
func TestLibvirtBundleRoundTripWithVagrant(t *testing.T) {
	if _, err := osexec.LookPath("vagrant"); err != nil {
		t.Fatal("vagrant is required for this test (apt-get install vagrant)")
	}
	k := packedLibvirt(t)
	before := k.srv.Total()
	svc := k.service(t, t.TempDir(), true)
	imp, err := Import(svc, k.bundle)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Lock.OS.Image == nil || imp.Lock.OS.Image.SHA512 != k.lock.OS.Image.SHA512 {
		t.Fatalf("imported lock = %+v", imp.Lock.OS)
	}
	ctx := context.Background()
	b, err := svc.EnsureBox(ctx, k.lab, imp.Lock)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Hit || b.Provider != "libvirt" {
		t.Errorf("box after import: %+v", b)
	}
	if added, err := svc.AddToVagrant(ctx, b); err != nil || !added {
		t.Fatalf("vagrant box add: added=%v %v", added, err)
	}
	img, err := os.ReadFile(filepath.Join(svc.Vagrant.Home(), "boxes", "flatcar-stable", version, "libvirt", "box.img"))
	if err != nil || !bytes.Equal(img, releasetest.QCOW2) {
		t.Fatalf("Vagrant's box.img: %v", err)
	}
	if k.srv.Total() != before {
		t.Errorf("import and up used the network: %d requests", k.srv.Total()-before)
	}
}

// A swapped image (manifest and ref fixed up to match, so only the
// signed DIGESTS can tell), a DIGESTS swapped likewise, and a bundle
// checked against another key are refused, the cache untouched.
func TestLibvirtBundleTamperingRefused(t *testing.T) {
	k := packedLibvirt(t)
	m := readTestManifest(t, k.bundle)
	var imgRef, digRef cache.Ref
	for _, r := range m.Refs {
		switch r.Kind {
		case cache.KindImage:
			imgRef = r
		case cache.KindDigests:
			digRef = r
		}
	}
	// swap replaces blob old with data, renaming it and fixing the
	// manifest's files and refs up as a careful forger would.
	swap := func(t *testing.T, dir, old string, data []byte, fix func(r *cache.Ref)) {
		mm := readTestManifest(t, dir)
		sha := releasetest.SHA256(data)
		if err := os.Remove(filepath.Join(dir, "blobs", old)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "blobs", sha), data, 0o644); err != nil {
			t.Fatal(err)
		}
		for i := range mm.Files {
			if mm.Files[i].Path == "blobs/"+old {
				mm.Files[i] = File{Path: "blobs/" + sha, SHA256: sha, Size: int64(len(data))}
			}
		}
		for i := range mm.Refs {
			if mm.Refs[i].SHA256 == old {
				mm.Refs[i].SHA256 = sha
				fix(&mm.Refs[i])
			}
		}
		writeManifest(t, dir, mm)
	}
	evil := append(append([]byte(nil), releasetest.QCOW2...), []byte("evil")...)
	cases := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string
	}{
		{"image swapped", func(t *testing.T, dir string) {
			swap(t, dir, imgRef.SHA256, evil, func(r *cache.Ref) {})
		}, []string{"image " + imgRef.Key() + ": its blob's SHA512 is " + sha512Of(evil), "the lock pins " + k.lock.OS.Image.SHA512}},
		{"image swapped, ref claims its SHA512", func(t *testing.T, dir string) {
			swap(t, dir, imgRef.SHA256, evil, func(r *cache.Ref) { r.SHA512 = sha512Of(evil) })
		}, []string{"not the QEMU image the lock pins", "no QEMU image matching the lock"}},
		{"DIGESTS swapped", func(t *testing.T, dir string) {
			swap(t, dir, digRef.SHA256, releasetest.Digests(qemuFile, evil), func(r *cache.Ref) {})
		}, []string{"DIGESTS " + digRef.Key() + ": bad signature", "no signed DIGESTS for " + qemuFile}},
		{"image missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "blobs", imgRef.SHA256))
		}, []string{"blobs/" + imgRef.SHA256 + ": missing"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "kit")
			copyTree(t, k.bundle, dir)
			tc.break_(t, dir)
			cacheDir := t.TempDir()
			_, err := Import(k.service(t, cacheDir, true), dir)
			if err == nil {
				t.Fatal("tampered bundle imported")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if files := cacheFiles(t, cacheDir); len(files) != 0 {
				t.Errorf("cache touched: %v", files)
			}
		})
	}
	t.Run("another key", func(t *testing.T) {
		other := releasetest.NewSigner(t, "other")
		svc, err := image.New(image.Options{CacheDir: t.TempDir(), Offline: true, Keyring: other.Keyring, Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Import(svc, k.bundle); err == nil || !strings.Contains(err.Error(), "bad signature") {
			t.Fatalf("err = %v", err)
		}
	})
}

func sha512Of(b []byte) string {
	s := sha512.Sum512(b)
	return hex.EncodeToString(s[:])
}
