package labstate

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/cododemo/cododemo/pkg/plan"
)

func TestSecretsGeneratedOnce(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	s1, err := d.Secrets()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := d.Secrets()
	if err != nil {
		t.Fatal(err)
	}
	if s1 != s2 {
		t.Fatalf("secrets changed between calls: %+v vs %+v", s1, s2)
	}
	if !strings.HasPrefix(s1.ClusterToken, "cododemo-") || len(s1.ClusterToken) < 20 {
		t.Fatalf("token %q", s1.ClusterToken)
	}
	checkPair(t, s1)
	if fi, _ := os.Stat(s1.SSHPrivateKeyFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v", fi.Mode().Perm())
	}
	if d.ReadSecrets() != s1 {
		t.Fatal("ReadSecrets differs from Secrets")
	}
}

func TestSecretsRefuseHalfKey(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	if _, err := d.Secrets(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(d.Join(PrivateKeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Secrets(); err == nil || !strings.Contains(err.Error(), PrivateKeyFile) {
		t.Fatalf("a public key without its private half must be an error: %v", err)
	}
}

// checkPair asserts that the private key on disk belongs to s's public key.
func checkPair(t *testing.T, s plan.Secrets) {
	t.Helper()
	priv, err := os.ReadFile(s.SSHPrivateKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s.SSHPublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if signer.PublicKey().Type() != ssh.KeyAlgoED25519 || string(signer.PublicKey().Marshal()) != string(pub.Marshal()) {
		t.Fatal("public key does not belong to the private key")
	}
}
