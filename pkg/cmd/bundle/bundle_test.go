package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmd/box"
	"github.com/cododemo/cododemo/pkg/cmd/lock"
	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
)

type cli struct {
	env map[string]string
	dir string
}

func (c *cli) run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &cmdutil.Factory{
		IO:      &cmdutil.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
		Runner:  exec.OS{},
		Getenv:  func(k string) string { return c.env[k] },
		WorkDir: c.dir,
		Version: "test",
	}
	root := &cobra.Command{Use: "cododemo"}
	cmdutil.ConfigureRoot(root)
	root.AddCommand(box.NewCmdBox(f), lock.NewCmdLock(f), NewCmdBundle(f))
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestCommandsLockFetchPackImport(t *testing.T) {
	if _, err := osexec.LookPath("vagrant"); err != nil {
		t.Fatal("vagrant is required (apt-get install vagrant)")
	}
	srv := releasetest.New(t)
	signer := releasetest.NewSigner(t, "release")
	boxData := releasetest.Box(t, "virtualbox", 128<<10)
	srv.Publish(t, signer, releasetest.Release{Channel: "stable", Arch: "amd64", Version: "4593.2.5", Provider: "virtualbox", Box: boxData, Current: true})
	srv.Put("/artifacts/fleet-v1.0.0-linux-amd64.tar.gz", []byte("fleet stand-in"))
	// A mirror serving an etcd tarball of the room's own build, pinned by
	// etcd.release_sha256 instead of cododemo's built-in upstream hash.
	etcd := releasetest.EtcdTarball(t, "v3.5.21", "amd64")
	srv.Put("/artifacts/etcd-v3.5.21-linux-amd64.tar.gz", etcd)
	keyring := filepath.Join(t.TempDir(), "test.asc")
	signer.WritePublic(t, keyring)

	// Vagrant inherits the process environment: keep its state in the test.
	home1 := filepath.Join(t.TempDir(), "vagrant1")
	t.Setenv("VAGRANT_HOME", home1)
	t.Setenv("VAGRANT_CHECKPOINT_DISABLE", "1")

	labDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(labDir, "cododemo.yaml"), []byte("name: demo\nmirror: "+srv.URL+"\netcd: {release_sha256: "+releasetest.SHA256(etcd)+"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &cli{dir: labDir, env: map[string]string{"CODODEMO_CACHE_DIR": t.TempDir(), "CODODEMO_KEYRING": keyring, "VAGRANT_HOME": home1}}

	out, errOut, err := a.run(t, "lock")
	if err != nil {
		t.Fatalf("lock: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "locked flatcar stable amd64 4593.2.5: box flatcar-stable (virtualbox) sha256:"+releasetest.SHA256(boxData)) ||
		!strings.Contains(out, "locked artifact etcd sha256:"+releasetest.SHA256(etcd)+"\nlocked artifact fleet sha256:") ||
		!strings.Contains(errOut, "first use") ||
		!strings.Contains(errOut, "warning: etcd: etcd.release_sha256 replaces cododemo's built-in pin of etcd-v3.5.21-linux-amd64.tar.gz (adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c)") {
		t.Errorf("lock output:\n%s\n%s", out, errOut)
	}
	if _, err := os.Stat(filepath.Join(labDir, config.LockFile)); err != nil {
		t.Fatal(err)
	}

	out, errOut, err = a.run(t, "box", "fetch")
	if err != nil {
		t.Fatalf("box fetch: %v\n%s", err, errOut)
	}
	for _, w := range []string{"downloaded", "vagrant: added flatcar-stable 4593.2.5 (virtualbox)", "artifact fleet fleet-v1.0.0-linux-amd64.tar.gz",
		"artifact etcd etcd-v3.5.21-linux-amd64.tar.gz sha256:" + releasetest.SHA256(etcd)} {
		if !strings.Contains(out, w) {
			t.Errorf("fetch output lacks %q:\n%s", w, out)
		}
	}
	n := srv.Total()
	out, _, err = a.run(t, "box", "fetch")
	if err != nil || !strings.Contains(out, "cached") || !strings.Contains(out, "vagrant: already has") || srv.Total() != n {
		t.Errorf("second fetch (err %v, %d requests):\n%s", err, srv.Total()-n, out)
	}

	out, _, err = a.run(t, "box", "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []box.Entry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var sawBox bool
	for _, e := range entries {
		if e.Kind == "box" && e.Version == "4593.2.5" && e.InVagrant != nil && *e.InVagrant {
			sawBox = true
		}
	}
	if !sawBox || len(entries) != 4 { // box, catalog, fleet, etcd
		t.Errorf("box list = %s", out)
	}

	if _, errOut, err = a.run(t, "bundle", "pack", "kit"); err != nil {
		t.Fatalf("pack: %v\n%s", err, errOut)
	}

	// An attendee: fresh cache, fresh Vagrant, no lock, no network use.
	home2 := filepath.Join(t.TempDir(), "vagrant2")
	t.Setenv("VAGRANT_HOME", home2)
	b := &cli{dir: t.TempDir(), env: map[string]string{"CODODEMO_CACHE_DIR": t.TempDir(), "CODODEMO_KEYRING": keyring, "VAGRANT_HOME": home2}}
	n = srv.Total()
	out, errOut, err = b.run(t, "bundle", "import", filepath.Join(labDir, "kit"))
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	for _, w := range []string{"verified and imported 6 files", "wrote " + filepath.Join(b.dir, config.LockFile), "vagrant: added flatcar-stable 4593.2.5 (virtualbox)"} {
		if !strings.Contains(out, w) {
			t.Errorf("import output lacks %q:\n%s", w, out)
		}
	}
	if srv.Total() != n {
		t.Errorf("import used the network")
	}
	out, _, err = b.run(t, "box", "fetch", "--offline")
	if err != nil || !strings.Contains(out, "cached") {
		t.Errorf("offline fetch after import: %v\n%s", err, out)
	}
	out, _, err = b.run(t, "box", "prune", "--dry-run")
	if err != nil || !strings.Contains(out, "would remove 0 files") {
		t.Errorf("prune: %v\n%s", err, out)
	}
}

func TestBadFlagsAreUsageErrors(t *testing.T) {
	c := &cli{dir: t.TempDir(), env: map[string]string{"CODODEMO_CACHE_DIR": t.TempDir()}}
	for _, args := range [][]string{
		{"box", "fetch", "--channel", "nightly"},
		{"box", "fetch", "--version", "latest"},
		{"bundle", "pack"},
	} {
		_, _, err := c.run(t, args...)
		if err == nil || (!cmdutil.IsUsage(err) && !strings.Contains(err.Error(), "accepts 1 arg")) {
			t.Errorf("%v: err = %v", args, err)
		}
	}
	_, _, err := c.run(t, "bundle", "import", filepath.Join(c.dir, "nope"))
	if err == nil || !strings.Contains(err.Error(), "no readable manifest.json") {
		t.Errorf("import of nothing: %v", err)
	}
}

// The same round on libvirt, where the box is packed from Flatcar's QEMU
// image: lock pins the image, box fetch and box list show it, the bundle
// carries it, an attendee imports it offline into a real Vagrant.
func TestCommandsOnLibvirt(t *testing.T) {
	if _, err := osexec.LookPath("vagrant"); err != nil {
		t.Fatal("vagrant is required (apt-get install vagrant)")
	}
	const img = "flatcar_production_qemu_image.img"
	srv := releasetest.New(t)
	signer := releasetest.NewSigner(t, "release")
	srv.Put("/stable/amd64-usr/current/version.txt", releasetest.VersionTxt("4593.2.5"))
	srv.PublishQEMU(t, signer, releasetest.QEMURelease{Channel: "stable", Arch: "amd64", Version: "4593.2.5", File: img, Image: releasetest.QCOW2})
	keyring := filepath.Join(t.TempDir(), "test.asc")
	signer.WritePublic(t, keyring)
	home1 := filepath.Join(t.TempDir(), "vagrant1")
	t.Setenv("VAGRANT_HOME", home1)
	t.Setenv("VAGRANT_CHECKPOINT_DISABLE", "1")
	labDir := t.TempDir()
	cfg := "name: demo\nprovider: libvirt\nmirror: " + srv.URL + "\nfleet: {enabled: false}\netcd: {from: box}\n"
	if err := os.WriteFile(filepath.Join(labDir, "cododemo.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &cli{dir: labDir, env: map[string]string{"CODODEMO_CACHE_DIR": t.TempDir(), "CODODEMO_KEYRING": keyring, "VAGRANT_HOME": home1}}

	out, errOut, err := a.run(t, "lock")
	if err != nil {
		t.Fatalf("lock: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "locked flatcar stable amd64 4593.2.5: box flatcar-stable (libvirt) packed from "+img+" sha512:") ||
		!strings.Contains(errOut, "WARNING: CODODEMO_KEYRING=") {
		t.Errorf("lock output:\n%s\n%s", out, errOut)
	}
	if srv.Count("GET /stable/amd64-usr/4593.2.5/"+img) != 0 {
		t.Error("lock downloaded the image")
	}
	out, errOut, err = a.run(t, "box", "fetch")
	if err != nil {
		t.Fatalf("box fetch: %v\n%s", err, errOut)
	}
	for _, w := range []string{"box flatcar-stable 4593.2.5 (libvirt) sha256:", "downloaded", "packed from the QEMU image sha256:" + releasetest.SHA256(releasetest.QCOW2),
		"vagrant: added flatcar-stable 4593.2.5 (libvirt)"} {
		if !strings.Contains(out, w) {
			t.Errorf("fetch output lacks %q:\n%s", w, out)
		}
	}
	out, _, err = a.run(t, "box", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"box ", "flatcar-stable", "libvirt", "image ", img + " (stable/amd64)", "digests ", "yes"} {
		if !strings.Contains(out, w) {
			t.Errorf("box list lacks %q:\n%s", w, out)
		}
	}
	t.Logf("box list:\n%s", out)
	if _, errOut, err = a.run(t, "bundle", "pack", "kit"); err != nil {
		t.Fatalf("pack: %v\n%s", err, errOut)
	}

	home2 := filepath.Join(t.TempDir(), "vagrant2")
	t.Setenv("VAGRANT_HOME", home2)
	b := &cli{dir: t.TempDir(), env: map[string]string{"CODODEMO_CACHE_DIR": t.TempDir(), "CODODEMO_KEYRING": keyring, "VAGRANT_HOME": home2}}
	n := srv.Total()
	out, errOut, err = b.run(t, "bundle", "import", filepath.Join(labDir, "kit"))
	if err != nil {
		t.Fatalf("import: %v\n%s", err, errOut)
	}
	for _, w := range []string{"verified and imported 4 files", "vagrant: added flatcar-stable 4593.2.5 (libvirt)"} {
		if !strings.Contains(out, w) {
			t.Errorf("import output lacks %q:\n%s", w, out)
		}
	}
	if srv.Total() != n {
		t.Errorf("import used the network")
	}
	out, _, err = b.run(t, "box", "prune", "--dry-run", "--all")
	if err != nil || !strings.Contains(out, "would remove 0 files") {
		t.Errorf("prune keeps what the lock pins: %v\n%s", err, out)
	}
}
