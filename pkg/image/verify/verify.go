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
// E9426D8B67E35DF476BD048185F7C8868837E271 (2023-03-07 .. 2025-03-06);
// releases signed by a later subkey need this file refreshed (or
// --keyring / CODODEMO_KEYRING pointing at a current copy).
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
		s, err = verifyAt(func() time.Time { return created })
	}
	if err != nil {
		if errors.Is(err, pgperrors.ErrUnknownIssuer) {
			return fmt.Errorf("%w: signed by a key not in the %s", ErrBadSignature, k.Source)
		}
		return fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	_ = s
	return nil
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
