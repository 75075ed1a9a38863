package vagrantbox

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/image/release"
)

func TestCatalogJSONKeepsNameVersionChecksum(t *testing.T) {
	b := Box{Name: "flatcar-stable", Version: "4593.2.5", Provider: "virtualbox", Arch: "amd64", SHA256: strings.Repeat("a", 64), Path: "/c/blobs/sha256/aaa"}
	data, err := CatalogJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	var c release.Catalog
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	p := c.Versions[0].Providers[0]
	if c.Name != b.Name || c.Versions[0].Version != b.Version || p.URL != "file:///c/blobs/sha256/aaa" || p.ChecksumType != "sha256" || p.Checksum != b.SHA256 {
		t.Fatalf("%s", data)
	}
	if FileURL(`C:/Users/x/box`) != "file:///C:/Users/x/box" {
		t.Errorf("windows path: %s", FileURL(`C:/Users/x/box`))
	}
}

func TestHasAndAdd(t *testing.T) {
	home := t.TempDir()
	v := Vagrant{Env: []string{"VAGRANT_HOME=" + home}}
	b := Box{Name: "org/box", Version: "1.0.0", Provider: "libvirt"}
	if v.Has(b) {
		t.Fatal("empty home has a box")
	}
	dir := filepath.Join(home, "boxes", "org-VAGRANTSLASH-box", "1.0.0", "libvirt")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "metadata.json"), []byte("{}"), 0o644)
	if !v.Has(b) {
		t.Fatal("Has missed the box")
	}
	fake := &exec.Fake{Handler: func(c exec.Cmd) (string, error) { return "", nil }}
	v.Runner = fake
	if err := v.Add(context.Background(), "/c/cat.json", b); err != nil {
		t.Fatal(err)
	}
	got := fake.Calls[0]
	if got.String() != "vagrant box add --provider libvirt --box-version 1.0.0 /c/cat.json" {
		t.Errorf("cmd = %s", got)
	}
	if !strings.Contains(strings.Join(got.Env, " "), "VAGRANT_CHECKPOINT_DISABLE=1") {
		t.Errorf("env = %v", got.Env)
	}
}
