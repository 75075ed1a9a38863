package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
	"github.com/cododemo/cododemo/pkg/image/verify"
)

const qemuFile = "flatcar_production_qemu_image.img"

// qemuPath is where the test server keeps testVersion's QEMU image.
const qemuPath = "/stable/amd64-usr/" + testVersion + "/" + qemuFile

// publishQEMU serves img as testVersion's QEMU image, signed by the
// fixture's key, under Flatcar's names.
func (f *fixture) publishQEMU(t *testing.T, img []byte) {
	t.Helper()
	f.srv.PublishQEMU(t, f.signer, releasetest.QEMURelease{Channel: "stable", Arch: "amd64", Version: testVersion, File: qemuFile, Image: img})
}

func libvirtLab() config.Lab {
	l := lab()
	l.Provider = "libvirt"
	return l
}

// withVagrant is the fixture's service with a real vagrant and a Vagrant
// home of the test's own.
func (f *fixture) withVagrant(t *testing.T, offline bool, home string) *Service {
	t.Helper()
	svc, err := New(Options{CacheDir: f.dir, Mirror: f.srv.URL, Offline: offline, Keyring: f.signer.Keyring,
		Runner: exec.OS{}, Getenv: func(string) string { return "" }, VagrantEnv: []string{"VAGRANT_HOME=" + home}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// On libvirt, lock pins the QEMU image from its signed DIGESTS without
// downloading it; up's box step then fetches, verifies, packs and adds
// the box to a real Vagrant once; offline reuses everything; a lock
// pinning another image of the same version replaces Vagrant's box.
func TestLibvirtBoxFromQEMUImage(t *testing.T) {
	if _, err := osexec.LookPath("vagrant"); err != nil {
		t.Fatal("vagrant is required (.ci/setup installs it)")
	}
	ctx := context.Background()
	f := newFixture(t)
	f.publishQEMU(t, releasetest.QCOW2)
	home := t.TempDir()
	svc := f.withVagrant(t, false, home)
	l := libvirtLab()

	lock, _, err := svc.Lock(ctx, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	upstream := "https://stable.release.flatcar-linux.net/amd64-usr/" + testVersion + "/" + qemuFile
	want := config.Image{File: qemuFile, URL: upstream, SHA512: sha512Hex(releasetest.QCOW2)}
	if lock.OS.Version != testVersion || lock.OS.Image == nil || *lock.OS.Image != want ||
		lock.OS.Box != (config.Box{Name: "flatcar-stable", Provider: "libvirt", URL: upstream}) {
		t.Fatalf("lock OS = %+v image %+v", lock.OS, lock.OS.Image)
	}
	if n := f.srv.Count("GET " + qemuPath); n != 0 {
		t.Errorf("lock downloaded the image %d times", n)
	}
	if !lock.Complete(l) {
		t.Error("a libvirt lock is not complete for its lab")
	}
	vbox := lab()
	if lock.Complete(vbox) {
		t.Error("a libvirt lock is complete for a VirtualBox lab")
	}
	// The lock file round-trips through the strict reader.
	lp := filepath.Join(t.TempDir(), config.LockFile)
	if err := config.WriteLock(lp, lock); err != nil {
		t.Fatal(err)
	}
	back, err := config.ReadLock(lp)
	if err != nil || back.OS.Image == nil || *back.OS.Image != want {
		t.Fatalf("read back: %v %+v", err, back)
	}

	b, err := svc.EnsureBox(ctx, l, back)
	if err != nil {
		t.Fatal(err)
	}
	if b.Hit || b.Provider != "libvirt" || b.Name != "flatcar-stable" || b.Version != testVersion || b.PackedFrom != releasetest.SHA256(releasetest.QCOW2) {
		t.Fatalf("box %+v", b)
	}
	if disk := boxImg(t, b.Path); !bytes.Equal(disk, releasetest.QCOW2) {
		t.Fatal("the box's box.img is not the verified image")
	}
	added, err := svc.AddToVagrant(ctx, b)
	if err != nil || !added {
		t.Fatalf("vagrant box add: %v %v", added, err)
	}
	if got, err := os.ReadFile(filepath.Join(home, "boxes", "flatcar-stable", testVersion, "libvirt", "box.img")); err != nil || !bytes.Equal(got, releasetest.QCOW2) {
		t.Fatalf("Vagrant's box.img: %v", err)
	}

	// A second up: nothing fetched, nothing packed, nothing added.
	before := f.srv.Total()
	again, err := svc.EnsureBox(ctx, l, back)
	if err != nil || !again.Hit || again.Path != b.Path || again.SHA256 != b.SHA256 {
		t.Fatalf("second EnsureBox: %v %+v", err, again)
	}
	if added, err := svc.AddToVagrant(ctx, again); err != nil || added {
		t.Fatalf("second add: %v %v", added, err)
	}
	// Offline, the same from the cache alone.
	off := f.withVagrant(t, true, home)
	if ob, err := off.EnsureBox(ctx, l, back); err != nil || !ob.Hit || ob.SHA256 != b.SHA256 {
		t.Fatalf("offline EnsureBox: %v %+v", err, ob)
	}
	if f.srv.Total() != before {
		t.Errorf("reuse made %d requests", f.srv.Total()-before)
	}

	// The release server now has another image under the same version
	// (a rebuilt test image, a mirror corrected): a new lock, a new box,
	// and Vagrant's old one is replaced.
	other := append(append([]byte(nil), releasetest.QCOW2...), bytes.Repeat([]byte{7}, 4096)...)
	f.publishQEMU(t, other)
	// Locked on another laptop, with a cache of its own.
	elsewhere, err := New(Options{CacheDir: t.TempDir(), Mirror: f.srv.URL, Keyring: f.signer.Keyring, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	relock, _, err := elsewhere.Lock(ctx, l, nil)
	if err != nil || relock.OS.Image.SHA512 != sha512Hex(other) {
		t.Fatalf("relock: %v %+v", err, relock.OS.Image)
	}
	// Here, the cached DIGESTS is older than that lock: the server's
	// copy is asked for; and the old lock no longer matches the server.
	nb, err := svc.EnsureBox(ctx, l, relock)
	if err != nil || nb.SHA256 == b.SHA256 {
		t.Fatalf("new box: %v %+v", err, nb)
	}
	if added, err := svc.AddToVagrant(ctx, nb); err != nil || !added {
		t.Fatalf("replace: %v %v", added, err)
	}
	if got, _ := os.ReadFile(filepath.Join(home, "boxes", "flatcar-stable", testVersion, "libvirt", "box.img")); !bytes.Equal(got, other) {
		t.Fatal("Vagrant still holds the old image")
	}
	if _, err := svc.EnsureBox(ctx, l, back); err == nil || !strings.Contains(err.Error(), "run `cododemo lock` again") {
		t.Fatalf("the old lock against the new DIGESTS: %v", err)
	}
}

// A tampered image, a tampered DIGESTS, a signature by another key and a
// lock the signed DIGESTS contradicts are refused with what and why, and
// the cache is left as it was.
func TestLibvirtRefuses(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		setup func(t *testing.T, f *fixture) *config.Lock
		want  []string
		sig   bool
	}{
		{"tampered image", func(t *testing.T, f *fixture) *config.Lock {
			bad := append([]byte(nil), releasetest.QCOW2...)
			bad[len(bad)-100] ^= 1
			f.srv.Put(qemuPath, bad)
			return nil
		}, []string{qemuFile, "image signature", "bad signature"}, true},
		{"another validly signed image", func(t *testing.T, f *fixture) *config.Lock {
			other := append(append([]byte(nil), releasetest.QCOW2...), 1, 2, 3)
			f.srv.Put(qemuPath, other)
			f.srv.Put(qemuPath+".sig", f.signer.Sign(t, other))
			return nil
		}, []string{qemuFile, "does not match the signed DIGESTS", "changed or damaged"}, false},
		{"image signed by another key", func(t *testing.T, f *fixture) *config.Lock {
			f.srv.Put(qemuPath+".sig", releasetest.NewSigner(t, "mallory").Sign(t, releasetest.QCOW2))
			return nil
		}, []string{qemuFile, "image signature"}, true},
		{"tampered DIGESTS", func(t *testing.T, f *fixture) *config.Lock {
			f.srv.Put(qemuPath+".DIGESTS", releasetest.Digests(qemuFile, []byte("another image")))
			return nil
		}, []string{"flatcar stable " + testVersion, "bad signature"}, true},
		{"DIGESTS signed by another key", func(t *testing.T, f *fixture) *config.Lock {
			f.srv.Put(qemuPath+".DIGESTS.sig", releasetest.NewSigner(t, "mallory").Sign(t, releasetest.Digests(qemuFile, releasetest.QCOW2)))
			return nil
		}, []string{"flatcar stable " + testVersion, "signature"}, true},
		{"DIGESTS without a signature", func(t *testing.T, f *fixture) *config.Lock {
			f.srv.Delete(qemuPath + ".DIGESTS.sig")
			return nil
		}, []string{"QEMU image DIGESTS signature", "no " + qemuFile + ".DIGESTS.sig and no " + qemuFile + ".DIGESTS.asc", "404"}, false},
		{"only a clearsigned DIGESTS, tampered", func(t *testing.T, f *fixture) *config.Lock {
			f.srv.Delete(qemuPath + ".DIGESTS.sig")
			asc := f.signer.ClearSign(t, releasetest.Digests(qemuFile, releasetest.QCOW2))
			f.srv.Put(qemuPath+".DIGESTS.asc", bytes.Replace(asc, []byte("# MD5 HASH"), []byte("# MD6 HASH"), 1))
			return nil
		}, []string{qemuFile + ".DIGESTS", "bad signature"}, true},
		{"lock contradicted by the signed DIGESTS", func(t *testing.T, f *fixture) *config.Lock {
			return &config.Lock{Version: config.LockVersion, Distro: "flatcar", Channel: "stable", Arch: "amd64", OS: config.OSRelease{
				Version: testVersion, Box: config.Box{Name: "flatcar-stable", Provider: "libvirt", URL: "https://x.invalid/i.img"},
				Image: &config.Image{File: qemuFile, URL: "https://x.invalid/i.img", SHA512: strings.Repeat("ab", 64)}}}
		}, []string{"lock pins " + qemuFile + " SHA512 abab", "signed DIGESTS of " + testVersion, "run `cododemo lock` again"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.publishQEMU(t, releasetest.QCOW2)
			lk := tc.setup(t, f)
			before := snapshot(t, f.dir)
			l := libvirtLab()
			if lk != nil {
				l.Version = testVersion
			}
			_, err := f.svc.EnsureBox(ctx, l, lk)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tc.sig && !errors.Is(err, verify.ErrBadSignature) {
				t.Errorf("not a signature error: %v", err)
			}
			if after := snapshot(t, f.dir); after != before {
				t.Errorf("cache changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// A release server with only the clearsigned DIGESTS (".DIGESTS.asc", as
// create_digests also writes it) and no detached ".DIGESTS.sig" still
// locks and fetches.
func TestLibvirtClearsignedDigests(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.publishQEMU(t, releasetest.QCOW2)
	f.srv.Delete(qemuPath + ".DIGESTS.sig")
	f.srv.Put(qemuPath+".DIGESTS.asc", f.signer.ClearSign(t, releasetest.Digests(qemuFile, releasetest.QCOW2)))
	l := libvirtLab()
	lock, _, err := f.svc.Lock(ctx, l, nil)
	if err != nil || lock.OS.Image.SHA512 != sha512Hex(releasetest.QCOW2) {
		t.Fatalf("lock: %v %+v", err, lock)
	}
	b, err := f.svc.EnsureBox(ctx, l, lock)
	if err != nil {
		t.Fatal(err)
	}
	// And offline, from the cached copy, verified again.
	if ob, err := f.service(t, true).EnsureBox(ctx, l, lock); err != nil || !ob.Hit || ob.SHA256 != b.SHA256 {
		t.Fatalf("offline: %v %+v", err, ob)
	}
}

// Offline with nothing cached says what is missing and what to do; with
// the DIGESTS cached but not the image, it says that.
func TestLibvirtOfflineSaysWhatToDo(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.publishQEMU(t, releasetest.QCOW2)
	off := f.service(t, true)
	l := libvirtLab()
	_, err := off.EnsureBox(ctx, l, nil)
	for _, w := range []string{"offline: no signed DIGESTS of the QEMU image (libvirt) for flatcar stable amd64 current", "cododemo box fetch", "cododemo bundle import"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	lock, _, err := f.svc.Lock(ctx, l, nil) // caches the signed DIGESTS only
	if err != nil {
		t.Fatal(err)
	}
	before := f.srv.Total()
	_, err = off.EnsureBox(ctx, l, lock)
	for _, w := range []string{"offline: flatcar stable amd64 " + testVersion + ": QEMU image " + qemuFile, "is not in the cache", "cododemo box fetch"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
	if f.srv.Total() != before {
		t.Errorf("offline made %d requests", f.srv.Total()-before)
	}
}

func sha512Hex(b []byte) string {
	s := sha512.Sum512(b)
	return hex.EncodeToString(s[:])
}

func boxImg(t *testing.T, p string) []byte {
	t.Helper()
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	tr := tar.NewReader(fh)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no box.img in %s: %v", p, err)
		}
		if h.Name == "box.img" {
			b, _ := io.ReadAll(tr)
			return b
		}
	}
}
