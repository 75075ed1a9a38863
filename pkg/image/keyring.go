package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/image/verify"
)

// Where Flatcar publishes its image-signing key. A mirror serves a copy at
// KeyMirrorPath under its base URL, as www.flatcar.org lays it out.
const (
	FlatcarKeyURL = "https://www.flatcar.org/security/image-signing-key/Flatcar_Image_Signing_Key.asc"
	KeyMirrorPath = "security/image-signing-key/Flatcar_Image_Signing_Key.asc"
)

// RefreshedKeyFile is the refreshed copy of the key, under the cache dir
// (and in bundles).
const RefreshedKeyFile = "keys/flatcar-image-signing-key.asc"

// RefreshedKeyPath is where the cache keeps a refreshed copy of Flatcar's
// key.
func (s *Service) RefreshedKeyPath() string {
	return filepath.Join(s.Cache.Dir, filepath.FromSlash(RefreshedKeyFile))
}

// takeRefreshed extends the keyring with a refreshed copy of the key (the
// cache's, or a bundle's), keeping only subkeys the keyring's own primary
// keys certify. A copy that adds nothing usable is reported, not fatal:
// the embedded key still stands.
func (s *Service) takeRefreshed(data []byte, source string) error {
	kr, err := s.Keyring.Refresh(data, source)
	if err != nil {
		return err
	}
	s.Keyring = kr
	return nil
}

// loadRefreshed takes in the cache's refreshed copy, if any.
func (s *Service) loadRefreshed() {
	data, err := os.ReadFile(s.RefreshedKeyPath())
	if err != nil {
		return // none yet
	}
	if err := s.takeRefreshed(data, s.RefreshedKeyPath()); err != nil {
		fmt.Fprintf(s.Log, "warning: ignoring %v\n", err)
	}
}

// TakeRefreshedKey takes in a refreshed copy of the key from a bundle and
// keeps it in the cache once it proved useful (keep is called after every
// other check of the bundle passed). Only a Service on cododemo's own key
// takes one: a --keyring of the user's is what they chose to trust.
func (s *Service) TakeRefreshedKey(data []byte, source string) (keep func() error, err error) {
	if !s.refreshKey {
		return func() error { return nil }, nil
	}
	if err := s.takeRefreshed(data, source); err != nil {
		return nil, err
	}
	return func() error { return fsutil.WriteFileAtomic(s.RefreshedKeyPath(), data, 0o644) }, nil
}

// verifyCatalog checks a catalog's signature. Flatcar rotates its signing
// subkey yearly, so a catalog signed after this binary was built names a
// subkey the embedded key lacks. Then, once, it fetches Flatcar's current
// key (from the mirror when one is set), takes in only the subkeys the
// embedded primary key certifies, checks again, and keeps that copy in the
// cache for later and offline runs. A forgery stays a forgery: a subkey
// Flatcar's primary did not bind cannot get in.
func (s *Service) verifyCatalog(ctx context.Context, cat, sig []byte) error {
	err := s.Keyring.DetachedBytes(cat, sig)
	var unknown *verify.UnknownKeyError
	if err == nil || !errors.As(err, &unknown) {
		return err
	}
	if !s.refreshKey || s.Offline {
		return fmt.Errorf("%w: %s", err, keyAdvice(s.refreshKey))
	}
	src := FlatcarKeyURL
	if s.Mirror != "" {
		src = strings.TrimRight(s.Mirror, "/") + "/" + KeyMirrorPath
	}
	data, ferr := s.DL.Small(ctx, src)
	if ferr != nil {
		return fmt.Errorf("%w; fetching Flatcar's current key to look for it failed: %v", err, ferr)
	}
	before := s.Keyring
	if rerr := s.takeRefreshed(data, src); rerr != nil {
		return fmt.Errorf("%w; the key at %s is no help: %v", err, src, rerr)
	}
	if verr := s.Keyring.DetachedBytes(cat, sig); verr != nil {
		s.Keyring = before
		return fmt.Errorf("%w (checked again with the key from %s)", verr, src)
	}
	if werr := fsutil.WriteFileAtomic(s.RefreshedKeyPath(), data, 0o644); werr != nil {
		return werr
	}
	fmt.Fprintf(s.Log, "flatcar image-signing key: signing key %s taken in from %s, certified by the embedded primary key %s; kept in %s\n",
		unknown.KeyID, src, verify.FlatcarKeyID, s.RefreshedKeyPath())
	return nil
}

// keyAdvice says what to do about a signature by an unknown key.
func keyAdvice(ownKey bool) string {
	if !ownKey {
		return "the --keyring / " + EnvKeyring + " given does not hold it"
	}
	return "if Flatcar rotated its signing subkey since this cododemo was built, run once online (cododemo then fetches " +
		FlatcarKeyURL + " and keeps the subkeys Flatcar's primary key certifies), import a bundle made after the rotation, or pass --keyring FILE"
}
