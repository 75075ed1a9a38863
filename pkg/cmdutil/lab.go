package cmdutil

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/plan"
)

// Lab is a loaded lab: configuration, lock, state dir and plan.
type Lab struct {
	*config.Loaded
	Lock  *config.Lock
	State labstate.Dir
	Plan  *plan.Plan
}

// LockPath is where the lab's lock lives: beside its config file.
func (l *Lab) LockPath() string { return filepath.Join(l.Dir, config.LockFile) }

// SecretsMode says how LoadLab treats the per-lab key and token.
type SecretsMode int

const (
	// SecretsCreate generates missing secrets in the state dir.
	SecretsCreate SecretsMode = iota
	// SecretsRead uses what exists and leaves the rest empty.
	SecretsRead
	// SecretsEphemeral uses existing secrets or throwaway ones, writing
	// nothing (render --check).
	SecretsEphemeral
)

// LoadLab loads the lab the command line names: config (file < env <
// flags on cmd), lock, secrets and plan. Configuration problems are usage
// errors (exit 2); warnings go to stderr.
func (f *Factory) LoadLab(cmd *cobra.Command, mode SecretsMode) (*Lab, error) {
	loaded, err := config.Load(config.Source{
		File:    f.ConfigPath(cmd),
		Dir:     f.WorkDir,
		Getenv:  f.Getenv,
		Environ: f.Environ,
		Flags:   cmd.Flags(),
	})
	if err != nil {
		return nil, Usage(err)
	}
	for _, w := range loaded.Warnings {
		fmt.Fprintln(f.IO.ErrOut, "warning:", w)
	}
	l := &Lab{Loaded: loaded, State: labstate.Dir{Path: loaded.StatePath()}}
	if l.Lock, err = config.ReadLock(l.LockPath()); err != nil {
		return nil, Usage(err)
	}
	if l.Lock != nil {
		if err := l.Lock.Matches(loaded.Lab); err != nil {
			return nil, Usage(fmt.Errorf("%s: %w", l.LockPath(), err))
		}
	}
	var s plan.Secrets
	switch mode {
	case SecretsCreate:
		if s, err = l.State.Secrets(); err != nil {
			return nil, err
		}
	case SecretsRead:
		s = l.State.ReadSecrets()
	case SecretsEphemeral:
		s = l.State.ReadSecrets()
		if s.SSHPublicKey == "" {
			if s.SSHPublicKey, err = throwawayKey(); err != nil {
				return nil, err
			}
		}
		if s.ClusterToken == "" {
			s.ClusterToken = "cododemo-check"
		}
	}
	if l.Plan, err = plan.New(loaded.Lab, l.Lock, s); err != nil {
		return nil, Usage(err)
	}
	return l, nil
}

// throwawayKey is an authorized_keys line for a key nobody keeps.
func throwawayKey() (string, error) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " cododemo-check", nil
}
