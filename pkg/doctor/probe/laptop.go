package probe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/cododemo/cododemo/pkg/doctor"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/image/cache"
	"github.com/cododemo/cododemo/pkg/image/verify"
)

// Now implements doctor.Probes.
func (h *Host) Now() time.Time {
	if h.Clock == nil {
		return time.Now()
	}
	return h.Clock()
}

// Kernel implements doctor.Probes.
func (h *Host) Kernel(ctx context.Context) (string, error) {
	if h.GOOS != "linux" {
		return "", errors.ErrUnsupported
	}
	s, err := readFile(ctx, filepath.Join(h.ProcDir, "sys", "kernel", "osrelease"))
	return strings.TrimSpace(s), err
}

// KVMModule implements doctor.Probes. /sys/module lists a module whether
// it was loaded or built into the kernel (/proc/modules lists only the
// loaded ones, and may not exist at all).
func (h *Host) KVMModule(ctx context.Context) (doctor.KVMModule, error) {
	if h.GOOS != "linux" {
		return doctor.KVMModule{}, errors.ErrUnsupported
	}
	if err := ctx.Err(); err != nil {
		return doctor.KVMModule{}, err
	}
	dir := filepath.Join(h.SysDir, "module")
	if _, err := os.Stat(dir); err != nil {
		return doctor.KVMModule{}, err
	}
	var m doctor.KVMModule
	for _, n := range []string{"kvm", "kvm_intel", "kvm_amd"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
			m.Loaded = append(m.Loaded, n)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "kvm", "parameters", "enable_virt_at_load")); err == nil {
		m.VirtAtLoadKnown = true
		m.VirtAtLoad = ParseBoolParam(string(b))
	}
	return m, nil
}

// ParseBoolParam reads a module parameter file: "Y", "1" (true), "N", "0".
func ParseBoolParam(s string) bool {
	switch strings.TrimSpace(s) {
	case "Y", "y", "1":
		return true
	}
	return false
}

// SigningKey implements doctor.Probes: the keyring pkg/image verifies
// with, $CODODEMO_KEYRING when set, else the embedded key extended by the
// cache's refreshed copy.
func (h *Host) SigningKey(ctx context.Context) (doctor.SigningKey, error) {
	if err := ctx.Err(); err != nil {
		return doctor.SigningKey{}, err
	}
	if p := h.Getenv(image.EnvKeyring); p != "" {
		kr, err := verify.Load(p)
		if err != nil {
			return doctor.SigningKey{}, err
		}
		k, _ := NewestSigningSubkey(kr.Entities(), nil)
		return k, nil
	}
	embedded, err := verify.Flatcar()
	if err != nil {
		return doctor.SigningKey{}, err
	}
	dir := h.CacheDir
	if dir == "" {
		if dir, err = cache.DefaultDir(h.Getenv); err != nil {
			dir = ""
		}
	}
	kr := embedded
	if dir != "" {
		if data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(image.RefreshedKeyFile))); err == nil {
			if r, err := embedded.Refresh(data, "cached key"); err == nil {
				kr = r
			}
		}
	}
	k, _ := NewestSigningSubkey(kr.Entities(), embedded.Entities())
	return k, nil
}

// NewestSigningSubkey finds the signing subkey of keys that expires last
// (one that never expires wins), and says whether it is missing from base
// (that is, came from a refreshed copy). false: keys hold no signing subkey.
func NewestSigningSubkey(keys, base openpgp.EntityList) (doctor.SigningKey, bool) {
	var best doctor.SigningKey
	found := false
	inBase := func(fp []byte) bool {
		for _, e := range base {
			for _, sk := range e.Subkeys {
				if string(sk.PublicKey.Fingerprint) == string(fp) {
					return true
				}
			}
		}
		return false
	}
	for _, e := range keys {
		for _, sk := range e.Subkeys {
			if sk.Sig == nil || !sk.Sig.FlagsValid || !sk.Sig.FlagSign {
				continue
			}
			var exp time.Time
			if l := sk.Sig.KeyLifetimeSecs; l != nil && *l != 0 {
				exp = sk.PublicKey.CreationTime.Add(time.Duration(*l) * time.Second)
			}
			better := !found || (!best.Expires.IsZero() && (exp.IsZero() || exp.After(best.Expires)))
			if better {
				found = true
				best = doctor.SigningKey{ID: sk.PublicKey.KeyIdString(), Expires: exp, Refreshed: base != nil && !inBase(sk.PublicKey.Fingerprint)}
			}
		}
	}
	return best, found
}
