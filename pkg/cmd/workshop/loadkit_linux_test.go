//go:build linux

package workshop

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/cmdutil/cmdtest"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/image/cache"
	"github.com/cododemo/cododemo/pkg/image/releasetest"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/kit/kittest"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// `workshop load-kit` with no argument, in a lab with kit.enabled: the
// kit the lock pins, taken from the cache by its sha256, docker-loaded on
// the lab's nodes (sshd stand-ins sharing a real dockerd). Without the
// kit in the cache, or pinned, or with --inventory, it says what to do.
func TestLoadKitFromTheLock(t *testing.T) {
	d := kittest.Start(t)
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	real, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "bin", "docker"), []byte("#!/bin/sh\nexec "+real+" -H "+d.Host+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.DefaultFile), []byte("kit:\n  enabled: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, ".cododemo")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := inventory.Write(filepath.Join(state, labstate.InventoryFile), c.Inventory); err != nil {
		t.Fatal(err)
	}
	kitTar := releasetest.KitTarball(t, "amd64")
	lock := &config.Lock{Version: config.LockVersion, Distro: "flatcar", Channel: "stable", Arch: "amd64",
		Artifacts: map[string]config.Artifact{"kit": {URL: "http://mirror.invalid/artifacts/cododemo-kit-amd64.tar", SHA256: releasetest.SHA256(kitTar)}}}
	if err := config.WriteLock(filepath.Join(dir, config.LockFile), lock); err != nil {
		t.Fatal(err)
	}

	cdir := t.TempDir()
	run := func(args ...string) cmdtest.Result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		env := map[string]string{"HOME": dir, cache.EnvDir: cdir}
		f := cmdutil.Factory{Getenv: func(k string) string { return env[k] }, WorkDir: dir}
		return cmdtest.Run(ctx, f, append([]string{"workshop"}, args...), func(f *cmdutil.Factory) *cobra.Command { return NewCmdWorkshop(f) })
	}
	r := run("load-kit")
	if r.Code != 1 || !strings.Contains(r.Stderr, "artifact kit (sha256 "+releasetest.SHA256(kitTar)+") is not in the cache") {
		t.Fatalf("kit not cached: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if _, err := cache.Open(cdir).PutBytes(kitTar); err != nil {
		t.Fatal(err)
	}
	r = run("load-kit")
	if r.Code != 0 || strings.Count(r.Stdout, "ok   core-0") != 3 || !strings.Contains(r.Stdout, "loaded cododemo/hello:1, cododemo/web:1, cododemo/lb:1") {
		t.Fatalf("load-kit from the lock: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if out, err := d.Docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}"); err != nil || !strings.Contains(out, "cododemo/lb:1") {
		t.Fatalf("images: %v %q", err, out)
	}

	if r := run("load-kit", "--inventory", c.InventoryPath); r.Code != 2 || !strings.Contains(r.Stderr, "with --inventory there is no lab whose lock pins one") {
		t.Errorf("--inventory without a kit: exit %d\n%s", r.Code, r.Stderr)
	}
	lock.Artifacts = nil
	if err := config.WriteLock(filepath.Join(dir, config.LockFile), lock); err != nil {
		t.Fatal(err)
	}
	if r := run("load-kit"); r.Code != 1 || !strings.Contains(r.Stderr, "the lab's lock pins no image kit") {
		t.Errorf("lock without a kit: exit %d\n%s", r.Code, r.Stderr)
	}
}
