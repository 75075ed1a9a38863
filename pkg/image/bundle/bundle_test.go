package bundle

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
)

const version = "4593.2.5"

type kit struct {
	srv    *releasetest.Server
	signer *releasetest.Signer
	lab    config.Lab
	lock   *config.Lock
	lockP  string
	bundle string
}

// packed builds a lab against a local release server, locks and fetches
// it, and packs a bundle.
func packed(t testing.TB) *kit {
	t.Helper()
	k := &kit{srv: releasetest.New(t), signer: releasetest.NewSigner(t, "release")}
	k.srv.Publish(t, k.signer, releasetest.Release{Channel: "stable", Arch: "amd64", Version: version, Provider: "virtualbox",
		Box: releasetest.Box(t, "virtualbox", 256<<10), Current: true})
	k.srv.Put("/artifacts/fleet-v1.0.0-linux-amd64.tar.gz", []byte("fleet tarball stand-in"))
	etcd := releasetest.EtcdTarball(t, "v3.5.21", "amd64")
	k.srv.Put("/artifacts/etcd-v3.5.21-linux-amd64.tar.gz", etcd)
	k.srv.Put("/artifacts/cododemo-kit-amd64.tar", releasetest.KitTarball(t, "amd64"))
	tpl := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tpl, "ignition"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tpl, "ignition", "node.bu.tmpl"), []byte("variant: flatcar\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k.lab = config.Default()
	k.lab.Templates = "file::" + tpl
	k.lab.Etcd.ReleaseSHA256 = releasetest.SHA256(etcd)
	// The image kit travels like fleet: pinned on first use from the
	// mirror, carried by the bundle.
	k.lab.Kit.Enabled = true
	svc := k.service(t, t.TempDir(), false)
	ctx := context.Background()
	var err error
	if k.lock, _, err = svc.Lock(ctx, k.lab, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EnsureBox(ctx, k.lab, k.lock); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EnsureArtifacts(ctx, k.lock); err != nil {
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
	// box, catalog, signature, fleet, etcd, kit, lock, one template
	if len(m.Files) != 8 || m.Templates == nil {
		t.Fatalf("manifest files = %+v", m.Files)
	}
	return k
}

func (k *kit) service(t testing.TB, cacheDir string, offline bool) *image.Service {
	t.Helper()
	home := filepath.Join(t.TempDir(), "vagrant-home")
	svc, err := image.New(image.Options{CacheDir: cacheDir, Mirror: k.srv.URL, Offline: offline, Keyring: k.signer.Keyring,
		Runner: exec.OS{}, Getenv: func(string) string { return "" }, VagrantEnv: []string{"VAGRANT_HOME=" + home}})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestPackImportRoundTripWithVagrant(t *testing.T) {
	if _, err := osexec.LookPath("vagrant"); err != nil {
		t.Fatal("vagrant is required for this test (apt-get install vagrant)")
	}
	k := packed(t)
	before := k.srv.Total()
	svc := k.service(t, t.TempDir(), true)
	imp, err := Import(svc, k.bundle)
	if err != nil {
		t.Fatal(err)
	}
	if imp.Lock.OS.Version != version || imp.Lock.OS.Box.SHA256 != k.lock.OS.Box.SHA256 {
		t.Fatalf("imported lock = %+v", imp.Lock)
	}
	ctx := context.Background()
	b, err := svc.EnsureBox(ctx, k.lab, imp.Lock)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Hit {
		t.Error("box after import was not a cache hit")
	}
	arts, err := svc.EnsureArtifacts(ctx, imp.Lock)
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 3 || !arts[0].Hit || !arts[1].Hit || !arts[2].Hit || arts[0].Name != "etcd" || arts[0].SHA256 != k.lab.Etcd.ReleaseSHA256 ||
		arts[2].Name != "kit" || arts[2].SHA256 != k.lock.Artifacts["kit"].SHA256 {
		t.Fatalf("artifacts after import: %+v", arts)
	}
	if _, err := image.ArtifactPath(svc.Cache, imp.Lock, "kit"); err != nil {
		t.Fatal(err)
	}
	if _, err := image.ArtifactPath(svc.Cache, imp.Lock, "etcd"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Templates(ctx, k.lab.Templates, imp.Lock.Templates.SHA256); err != nil {
		t.Fatal(err)
	}
	added, err := svc.AddToVagrant(ctx, b)
	if err != nil || !added {
		t.Fatalf("vagrant box add: added=%v %v", added, err)
	}
	if k.srv.Total() != before {
		t.Errorf("import used the network: %d requests", k.srv.Total()-before)
	}
	// Vagrant knows the box by its real name and version.
	out, err := exec.Output(ctx, exec.OS{}, exec.Cmd{Name: "vagrant", Args: []string{"box", "list", "--machine-readable"},
		Env: append([]string{"VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE=1"}, svc.Vagrant.Env...)})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{",box-name,flatcar-stable", ",box-provider,virtualbox", ",box-version," + version} {
		if !strings.Contains(string(out), want) {
			t.Errorf("vagrant box list lacks %q:\n%s", want, out)
		}
	}
	if !svc.Vagrant.Has(b.Box) {
		t.Error("Has() = false after add")
	}
	if added, err := svc.AddToVagrant(ctx, b); err != nil || added {
		t.Errorf("second add: added=%v %v", added, err)
	}
}

func cacheFiles(t *testing.T, dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestCorruptBundlesAreRefusedWhole(t *testing.T) {
	k := packed(t)
	blobs, _ := filepath.Glob(filepath.Join(k.bundle, "blobs", "*"))
	sort.Slice(blobs, func(i, j int) bool { return fileSize(blobs[i]) > fileSize(blobs[j]) })
	boxBlob := blobs[0] // the biggest is the box
	cases := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string
	}{
		{"flipped byte", func(t *testing.T, dir string) {
			p := filepath.Join(dir, rel(k.bundle, boxBlob))
			data, _ := os.ReadFile(p)
			data[1000] ^= 1
			os.WriteFile(p, data, 0o644)
		}, []string{rel(k.bundle, boxBlob) + ": corrupt: sha256"}},
		{"missing file and truncated lock", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, rel(k.bundle, boxBlob)))
			os.WriteFile(filepath.Join(dir, config.LockFile), []byte("version: 1\n"), 0o644)
		}, []string{rel(k.bundle, boxBlob) + ": missing", config.LockFile + ": corrupt"}},
		{"symlink instead of file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, rel(k.bundle, boxBlob))
			os.Remove(p)
			if err := os.Symlink(boxBlob, p); err != nil {
				t.Fatal(err)
			}
		}, []string{"not a regular file"}},
		{"no manifest", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, ManifestFile))
		}, []string{"no readable manifest.json"}},
		{"escaping path", func(t *testing.T, dir string) {
			p := filepath.Join(dir, ManifestFile)
			data, _ := os.ReadFile(p)
			os.WriteFile(p, []byte(strings.Replace(string(data), `"path": "cododemo.lock"`, `"path": "../cododemo.lock"`, 1)), 0o644)
		}, []string{`"../cododemo.lock" is not clean or leaves the bundle`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "kit")
			copyTree(t, k.bundle, dir)
			tc.break_(t, dir)
			cacheDir := t.TempDir()
			svc := k.service(t, cacheDir, true)
			_, err := Import(svc, dir)
			if err == nil {
				t.Fatal("corrupt bundle imported")
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
}

func TestBundleSignedByOtherKeyRefused(t *testing.T) {
	k := packed(t)
	other := releasetest.NewSigner(t, "other")
	svc, err := image.New(image.Options{CacheDir: t.TempDir(), Offline: true, Keyring: other.Keyring, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Import(svc, k.bundle); err == nil || !strings.Contains(err.Error(), "bad signature") {
		t.Fatalf("err = %v", err)
	}
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func rel(base, p string) string {
	r, _ := filepath.Rel(base, p)
	return filepath.ToSlash(r)
}

func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel(src, p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A release signed after Flatcar rotated its signing subkey: the packing
// laptop took the new subkey in online; the bundle carries that key, so a
// laptop whose cododemo predates the rotation imports it with no network.
// A forger's key in its place does not help a forged catalog.
func TestBundleCarriesRefreshedKey(t *testing.T) {
	srv, signer := releasetest.New(t), releasetest.NewSigner(t, "release")
	anchor := signer.Keyring // what the "old binary" embeds
	srv.Put("/"+image.KeyMirrorPath, signer.Rotate(t))
	srv.Publish(t, signer, releasetest.Release{Channel: "stable", Arch: "amd64", Version: version, Provider: "virtualbox",
		Box: releasetest.Box(t, "virtualbox", 64<<10), Current: true})
	newSvc := func(cache string, offline bool) *image.Service {
		svc, err := image.New(image.Options{CacheDir: cache, Mirror: srv.URL, Offline: offline, Keyring: anchor, RefreshKeyring: true,
			Getenv: func(string) string { return "" }})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	lab := config.Default()
	lab.Fleet.Enabled, lab.Etcd.From = false, "box"
	svc := newSvc(t.TempDir(), false)
	ctx := context.Background()
	lock, _, err := svc.Lock(ctx, lab, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.EnsureBox(ctx, lab, lock); err != nil {
		t.Fatal(err)
	}
	lockP := filepath.Join(t.TempDir(), config.LockFile)
	if err := config.WriteLock(lockP, lock); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "kit")
	m, err := Pack(svc, dir, PackOptions{Lock: lock, LockPath: lockP})
	if err != nil || m.Key != image.RefreshedKeyFile {
		t.Fatalf("pack: %v, key %q", err, m.Key)
	}

	// Another laptop, offline, same old binary.
	other := newSvc(t.TempDir(), true)
	if _, err := Import(other, dir); err != nil {
		t.Fatalf("import: %v", err)
	}
	if _, err := os.Stat(other.RefreshedKeyPath()); err != nil {
		t.Errorf("refreshed key not kept after import: %v", err)
	}
	if _, err := other.ResolveOS(ctx, "stable", "amd64", version, "virtualbox"); err != nil {
		t.Errorf("offline resolve after import: %v", err)
	}

	// The key swapped for a forger's (manifest fixed up to match): refused,
	// cache untouched.
	forged := filepath.Join(t.TempDir(), "kit")
	copyTree(t, dir, forged)
	mallory := releasetest.NewSigner(t, "mallory")
	evil := mallory.Rotate(t)
	if err := os.WriteFile(filepath.Join(forged, filepath.FromSlash(m.Key)), evil, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range m.Files {
		if m.Files[i].Path == m.Key {
			m.Files[i].SHA256, m.Files[i].Size = releasetest.SHA256(evil), int64(len(evil))
		}
	}
	writeManifest(t, forged, m)
	third := newSvc(t.TempDir(), true)
	if _, err := Import(third, forged); err == nil || !strings.Contains(err.Error(), "holds no key with the primary key") {
		t.Fatalf("forged key: %v", err)
	}
	if _, err := os.Stat(third.RefreshedKeyPath()); err == nil {
		t.Error("forged key kept")
	}
}

func writeManifest(t *testing.T, dir string, m *Manifest) {
	t.Helper()
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
