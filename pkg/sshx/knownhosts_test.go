package sshx_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/cododemo/cododemo/pkg/sshx"
)

func TestForget(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "known_hosts")
	key := func() ssh.PublicKey {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k1, k2, k3, k4 := key(), key(), key(), key()
	lines := []string{
		"# pinned by cododemo",
		knownhosts.Line([]string{"[127.0.0.1]:2201"}, k1),
		knownhosts.Line([]string{"[127.0.0.1]:2202"}, k2),
		knownhosts.Line([]string{"[127.0.0.1]:2201", "core-01.lab"}, k3),
		knownhosts.Line([]string{knownhosts.HashHostname("[127.0.0.1]:2201")}, k4),
		"@cert-authority [127.0.0.1]:2201 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k4))),
		knownhosts.Line([]string{"127.0.0.1"}, k2),
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	kh := sshx.NewKnownHosts(path)
	if err := kh.Forget("127.0.0.1:2201"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := strings.Join([]string{
		lines[0], lines[2],
		knownhosts.Line([]string{"core-01.lab"}, k3),
		lines[5], lines[6],
	}, "\n") + "\n"
	if string(got) != want {
		t.Fatalf("after Forget:\n%s\nwant:\n%s", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
	}
	// Port 22 is written bare.
	if err := kh.Forget("127.0.0.1:22"); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	if strings.Contains(string(got), "\n127.0.0.1 ") {
		t.Errorf("bare 127.0.0.1 still pinned:\n%s", got)
	}
	// Nothing to forget, and no file: no error, no file created.
	before, _ := os.ReadFile(path)
	if err := kh.Forget("127.0.0.9:2201"); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("file changed with nothing to forget")
	}
	missing := sshx.NewKnownHosts(filepath.Join(dir, "none"))
	if err := missing.Forget("127.0.0.1:2201"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(missing.Path); !os.IsNotExist(err) {
		t.Errorf("Forget created %s", missing.Path)
	}
}
