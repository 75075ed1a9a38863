// Package labstate owns a lab's state directory: the per-lab SSH key pair
// and etcd cluster token generated once, and the manifest of rendered files
// that protects a user's hand edits from being overwritten.
package labstate

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/plan"
)

// File names inside the state directory: the one place they are spelled.
const (
	PrivateKeyFile   = "id_ed25519"
	PublicKeyFile    = "id_ed25519.pub"
	ClusterTokenFile = "cluster-token"
	ManifestFile     = "rendered.json"
	KnownHostsFile   = "known_hosts"
	InventoryFile    = "inventory.yaml"
	Vagrantfile      = "Vagrantfile"
	VagrantDir       = ".vagrant" // Vagrant's own machine state
	LogsDir          = "logs"     // one log file per lifecycle run
	// ConsoleDir holds each node's serial console (ConsoleLog): the
	// hypervisor writes it, and a node that does not boot is explained
	// with its last lines.
	ConsoleDir = "console"
	// JournalFile records a render in progress (see ReadJournal).
	JournalFile = "rendering.json"
	// LockFile is locked by whoever writes the state dir (see Lock).
	LockFile = ".lock"
)

// SecretFiles never leave the state dir (a logs bundle is meant to be
// shared): the private key opens every node; the token (etcd's
// --initial-cluster-token) opens nothing, it only keeps two labs' members
// apart while a cluster forms, but it is the lab's own (logs redacts it
// from every other file too).
var SecretFiles = []string{PrivateKeyFile, ClusterTokenFile}

// ConsoleLog is the path, relative to the state dir and with forward
// slashes (the Vagrantfile joins it to its own directory), of node's
// serial console log.
func ConsoleLog(node string) string { return ConsoleDir + "/" + node + ".log" }

// Dir is a lab's state directory.
type Dir struct{ Path string }

// Join returns a path inside the state directory.
func (d Dir) Join(elem ...string) string { return filepath.Join(append([]string{d.Path}, elem...)...) }

// Secrets returns the lab's SSH key and cluster token, generating each the
// first time. Nothing is ever regenerated: a new key would lock the user out
// of running VMs, a new token would split the etcd cluster.
//
// Two processes creating them at once would each write a key and a token
// and leave a mix: generation runs under the state dir's lock, and
// re-checks what exists once it holds it.
func (d Dir) Secrets() (plan.Secrets, error) {
	if s, ok := d.complete(); ok {
		// The common case: nothing to create, no lock needed. A lab made
		// by an older cododemo, or copied, may have loose modes: the key
		// opens every node and the token joins the cluster.
		return s, d.tightenSecrets()
	}
	unlock, err := d.Lock()
	if err != nil {
		return plan.Secrets{}, err
	}
	defer unlock()
	if err := d.RemoveTemps(PrivateKeyFile, PublicKeyFile, ClusterTokenFile); err != nil {
		return plan.Secrets{}, err
	}
	pub, err := d.ensureKey()
	if err != nil {
		return plan.Secrets{}, err
	}
	token, err := d.ensureToken()
	if err != nil {
		return plan.Secrets{}, err
	}
	return plan.Secrets{ClusterToken: token, SSHPublicKey: pub, SSHPrivateKeyFile: d.Join(PrivateKeyFile)}, nil
}

// tightenSecrets makes the secret files readable by their owner only.
func (d Dir) tightenSecrets() error {
	for _, f := range SecretFiles {
		fi, err := os.Stat(d.Join(f))
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(d.Join(f), 0o600); err != nil {
			return fmt.Errorf("%s is readable by others and could not be made private: %w", d.Join(f), err)
		}
	}
	return nil
}

// complete returns the secrets when all of them exist. The key pair is
// written private half first, so a public key means both are whole.
func (d Dir) complete() (plan.Secrets, bool) {
	s := d.ReadSecrets()
	if _, err := os.Stat(d.Join(PrivateKeyFile)); err != nil || s.SSHPublicKey == "" || s.ClusterToken == "" {
		return plan.Secrets{}, false
	}
	return s, true
}

// ReadSecrets returns existing secrets without creating any; missing ones
// are left empty.
func (d Dir) ReadSecrets() plan.Secrets {
	s := plan.Secrets{SSHPrivateKeyFile: d.Join(PrivateKeyFile)}
	if b, err := os.ReadFile(d.Join(PublicKeyFile)); err == nil {
		s.SSHPublicKey = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(d.Join(ClusterTokenFile)); err == nil {
		s.ClusterToken = strings.TrimSpace(string(b))
	}
	return s
}

func (d Dir) ensureKey() (string, error) {
	privPath, pubPath := d.Join(PrivateKeyFile), d.Join(PublicKeyFile)
	if b, err := os.ReadFile(pubPath); err == nil {
		if _, err := os.Stat(privPath); err != nil {
			return "", fmt.Errorf("%s exists but %s does not: restore it or remove both to make a new key (running VMs will refuse the new one)", pubPath, privPath)
		}
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, "cododemo lab key")
	if err != nil {
		return "", err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " cododemo"
	// Private key first: a public key without its private half is the state
	// ensureKey refuses above.
	if err := fsutil.WriteFileAtomic(privPath, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	if err := fsutil.WriteFileAtomic(pubPath, []byte(line+"\n"), 0o644); err != nil {
		return "", err
	}
	return line, nil
}

func (d Dir) ensureToken() (string, error) {
	p := d.Join(ClusterTokenFile)
	if b, err := os.ReadFile(p); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var raw [12]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	t := "cododemo-" + hex.EncodeToString(raw[:])
	return t, fsutil.WriteFileAtomic(p, []byte(t+"\n"), 0o600)
}
