package firstboot

import (
	"encoding/binary"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A libvirt node's fw_cfg config is read by QEMU as its own user: it gets
// read access by ACL, everyone else none (it was 0644 in a 0755 dir).
func TestShareWithQEMUUser(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	dir := filepath.Join(state, "nodes")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(state, 0o750); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "core-01.ign")
	if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	const uid = 64055 // any uid: an ACL names a number
	if err := shareWith(p, state, "libvirt-qemu", uid); err != nil {
		t.Fatal(err)
	}
	if got, want := readACL(t, p), "user::rw- user:64055:r-- group::--- mask::r-- other::---"; got != want {
		t.Errorf("file ACL %q, want %q", got, want)
	}
	if got, want := readACL(t, dir), "user::rwx user:64055:--x group::--- mask::--x other::---"; got != want {
		t.Errorf("dir ACL %q, want %q", got, want)
	}
	if got, want := readACL(t, state), "user::rwx user:64055:--x group::r-x mask::r-x other::---"; got != want {
		t.Errorf("state dir ACL %q, want %q", got, want)
	}
	if _, err := syscall.Getxattr(filepath.Dir(state), "system.posix_acl_access", make([]byte, 64)); err == nil {
		t.Error("an ACL above the state dir")
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm()&0o007 != 0 {
		t.Errorf("still world-readable: %v", fi.Mode())
	}
}

// readACL renders system.posix_acl_access as getfacl would, on one line.
func readACL(t *testing.T, path string) string {
	t.Helper()
	b := make([]byte, 256)
	n, err := syscall.Getxattr(path, "system.posix_acl_access", b)
	if err != nil {
		t.Fatal(err)
	}
	b = b[4:n]
	rwx := func(p uint16) string {
		s := []byte("---")
		for i, c := range "rwx" {
			if p&(4>>i) != 0 {
				s[i] = byte(c)
			}
		}
		return string(s)
	}
	var out []string
	for ; len(b) >= 8; b = b[8:] {
		tag, perm, id := binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint32(b[4:])
		name := map[uint16]string{1: "user:", 2: fmt.Sprintf("user:%d", id), 4: "group:", 8: fmt.Sprintf("group:%d", id), 0x10: "mask:", 0x20: "other:"}[tag]
		out = append(out, name+":"+rwx(perm))
	}
	return strings.Join(out, " ")
}

// libvirt's QEMU writes a node's serial console into the state dir's
// console/: it may create and write files there, and only search the
// state dir, whose key and token stay the owner's alone. The owner keeps
// a named entry on each log, for while libvirt has chowned it to QEMU.
func TestShareConsoleWithQEMUUser(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(state, "id_ed25519")
	if err := os.WriteFile(key, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(state, "console")
	logs := []string{filepath.Join(dir, "core-01.log"), filepath.Join(dir, "core-02.log")}
	const uid, self = 64055, 1000
	for range 2 { // a second up changes nothing
		if err := shareConsole(dir, state, logs, uid, self, "libvirt-qemu"); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := readACL(t, dir), "user::rwx user:64055:rwx group::--- mask::rwx other::---"; got != want {
		t.Errorf("console dir ACL %q, want %q", got, want)
	}
	for _, l := range logs {
		if got, want := readACL(t, l), "user::rw- user:1000:rw- user:64055:rw- group::--- mask::rw- other::---"; got != want {
			t.Errorf("%s ACL %q, want %q", l, got, want)
		}
	}
	if got, want := readACL(t, state), "user::rwx user:64055:--x group::--- mask::--x other::---"; got != want {
		t.Errorf("state dir ACL %q, want %q", got, want)
	}
	if _, err := syscall.Getxattr(key, "system.posix_acl_access", make([]byte, 64)); err == nil {
		t.Error("the lab key got an ACL")
	}
	if fi, _ := os.Stat(key); fi.Mode().Perm() != 0o600 {
		t.Errorf("the lab key is %v", fi.Mode())
	}
	if _, err := syscall.Getxattr(filepath.Dir(state), "system.posix_acl_access", make([]byte, 64)); err == nil {
		t.Error("an ACL above the state dir")
	}
}

// As QEMU's user really: it may write its node's log and create a file in
// console/, and may neither read the lab key nor list the state dir. Run
// as root (as CI runs), which can switch to any uid with setpriv.
func TestShareConsoleAccessAsQEMU(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a command as another uid (CI runs as root)")
	}
	setpriv, err := osexec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) is not installed: %v", err)
	}
	base := t.TempDir()
	// The temp dirs above the state dir are the test's: let anyone pass.
	for d := base; d != filepath.Dir(os.TempDir()) && d != "/"; d = filepath.Dir(d) {
		if strings.HasPrefix(d, os.TempDir()+string(filepath.Separator)) {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
	state := filepath.Join(base, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(state, "id_ed25519")
	if err := os.WriteFile(key, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(state, "console")
	log := filepath.Join(dir, "core-01.log")
	const uid = 64055
	if err := shareConsole(dir, state, []string{log}, uid, 0, "libvirt-qemu"); err != nil {
		t.Fatal(err)
	}
	as := func(script string, args ...string) error {
		c := osexec.Command(setpriv, append([]string{"--reuid", fmt.Sprint(uid), "--regid", fmt.Sprint(uid), "--clear-groups", "sh", "-c", script, "sh"}, args...)...)
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := as(`echo "[  OK  ] booted" >>"$1"`, log); err != nil {
		t.Errorf("QEMU's user cannot write its log: %v", err)
	}
	if err := as(`: >"$1"`, filepath.Join(dir, "core-02.log")); err != nil {
		t.Errorf("QEMU's user cannot create a log in console/: %v", err)
	}
	if err := as(`cat "$1"`, key); err == nil {
		t.Error("QEMU's user can read the lab key")
	}
	if err := as(`ls "$1"`, state); err == nil {
		t.Error("QEMU's user can list the state dir")
	}
	if b, err := os.ReadFile(log); err != nil || !strings.Contains(string(b), "booted") {
		t.Errorf("log: %q %v", b, err)
	}
}

// A home directory of mode 0700 above the state dir stops QEMU's user,
// unless an ACL or its group lets it search; others' x lets it pass.
func TestBlockedAbove(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(base, "home")
	state := filepath.Join(home, "lab", ".cododemo")
	if err := os.MkdirAll(state, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	const uid = 64055
	if got := blockedAbove(state, uid, nil); got != home {
		t.Errorf("blocked at %q, want %q", got, home)
	}
	if err := setACL(home, 7, 0, 0, aclUser{uid, 1}); err != nil {
		t.Fatal(err)
	}
	if got := blockedAbove(state, uid, nil); got != "" {
		t.Errorf("with search by ACL: blocked at %q", got)
	}
	if err := setACL(home, 7, 0, 0, aclUser{uid + 1, 1}); err != nil {
		t.Fatal(err)
	}
	if got := blockedAbove(state, uid, nil); got != home {
		t.Errorf("another user's ACL entry: blocked at %q, want %q", got, home)
	}
	if err := os.Chmod(home, 0o751); err != nil { // a plain mode again
		t.Fatal(err)
	}
	if got := blockedAbove(state, uid, nil); got != "" {
		t.Errorf("o+x: blocked at %q", got)
	}
}
