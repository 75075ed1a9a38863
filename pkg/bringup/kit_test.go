package bringup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/firstboot"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/plan"
	"github.com/cododemo/cododemo/pkg/render"
)

// With kit.enabled the first-boot server serves the cached kit at the
// path the nodes' configs fetch (/artifacts/cododemo-kit-<arch>.tar), and
// the bytes a node receives carry the sha256 the lock pins, which is what
// Ignition and the cloud-config unit check. A cache holding another file
// than the lock pins is refused before anything is served.
func TestKitServedAtFirstBoot(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.DefaultFile), []byte("kit:\n  enabled: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := lab.Load(lab.Options{Source: config.Source{Dir: dir}, Secrets: lab.SecretsRead})
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a kit tarball stand-in: the server serves bytes, the lock pins them")
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	kitPath := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(kitPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	lock := &config.Lock{Version: config.LockVersion, Distro: "flatcar", Channel: "stable", Arch: "amd64",
		Artifacts: map[string]config.Artifact{
			"fleet": {URL: "https://example.invalid/fleet-v1.0.0-linux-amd64.tar.gz", SHA256: strings.Repeat("f", 64)},
			"etcd":  {URL: "https://example.invalid/etcd-v3.5.21-linux-amd64.tar.gz", SHA256: strings.Repeat("e", 64)},
			"kit":   {URL: "http://mirror.invalid/artifacts/cododemo-kit-amd64.tar", SHA256: sha},
		}}
	if l.Plan, err = plan.New(l.Lab, lock, l.Plan.Secrets); err != nil {
		t.Fatal(err)
	}
	pa, ok := l.Plan.Artifact("kit")
	if !ok || pa.Path != "/artifacts/cododemo-kit-amd64.tar" || pa.URL != "http://10.0.2.2:8765/artifacts/cododemo-kit-amd64.tar" || pa.SHA256 != sha {
		t.Fatalf("plan's kit: %+v (found %v)", pa, ok)
	}
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	arts := []image.Artifact{
		{Name: "fleet", SHA256: strings.Repeat("f", 64), Path: other},
		{Name: "etcd", SHA256: strings.Repeat("e", 64), Path: other},
		{Name: "kit", SHA256: sha, Path: kitPath},
	}
	files, err := served(l, &render.Result{}, arts)
	if err != nil {
		t.Fatal(err)
	}
	var kitFile []firstboot.File
	for _, f := range files {
		if f.URLPath == pa.Path {
			kitFile = append(kitFile, f)
		}
	}
	if len(kitFile) != 1 {
		t.Fatalf("served: %+v", files)
	}
	srv, err := firstboot.New(kitFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(ctx, netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get("http://" + srv.Addr() + pa.Path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", pa.Path, resp.StatusCode, err)
	}
	if gs := sha256.Sum256(got); hex.EncodeToString(gs[:]) != pa.SHA256 {
		t.Fatalf("the node got bytes with sha256 %x, its config checks %s", gs, pa.SHA256)
	}
	if n := srv.Fetched(pa.Path); n != 1 {
		t.Errorf("Fetched = %d", n)
	}

	// The cache's kit is not the lock's: refused, naming the kit.
	arts[2].SHA256 = strings.Repeat("0", 64)
	if _, err := served(l, &render.Result{}, arts); err == nil || !strings.Contains(err.Error(), "artifact kit: the lock pins") {
		t.Fatalf("mismatched kit: %v", err)
	}
	// Not in the cache at all (no `box fetch` or bundle import yet).
	if _, err := served(l, &render.Result{}, arts[:2]); err == nil || !strings.Contains(err.Error(), "artifact kit is not in the cache") {
		t.Fatalf("kit not cached: %v", err)
	}
}
