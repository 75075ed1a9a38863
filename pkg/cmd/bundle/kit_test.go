package bundle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
)

// The image kit through the commands, on a loopback mirror: `lock` pins
// it on first use and says so, `box fetch` caches it, `bundle pack`
// carries it and `bundle import` on a fresh cache puts it back, after
// which an offline `box fetch` finds it without the network. The lab runs
// no fleet and takes etcd from the box, so the kit is the one artifact;
// Vagrant is left out (--no-vagrant), the other test has it.
func TestCommandsKitLockFetchPackImport(t *testing.T) {
	srv := releasetest.New(t)
	signer := releasetest.NewSigner(t, "release")
	srv.Publish(t, signer, releasetest.Release{Channel: "stable", Arch: "amd64", Version: "4593.2.5", Provider: "virtualbox",
		Box: releasetest.Box(t, "virtualbox", 64<<10), Current: true})
	keyring := filepath.Join(t.TempDir(), "test.asc")
	signer.WritePublic(t, keyring)
	kitTar := releasetest.KitTarball(t, "amd64")
	srv.Put("/artifacts/cododemo-kit-amd64.tar", kitTar)
	sha := releasetest.SHA256(kitTar)
	labDir := t.TempDir()
	cfg := "name: demo\nmirror: " + srv.URL + "\nfleet: {enabled: false}\netcd: {from: box}\nkit: {enabled: true}\n"
	if err := os.WriteFile(filepath.Join(labDir, "cododemo.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &cli{dir: labDir, env: map[string]string{"CODODEMO_CACHE_DIR": t.TempDir(), "CODODEMO_KEYRING": keyring}}
	out, errOut, err := a.run(t, "lock")
	if err != nil {
		t.Fatalf("lock: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "locked artifact kit sha256:"+sha) ||
		!strings.Contains(errOut, "kit: no kit.sha256 set; pinned what "+srv.URL+"/artifacts/cododemo-kit-amd64.tar served ("+sha+") on first use") {
		t.Errorf("lock output:\n%s\n%s", out, errOut)
	}
	lock, err := config.ReadLock(filepath.Join(labDir, config.LockFile))
	if err != nil || lock.Artifacts["kit"].SHA256 != sha {
		t.Fatalf("lock file: %v %+v", err, lock)
	}
	if out, errOut, err = a.run(t, "box", "fetch", "--no-vagrant"); err != nil || !strings.Contains(out, "artifact kit cododemo-kit-amd64.tar") {
		t.Fatalf("box fetch: %v\n%s\n%s", err, out, errOut)
	}
	if _, errOut, err = a.run(t, "bundle", "pack", "room"); err != nil {
		t.Fatalf("pack: %v\n%s", err, errOut)
	}

	b := &cli{dir: t.TempDir(), env: map[string]string{"CODODEMO_CACHE_DIR": t.TempDir(), "CODODEMO_KEYRING": keyring}}
	if err := os.WriteFile(filepath.Join(b.dir, "cododemo.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	n := srv.Total()
	out, errOut, err = b.run(t, "bundle", "import", "--no-vagrant", filepath.Join(labDir, "room"))
	if err != nil {
		t.Fatalf("import: %v\n%s\n%s", err, out, errOut)
	}
	if got, err := config.ReadLock(filepath.Join(b.dir, config.LockFile)); err != nil || got.Artifacts["kit"] != lock.Artifacts["kit"] {
		t.Fatalf("imported lock: %v %+v", err, got)
	}
	out, errOut, err = b.run(t, "box", "fetch", "--offline", "--no-vagrant")
	if err != nil || !strings.Contains(out, "artifact kit cododemo-kit-amd64.tar sha256:"+sha) {
		t.Errorf("offline fetch after import: %v\n%s\n%s", err, out, errOut)
	}
	if srv.Total() != n {
		t.Errorf("import and the offline fetch used the network: %d requests", srv.Total()-n)
	}
}
