package bringup

import (
	"bytes"
	"context"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
	"github.com/cododemo/cododemo/pkg/lab"
)

// up's pin and box steps on libvirt, with a real vagrant: a loopback
// mirror serves a small qcow2 under Flatcar's QEMU image names, signed by
// a test key given through CODODEMO_KEYRING. The first up locks, fetches,
// verifies, packs and adds the box; the second reuses all of it; an
// offline up with an empty cache says what to do.
func TestPinAndBoxOnLibvirt(t *testing.T) {
	if _, err := osexec.LookPath("vagrant"); err != nil {
		t.Fatal("vagrant is required (.ci/setup installs it)")
	}
	srv := releasetest.New(t)
	signer := releasetest.NewSigner(t, "release")
	const version = "4593.2.5"
	srv.Put("/stable/amd64-usr/current/version.txt", releasetest.VersionTxt(version))
	srv.PublishQEMU(t, signer, releasetest.QEMURelease{Channel: "stable", Arch: "amd64", Version: version,
		File: "flatcar_production_qemu_image.img", Image: releasetest.QCOW2})
	keyring := filepath.Join(t.TempDir(), "test.asc")
	signer.WritePublic(t, keyring)
	home := t.TempDir()
	// vagrant inherits the process environment: keep its state in the test.
	t.Setenv("VAGRANT_HOME", home)
	t.Setenv("VAGRANT_CHECKPOINT_DISABLE", "1")
	env := map[string]string{"CODODEMO_KEYRING": keyring, "CODODEMO_CACHE_DIR": t.TempDir(), "VAGRANT_HOME": home}
	getenv := func(k string) string { return env[k] }

	dir := t.TempDir()
	cfg := "name: lv\nprovider: libvirt\nmirror: " + srv.URL + "\nfleet: {enabled: false}\netcd: {from: box}\n"
	if err := os.WriteFile(filepath.Join(dir, "cododemo.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	up := func(offline bool) (string, error) {
		t.Helper()
		l, err := lab.Load(lab.Options{Source: config.Source{Dir: dir, Getenv: getenv}, Secrets: lab.SecretsCreate})
		if err != nil {
			t.Fatal(err)
		}
		var errOut bytes.Buffer
		s := &State{Lab: l, Opts: Options{Offline: offline},
			Env: Env{Runner: exec.OS{}, Getenv: getenv, Out: &errOut, ErrOut: &errOut, Version: "test"}}
		err = Run(context.Background(), s, []Step{{"pin", Pin}, {"box", Box}})
		return errOut.String(), err
	}

	out, err := up(false)
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	t.Logf("first up:\n%s", out)
	for _, w := range []string{
		"WARNING: CODODEMO_KEYRING=" + keyring + ": release signatures are checked against that keyring, not Flatcar's",
		"lock: resolving flatcar stable current",
		"QEMU image flatcar_production_qemu_image.img: signature and SHA512 checked",
		"==> box flatcar-stable " + version + " (libvirt, packed from Flatcar's signed QEMU image)",
		"packing the vagrant-libvirt box flatcar-stable " + version,
		"vagrant: added flatcar-stable " + version + " (libvirt)",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("first up lacks %q:\n%s", w, out)
		}
	}
	lock, err := config.ReadLock(filepath.Join(dir, config.LockFile))
	if err != nil || lock.OS.Image == nil || lock.OS.Box.Provider != "libvirt" {
		t.Fatalf("lock: %v %+v", err, lock)
	}
	if got, err := os.ReadFile(filepath.Join(home, "boxes", "flatcar-stable", version, "libvirt", "box.img")); err != nil || !bytes.Equal(got, releasetest.QCOW2) {
		t.Fatalf("Vagrant's box.img: %v", err)
	}

	before := srv.Total()
	out, err = up(false)
	if err != nil {
		t.Fatalf("second up: %v\n%s", err, out)
	}
	if strings.Contains(out, "packing") || strings.Contains(out, "vagrant: added") || strings.Contains(out, "lock: resolving") || srv.Total() != before {
		t.Errorf("second up redid work (%d requests):\n%s", srv.Total()-before, out)
	}

	// Offline, a new cache and no lock: it says what is missing and how
	// to get it.
	env["CODODEMO_CACHE_DIR"] = t.TempDir()
	if err := os.Remove(filepath.Join(dir, config.LockFile)); err != nil {
		t.Fatal(err)
	}
	out, err = up(true)
	if err == nil {
		t.Fatalf("offline up with an empty cache passed:\n%s", out)
	}
	for _, w := range []string{"offline: no signed DIGESTS of the QEMU image (libvirt) for flatcar stable amd64 current", "cododemo box fetch", "cododemo bundle import"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("offline error lacks %q: %v", w, err)
		}
	}
}
