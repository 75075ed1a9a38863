// Package lab loads a lab the one way every command does: its
// configuration (defaults < file < CODODEMO_* environment < flags), the
// lock beside it, checked against that configuration, the secrets in its
// state dir and the plan made of them.
package lab

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/plan"
)

// Lab is a loaded lab: configuration, lock, state dir and plan.
type Lab struct {
	*config.Loaded
	Lock  *config.Lock // nil when the lab has none yet
	State labstate.Dir
	Plan  *plan.Plan
}

// LockPath is where the lab's lock lives: beside its config file.
func (l *Lab) LockPath() string { return filepath.Join(l.Dir, config.LockFile) }

// SecretsMode says how Load treats the per-lab key and token.
type SecretsMode int

const (
	// SecretsCreate generates missing secrets in the state dir.
	SecretsCreate SecretsMode = iota
	// SecretsRead uses what exists and leaves the rest empty.
	SecretsRead
	// SecretsEphemeral uses existing secrets or throwaway ones, writing
	// nothing (render --check).
	SecretsEphemeral
	// SecretsNone leaves the plan without secrets: for a command that only
	// looks at what the lab asks of the host (doctor).
	SecretsNone
)

// Options say what to load and how.
type Options struct {
	Source  config.Source
	Secrets SecretsMode
	// AllowLockMismatch accepts a lock pinning another channel, version or
	// architecture than the configuration asks for. Only the commands that
	// report such a lock (doctor) or replace it (lock, box, bundle) set it:
	// every other command would start a lab the lock does not describe.
	AllowLockMismatch bool
	// Warn receives the configuration's warnings (a subnet VirtualBox
	// refuses by default, a misspelt CODODEMO_ variable), one a line.
	// Nil leaves them in Lab.Warnings only.
	Warn io.Writer
}

// Error is a problem with what the user wrote or asked for (the
// configuration, the lock, the plan made of them, a node the lab does not
// have), as opposed to one of this machine (a state dir that cannot be
// written). Commands report it as a usage error (exit 2).
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// IsConfig says whether err is (or wraps) an *Error.
func IsConfig(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Load loads the lab o.Source names.
func Load(o Options) (*Lab, error) {
	loaded, err := config.Load(o.Source)
	if err != nil {
		return nil, &Error{err}
	}
	if o.Warn != nil {
		if loaded.File == "" {
			// Say so: a user in the wrong directory would otherwise get
			// a lab they never asked for, without a word.
			fmt.Fprintf(o.Warn, "note: no %s in %s: the built-in defaults apply (`cododemo init` writes them to a file to edit)\n", config.DefaultFile, loaded.Dir)
		}
		for _, w := range loaded.Warnings {
			fmt.Fprintln(o.Warn, "warning:", w)
		}
	}
	l := &Lab{Loaded: loaded, State: labstate.Dir{Path: loaded.StatePath()}}
	if l.Lock, err = config.ReadLock(l.LockPath()); err != nil {
		return nil, &Error{err}
	}
	if l.Lock != nil && !o.AllowLockMismatch {
		if err := l.Lock.Matches(loaded.Lab); err != nil {
			return nil, &Error{fmt.Errorf("%s: %w", l.LockPath(), err)}
		}
		if err := l.Lock.CheckPins(loaded.Lab); err != nil {
			return nil, &Error{fmt.Errorf("%s: %w", l.LockPath(), err)}
		}
	}
	var s plan.Secrets
	switch o.Secrets {
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
		return nil, &Error{err}
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
