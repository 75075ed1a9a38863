// Package verify checks detached OpenPGP signatures against the Flatcar
// image-signing key embedded in the binary, so that a mirror or a USB stick
// can carry the release files without being trusted itself.
package verify

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// flatcarKey is the public key "Flatcar Buildbot (Official Builds)
// <buildbot@flatcar-linux.org>", primary key
// F88CFEDEFF29A5B4D9523864E25D9AED0593B34A (ID E25D9AED0593B34A), as
// published at https://www.flatcar.org/security/image-signing-key/Flatcar_Image_Signing_Key.asc.
// Copied from github.com/flatcar/flatcar-website,
// static/security/image-signing-key/Flatcar_Image_Signing_Key.asc at commit
// af684710ec4b0340ea3f51501b6556d44eabf075. Flatcar rotates the signing
// subkey yearly: newest subkey in this copy is
// E9426D8B67E35DF476BD048185F7C8868837E271 (2023-03-07 .. 2025-03-06).
// The primary key is the trust anchor: a release signed by a later subkey
// makes cododemo fetch Flatcar's current key once and take in only the
// subkeys this primary certifies (Keyring.Refresh; pkg/image keeps that
// copy in its cache and in bundles). Refreshing this file still saves
// that first fetch.
//
//go:embed flatcar-image-signing-key.asc
var flatcarKey []byte

// FlatcarKeyID is the long ID of the Flatcar image-signing primary key.
const FlatcarKeyID = "E25D9AED0593B34A"

// Keyring is a set of trusted public keys.
type Keyring struct {
	entities openpgp.EntityList
	// Source names where the keys came from, for error messages.
	Source string
}

// Flatcar returns the embedded Flatcar image-signing keyring.
func Flatcar() (*Keyring, error) {
	return Parse(flatcarKey, "embedded Flatcar image-signing key "+FlatcarKeyID)
}

// Parse reads an armored or binary public keyring.
func Parse(data []byte, source string) (*Keyring, error) {
	var el openpgp.EntityList
	var err error
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not an OpenPGP public keyring: %w", source, err)
	}
	if len(el) == 0 {
		return nil, fmt.Errorf("%s: no keys", source)
	}
	return &Keyring{entities: el, Source: source}, nil
}

// Load reads a keyring file (for --keyring).
func Load(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return Parse(data, path)
}

// Entities exposes the keys (tests sign with their own).
func (k *Keyring) Entities() openpgp.EntityList { return k.entities }

// ErrBadSignature wraps every verification failure, so callers can tell a
// forged or corrupt file from an I/O problem.
var ErrBadSignature = errors.New("bad signature")

// Detached verifies sig (binary or armored) over signed. A signature made
// while its subkey was valid stays valid after the subkey expires: a lock
// pinning last year's release must still verify after Flatcar rotates.
func (k *Keyring) Detached(signed io.ReadSeeker, sig []byte) error {
	verifyAt := func(now func() time.Time) (*packet.Signature, error) {
		if _, err := signed.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		sigR := io.Reader(bytes.NewReader(sig))
		if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN")) {
			// go-crypto has no armored variant returning the packet;
			// dearmor first.
			b, err := dearmor(sig)
			if err != nil {
				return nil, err
			}
			sigR = bytes.NewReader(b)
		}
		s, _, err := openpgp.VerifyDetachedSignature(k.entities, signed, sigR, &packet.Config{Time: now})
		return s, err
	}
	s, err := verifyAt(nil)
	if errors.Is(err, pgperrors.ErrKeyExpired) && s != nil {
		created := s.CreationTime
		_, err = verifyAt(func() time.Time { return created })
	}
	if err != nil {
		if errors.Is(err, pgperrors.ErrUnknownIssuer) {
			return &UnknownKeyError{KeyID: issuer(sig), Keyring: k}
		}
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return nil
}

// UnknownKeyError is a signature by a key the keyring does not hold: a
// forgery, or a signing subkey newer than the keyring (Flatcar rotates
// yearly). It is an ErrBadSignature.
type UnknownKeyError struct {
	KeyID   string // the signature's issuer, "" when it names none
	Keyring *Keyring
}

func (e *UnknownKeyError) Error() string {
	who := "a key"
	if e.KeyID != "" {
		who = "key " + e.KeyID
	}
	msg := fmt.Sprintf("%v: signed by %s, which is not in the %s", ErrBadSignature, who, e.Keyring.Source)
	if exp, ok := e.Keyring.NewestSigningExpiry(); ok {
		msg += fmt.Sprintf(" (its newest signing subkey expires %s)", exp.Format(time.DateOnly))
	}
	return msg
}

func (e *UnknownKeyError) Is(target error) bool { return target == ErrBadSignature }

// issuer names the key that made sig, from its issuer fingerprint or ID.
func issuer(sig []byte) string {
	if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN")) {
		b, err := dearmor(sig)
		if err != nil {
			return ""
		}
		sig = b
	}
	p, err := packet.Read(bytes.NewReader(sig))
	if err != nil {
		return ""
	}
	s, ok := p.(*packet.Signature)
	switch {
	case !ok:
		return ""
	case len(s.IssuerFingerprint) > 0:
		return fmt.Sprintf("%X", s.IssuerFingerprint)
	case s.IssuerKeyId != nil:
		return fmt.Sprintf("%016X", *s.IssuerKeyId)
	}
	return ""
}

// NewestSigningExpiry is when the keyring's last-expiring signing key
// expires; false when one never does (or there is none).
func (k *Keyring) NewestSigningExpiry() (time.Time, bool) {
	var newest time.Time
	consider := func(created time.Time, lifetime *uint32) bool {
		if lifetime == nil || *lifetime == 0 {
			return false // never expires
		}
		if exp := created.Add(time.Duration(*lifetime) * time.Second); exp.After(newest) {
			newest = exp
		}
		return true
	}
	for _, e := range k.entities {
		for _, sk := range e.Subkeys {
			if sk.Sig == nil || !sk.Sig.FlagsValid || !sk.Sig.FlagSign {
				continue
			}
			if !consider(sk.PublicKey.CreationTime, sk.Sig.KeyLifetimeSecs) {
				return time.Time{}, false
			}
		}
	}
	return newest, !newest.IsZero()
}

// Refresh returns k extended with the subkeys of those keys in fetched
// whose primary key is one of k's own. This is how a newer copy of
// Flatcar's key is taken in safely from any source: the primary key
// never expires while the signing subkeys rotate yearly, and every
// subkey carries a binding signature by its primary, which go-crypto
// checks while reading (a key with a forged binding does not parse). So
// fetched can add only subkeys the trusted primary made. Keys with
// another primary are ignored; none matching is an error.
func (k *Keyring) Refresh(fetched []byte, source string) (*Keyring, error) {
	got, err := Parse(fetched, source)
	if err != nil {
		return nil, err
	}
	var merged openpgp.EntityList
	refreshed := false
	for _, anchor := range k.entities {
		e := anchor
		for _, f := range got.entities {
			if !bytes.Equal(f.PrimaryKey.Fingerprint, anchor.PrimaryKey.Fingerprint) {
				continue
			}
			// Keep the anchor's identities and subkeys, add what is new.
			cp := *anchor
			cp.Subkeys = append([]openpgp.Subkey(nil), anchor.Subkeys...)
			for _, sk := range f.Subkeys {
				if !slices.ContainsFunc(cp.Subkeys, func(have openpgp.Subkey) bool {
					return bytes.Equal(have.PublicKey.Fingerprint, sk.PublicKey.Fingerprint)
				}) {
					cp.Subkeys = append(cp.Subkeys, sk)
				}
			}
			e, refreshed = &cp, true
		}
		merged = append(merged, e)
	}
	if !refreshed {
		return nil, fmt.Errorf("%s: holds no key with the primary key of the %s", source, k.Source)
	}
	return &Keyring{entities: merged, Source: k.Source + ", refreshed from " + source}, nil
}

// DetachedBytes verifies sig over data.
func (k *Keyring) DetachedBytes(data, sig []byte) error {
	return k.Detached(bytes.NewReader(data), sig)
}

// DetachedFile verifies sig over the file at path.
func (k *Keyring) DetachedFile(path string, sig []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return k.Detached(f, sig)
}
