// Package imagecmd is what the box, lock and bundle commands share: the
// --mirror/--offline/--keyring flags and building an image.Service for the
// lab in the working directory.
package imagecmd

import (
	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/image/verify"
	"github.com/cododemo/cododemo/pkg/lab"
)

// Flags are the network flags of every image command.
type Flags struct {
	Mirror  string
	Offline bool
	Keyring string
}

// AddFlags adds --mirror, --offline and --keyring.
func AddFlags(cmd *cobra.Command, fl *Flags, offline bool) {
	cmd.Flags().StringVar(&fl.Mirror, "mirror", "",
		"release server mirror base URL: <mirror>/<channel>/<arch>-usr/<version>/... and <mirror>/artifacts/... (config key mirror, CODODEMO_MIRROR)")
	if offline {
		cmd.Flags().BoolVar(&fl.Offline, "offline", false, "use only the cache and imported bundles; say what is missing")
	}
	cmd.Flags().StringVar(&fl.Keyring, "keyring", "",
		"OpenPGP public keyring to verify release signatures with instead of the embedded Flatcar key ("+image.EnvKeyring+")")
}

// Env is a loaded lab with its lock and an image service.
type Env struct {
	Loaded   *config.Loaded
	LockPath string
	Lock     *config.Lock // nil when the lab has none
	Service  *image.Service
}

// Setup loads the lab, its lock, and builds the service.
func Setup(f *cmdutil.Factory, cmd *cobra.Command, fl Flags) (*Env, error) {
	// These commands replace a lock that no longer fits (lock), or say so
	// and go on (box fetch --channel, bundle import): a mismatch is theirs
	// to handle.
	l, err := f.LoadLabWith(cmd, lab.Options{Secrets: lab.SecretsNone, AllowLockMismatch: true})
	if err != nil {
		return nil, err
	}
	loaded, lockPath, lock := l.Loaded, l.LockPath(), l.Lock
	mirror := fl.Mirror
	if mirror == "" {
		mirror = loaded.Lab.Mirror
	}
	opts := image.Options{
		Mirror:  mirror,
		Offline: fl.Offline,
		Runner:  f.Runner,
		Getenv:  f.Getenv,
		Log:     f.IO.ErrOut,
	}
	if f.IO.ErrTTY {
		opts.Progress = f.IO.ErrOut
	}
	if fl.Keyring != "" {
		if opts.Keyring, err = verify.Load(fl.Keyring); err != nil {
			return nil, cmdutil.Usage(err)
		}
	}
	svc, err := image.New(opts)
	if err != nil {
		return nil, err
	}
	return &Env{Loaded: loaded, LockPath: lockPath, Lock: lock, Service: svc}, nil
}

// Short abbreviates a sha256 for tables.
func Short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
