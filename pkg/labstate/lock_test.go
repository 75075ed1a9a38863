package labstate

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A second writer waits a bounded time, then names the holder's pid.
func TestLockNamesHolder(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	unlock, err := d.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer func(w time.Duration) { LockWait = w }(LockWait)
	LockWait = 50 * time.Millisecond
	_, err = d.Lock()
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() ||
		!strings.Contains(err.Error(), "another cododemo (pid "+strconv.Itoa(os.Getpid())+") is writing this lab") {
		t.Fatalf("want a LockedError naming pid %d, got %v", os.Getpid(), err)
	}
	// Secrets to create wait for the lock too.
	if _, err := d.Secrets(); !errors.As(err, &le) {
		t.Fatalf("Secrets created files while the lab was locked: %v", err)
	}
	unlock()
	unlock2, err := d.Lock()
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	unlock2()
}

// Temporary files and a half key pair of a killed writer are removed; others are left.
func TestRemoveTemps(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	for _, n := range []string{".id_ed25519.tmp-123", ".cluster-token.tmp-9", ".other.tmp-1", "id_ed25519"} {
		if err := os.WriteFile(d.Join(n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A private key alone is what a writer killed between the two halves
	// leaves: a new pair replaces it.
	s, err := d.Secrets()
	if err != nil {
		t.Fatal(err)
	}
	checkPair(t, s)
	for n, want := range map[string]bool{".id_ed25519.tmp-123": false, ".cluster-token.tmp-9": false, ".other.tmp-1": true} {
		if _, err := os.Stat(d.Join(n)); (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", n, err == nil, want)
		}
	}
}

// The key and the token are the owner's only, even in a lab an older
// cododemo (or a copy) left readable by others.
func TestSecretsPrivate(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no Unix permission bits; access is the user profile's ACL")
	}
	d := Dir{Path: t.TempDir()}
	if _, err := d.Secrets(); err != nil {
		t.Fatal(err)
	}
	for _, f := range SecretFiles {
		if err := os.Chmod(d.Join(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Secrets(); err != nil {
		t.Fatal(err)
	}
	for _, f := range SecretFiles {
		if fi, err := os.Stat(d.Join(f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (%v)", f, fi.Mode().Perm(), err)
		}
	}
}
