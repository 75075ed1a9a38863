package lab_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/labstate"
)

// source is a lab in dir with the given environment.
func source(dir string, env ...string) config.Source {
	get := func(k string) string {
		for _, e := range env {
			if name, v, _ := strings.Cut(e, "="); name == k {
				return v
			}
		}
		return ""
	}
	return config.Source{Dir: dir, Getenv: get, Environ: func() []string { return env }}
}

func writeLock(t *testing.T, dir, channel string) {
	t.Helper()
	l := &config.Lock{Version: config.LockVersion, Distro: "flatcar", Channel: channel, Arch: "amd64",
		OS: config.OSRelease{Version: "4593.2.5", Box: config.Box{Name: "flatcar-" + channel, Provider: "virtualbox", URL: "https://example.test/flatcar.box", SHA256: strings.Repeat("a", 64)}}}
	if err := config.WriteLock(filepath.Join(dir, config.LockFile), l); err != nil {
		t.Fatal(err)
	}
}

// A lock whose etcd hash is one digit off cododemo's built-in pin never
// reaches a plan.
func TestLoadRefusesALockAgainstTheBuiltinPin(t *testing.T) {
	dir := t.TempDir()
	l := &config.Lock{Version: config.LockVersion, Distro: "flatcar", Channel: "stable", Arch: "amd64",
		OS: config.OSRelease{Version: "4593.2.5", Box: config.Box{Name: "flatcar-stable", Provider: "virtualbox", URL: "https://example.test/flatcar.box", SHA256: strings.Repeat("a", 64)}},
		Artifacts: map[string]config.Artifact{"etcd": {
			URL:    "https://github.com/etcd-io/etcd/releases/download/v3.5.21/etcd-v3.5.21-linux-amd64.tar.gz",
			SHA256: "adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501d"}}}
	if err := config.WriteLock(filepath.Join(dir, config.LockFile), l); err != nil {
		t.Fatal(err)
	}
	_, err := lab.Load(lab.Options{Source: source(dir), Secrets: lab.SecretsNone})
	if !lab.IsConfig(err) || !strings.Contains(err.Error(), "501d") || !strings.Contains(err.Error(), "built-in pin of etcd-v3.5.21-linux-amd64.tar.gz is adddda4b06718e68671ffabff2f8cee48488ba61ad82900e639d108f2148501c") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadDefaultsAndWarnings(t *testing.T) {
	dir := t.TempDir()
	var warn bytes.Buffer
	l, err := lab.Load(lab.Options{Source: source(dir, "CODODEMO_NODES_CUONT=3"), Secrets: lab.SecretsRead, Warn: &warn})
	if err != nil {
		t.Fatal(err)
	}
	if l.Lock != nil || len(l.Plan.Nodes) != l.Lab.Nodes.Count || l.LockPath() != filepath.Join(dir, config.LockFile) {
		t.Errorf("lab: lock %v, %d nodes, lock path %s", l.Lock, len(l.Plan.Nodes), l.LockPath())
	}
	if !strings.Contains(warn.String(), "warning: ") || !strings.Contains(warn.String(), "CODODEMO_NODES_CUONT") {
		t.Errorf("a misspelt CODODEMO_ variable must be warned about, got %q", warn.String())
	}
	if _, err := os.Stat(l.State.Path); err == nil {
		t.Errorf("SecretsRead created the state dir %s", l.State.Path)
	}
}

func TestLoadChecksTheLock(t *testing.T) {
	dir := t.TempDir()
	writeLock(t, dir, "beta") // the default lab is stable
	_, err := lab.Load(lab.Options{Source: source(dir), Secrets: lab.SecretsRead})
	if !lab.IsConfig(err) || !strings.Contains(err.Error(), config.LockFile) || !strings.Contains(err.Error(), "run `cododemo lock` again") {
		t.Fatalf("a lock for another channel: want a config error naming the lock, got %v", err)
	}
	l, err := lab.Load(lab.Options{Source: source(dir), Secrets: lab.SecretsNone, AllowLockMismatch: true})
	if err != nil || l.Lock == nil || l.Lock.Channel != "beta" {
		t.Fatalf("AllowLockMismatch: %v, %+v", err, l)
	}
	if l.Plan.Secrets.SSHPrivateKeyFile != "" {
		t.Errorf("SecretsNone: got %+v", l.Plan.Secrets)
	}
	if err := os.WriteFile(filepath.Join(dir, config.LockFile), []byte("version: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Load(lab.Options{Source: source(dir), AllowLockMismatch: true}); !lab.IsConfig(err) {
		t.Errorf("a malformed lock is the user's to fix (a config error), got %v", err)
	}
}

func TestLoadConfigErrorIsConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, config.DefaultFile), []byte("nodes: {count: 0}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Load(lab.Options{Source: source(dir)}); !lab.IsConfig(err) {
		t.Errorf("want a config error, got %v", err)
	}
}

func TestLoadSecrets(t *testing.T) {
	dir := t.TempDir()
	l, err := lab.Load(lab.Options{Source: source(dir), Secrets: lab.SecretsEphemeral})
	if err != nil {
		t.Fatal(err)
	}
	if l.Plan.Secrets.SSHPublicKey == "" || l.Plan.Secrets.ClusterToken == "" {
		t.Errorf("ephemeral secrets: %+v", l.Plan.Secrets)
	}
	if _, err := os.Stat(l.State.Path); err == nil {
		t.Errorf("SecretsEphemeral wrote the state dir")
	}
	l, err = lab.Load(lab.Options{Source: source(dir), Secrets: lab.SecretsCreate})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.State.Join(labstate.PrivateKeyFile)); err != nil {
		t.Errorf("SecretsCreate: %v", err)
	}
	again, err := lab.Load(lab.Options{Source: source(dir), Secrets: lab.SecretsRead})
	if err != nil || again.Plan.Secrets.SSHPublicKey != l.Plan.Secrets.SSHPublicKey {
		t.Errorf("SecretsRead must read the key SecretsCreate made: %v", err)
	}
}
