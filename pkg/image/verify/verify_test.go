package verify

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func entity(t *testing.T, created time.Time, lifetime uint32) (*openpgp.Entity, *Keyring) {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Time: func() time.Time { return created }, KeyLifetimeSecs: lifetime}
	e, err := openpgp.NewEntity("t", "", "t@example.invalid", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	kr, err := Parse(pub.Bytes(), "test key")
	if err != nil {
		t.Fatal(err)
	}
	return e, kr
}

func sign(t *testing.T, e *openpgp.Entity, data []byte, at time.Time, armored bool) []byte {
	t.Helper()
	var sig bytes.Buffer
	cfg := &packet.Config{Time: func() time.Time { return at }}
	var err error
	if armored {
		err = openpgp.ArmoredDetachSign(&sig, e, bytes.NewReader(data), cfg)
	} else {
		err = openpgp.DetachSign(&sig, e, bytes.NewReader(data), cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig.Bytes()
}

func TestDetached(t *testing.T) {
	now := time.Now()
	e, kr := entity(t, now.Add(-time.Hour), 0)
	data := []byte("catalog")
	for _, armored := range []bool{false, true} {
		sig := sign(t, e, data, now.Add(-time.Minute), armored)
		if err := kr.DetachedBytes(data, sig); err != nil {
			t.Errorf("armored=%v: %v", armored, err)
		}
		if err := kr.DetachedBytes([]byte("catalog!"), sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("armored=%v tampered: %v", armored, err)
		}
	}
	if err := kr.DetachedBytes(data, []byte("not a signature")); !errors.Is(err, ErrBadSignature) {
		t.Errorf("garbage: %v", err)
	}
}

// Flatcar rotates signing subkeys yearly; a release signed while its key
// was valid must still verify after the key expires.
func TestSignatureFromSinceExpiredKey(t *testing.T) {
	created := time.Now().Add(-48 * time.Hour)
	e, kr := entity(t, created, 3600) // valid for the first hour only
	data := []byte("old release")
	if err := kr.DetachedBytes(data, sign(t, e, data, created.Add(10*time.Minute), false)); err != nil {
		t.Fatalf("signature made while valid: %v", err)
	}
	// The fallback only forgives expiry, never a wrong signature.
	if err := kr.DetachedBytes([]byte("new release"), sign(t, e, data, created.Add(10*time.Minute), false)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("old signature over other data accepted: %v", err)
	}
}

func TestEmbeddedKeyring(t *testing.T) {
	kr, err := Flatcar()
	if err != nil {
		t.Fatal(err)
	}
	e := kr.Entities()[0]
	if e.PrimaryKey.KeyIdString() != FlatcarKeyID {
		t.Fatalf("id %s", e.PrimaryKey.KeyIdString())
	}
	var ident string
	for name := range e.Identities {
		ident = name
	}
	if !strings.Contains(ident, "buildbot@flatcar-linux.org") {
		t.Errorf("identity %q", ident)
	}
	if _, err := Parse([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxx\n-----END PGP PUBLIC KEY BLOCK-----\n"), "junk"); err == nil {
		t.Error("junk keyring parsed")
	}
}

func public(t *testing.T, e *openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Refresh takes in a rotated signing subkey only when the keyring's own
// primary key bound it.
func TestRefresh(t *testing.T) {
	now := time.Now()
	e, anchor := entity(t, now.Add(-time.Hour), 0)
	if err := e.AddSigningSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA}); err != nil {
		t.Fatal(err)
	}
	data := []byte("catalog signed after the rotation")
	sig := sign(t, e, data, now, false)
	var unknown *UnknownKeyError
	if err := anchor.DetachedBytes(data, sig); !errors.As(err, &unknown) || !errors.Is(err, ErrBadSignature) || unknown.KeyID == "" ||
		!strings.Contains(err.Error(), unknown.KeyID) {
		t.Fatalf("before refresh: %v", err)
	}
	rotated := public(t, e)
	kr, err := anchor.Refresh(rotated, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	if err := kr.DetachedBytes(data, sig); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
	if !strings.Contains(kr.Source, "refreshed from publisher") {
		t.Errorf("source %q", kr.Source)
	}

	// Another primary key is no help, whatever it claims to be.
	mallory, _ := entity(t, now.Add(-time.Hour), 0)
	if _, err := anchor.Refresh(public(t, mallory), "mallory"); err == nil || !strings.Contains(err.Error(), "holds no key with the primary key") {
		t.Fatalf("other primary: %v", err)
	}
	// A subkey whose binding signature is broken does not get in: the
	// key does not even parse.
	bad := append([]byte(nil), rotated...)
	bad[len(bad)-10] ^= 0x01
	if kr2, err := anchor.Refresh(bad, "tampered"); err == nil && kr2.DetachedBytes(data, sig) == nil {
		t.Fatal("tampered binding accepted")
	}
}

func TestNewestSigningExpiry(t *testing.T) {
	kr, err := Flatcar()
	if err != nil {
		t.Fatal(err)
	}
	exp, ok := kr.NewestSigningExpiry()
	if !ok || exp.Year() != 2025 {
		t.Fatalf("embedded key's newest signing subkey expires %v %v, want 2025 (see the comment on flatcarKey)", exp, ok)
	}
}
