package probe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/image/verify"
)

// sysTree lays out a /sys/module as a Linux host with KVM shows it.
func sysTree(t *testing.T, modules []string, virtAtLoad string) string {
	t.Helper()
	dir := t.TempDir()
	for _, m := range modules {
		if err := os.MkdirAll(filepath.Join(dir, "module", m, "parameters"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if virtAtLoad != "" {
		if err := os.WriteFile(filepath.Join(dir, "module", "kvm", "parameters", "enable_virt_at_load"), []byte(virtAtLoad+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestKVMModule(t *testing.T) {
	ctx := context.Background()
	h := &Host{GOOS: "linux", SysDir: sysTree(t, []string{"kvm", "kvm_intel", "vboxdrv"}, "Y")}
	m, err := h.KVMModule(ctx)
	if err != nil || !slices.Equal(m.Loaded, []string{"kvm", "kvm_intel"}) || !m.VirtAtLoad || !m.VirtAtLoadKnown {
		t.Errorf("6.12 host with kvm_intel: %+v %v", m, err)
	}
	// Before 6.12 the parameter does not exist.
	h.SysDir = sysTree(t, []string{"kvm", "kvm_amd"}, "")
	if m, err = h.KVMModule(ctx); err != nil || m.VirtAtLoadKnown || !slices.Equal(m.Loaded, []string{"kvm", "kvm_amd"}) {
		t.Errorf("older host: %+v %v", m, err)
	}
	h.SysDir = sysTree(t, []string{"vboxdrv"}, "")
	if m, err = h.KVMModule(ctx); err != nil || len(m.Loaded) != 0 {
		t.Errorf("no kvm: %+v %v", m, err)
	}
	h.GOOS = "darwin"
	if _, err := h.KVMModule(ctx); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("darwin: %v", err)
	}
	// This machine's own /sys: whatever it holds, it reads without error.
	if _, err := (&Host{GOOS: "linux", SysDir: "/sys"}).KVMModule(ctx); err != nil {
		t.Errorf("real /sys: %v", err)
	}
	for in, want := range map[string]bool{"Y\n": true, "1": true, "N\n": false, "0": false, "": false} {
		if ParseBoolParam(in) != want {
			t.Errorf("ParseBoolParam(%q) != %v", in, want)
		}
	}
}

func TestKernel(t *testing.T) {
	proc := t.TempDir()
	if err := os.MkdirAll(filepath.Join(proc, "sys", "kernel"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proc, "sys", "kernel", "osrelease"), []byte("6.12.9-amd64\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if k, err := (&Host{GOOS: "linux", ProcDir: proc}).Kernel(context.Background()); k != "6.12.9-amd64" || err != nil {
		t.Errorf("kernel %q %v", k, err)
	}
	if _, err := (&Host{GOOS: "windows"}).Kernel(context.Background()); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("windows: %v", err)
	}
}

// The embedded key's newest signing subkey, read from the real key file.
func TestSigningKeyEmbedded(t *testing.T) {
	h := &Host{Getenv: func(string) string { return "" }, CacheDir: t.TempDir()}
	k, err := h.SigningKey(context.Background())
	if err != nil || k.ID != "85F7C8868837E271" || k.Expires.Format(time.DateOnly) != "2025-03-06" || k.Refreshed {
		t.Errorf("embedded key: %+v %v", k, err)
	}
}

// A refreshed copy in the cache with a newer subkey certified by a primary
// the keyring holds wins; the probe reports it as refreshed.
func TestSigningKeyRefreshedCopy(t *testing.T) {
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: 0}
	e, err := openpgp.NewEntity("test", "", "test@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	sub := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, KeyLifetimeSecs: uint32((400 * 24 * time.Hour).Seconds())}
	if err := e.AddSigningSubkey(sub); err != nil {
		t.Fatal(err)
	}
	base := openpgp.EntityList{&openpgp.Entity{PrimaryKey: e.PrimaryKey, Identities: e.Identities, Subkeys: e.Subkeys[:1]}}
	k, ok := NewestSigningSubkey(openpgp.EntityList{e}, base)
	want := e.Subkeys[len(e.Subkeys)-1].PublicKey
	if !ok || k.ID != want.KeyIdString() || !k.Refreshed || k.Expires.Sub(want.CreationTime) != 400*24*time.Hour {
		t.Errorf("newest %+v ok %v, want %s refreshed", k, ok, want.KeyIdString())
	}
	// A keyring given by CODODEMO_KEYRING is judged as it is.
	kr, _ := verify.Flatcar()
	path := filepath.Join(t.TempDir(), "kr.gpg")
	f, _ := os.Create(path)
	for _, ent := range kr.Entities() {
		_ = ent.Serialize(f)
	}
	f.Close()
	h := &Host{Getenv: func(k string) string { return map[string]string{image.EnvKeyring: path}[k] }}
	if got, err := h.SigningKey(context.Background()); err != nil || got.ID != "85F7C8868837E271" {
		t.Errorf("--keyring: %+v %v", got, err)
	}
}
