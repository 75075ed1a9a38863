package cmdutil

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/image/verify"
	"github.com/cododemo/cododemo/pkg/lab"
)

// ImageFlags are the network flags of every image command (box, lock,
// bundle): what they share is here, so no command imports another.
type ImageFlags struct {
	Mirror  string
	Offline bool
	Keyring string
}

// AddImageFlags adds --mirror, --offline (when offline) and --keyring.
func AddImageFlags(cmd *cobra.Command, fl *ImageFlags, offline bool) {
	cmd.Flags().StringVar(&fl.Mirror, "mirror", "",
		"release server mirror base URL: <mirror>/<channel>/<arch>-usr/<version>/... and <mirror>/artifacts/... (config key mirror, CODODEMO_MIRROR)")
	if offline {
		cmd.Flags().BoolVar(&fl.Offline, "offline", false, "use only the cache and imported bundles; say what is missing")
	}
	cmd.Flags().StringVar(&fl.Keyring, "keyring", "",
		"OpenPGP public keyring to verify release signatures with instead of the embedded Flatcar key ("+image.EnvKeyring+")")
}

// ImageEnv is a loaded lab with its lock and an image service.
type ImageEnv struct {
	Loaded   *config.Loaded
	LockPath string
	Lock     *config.Lock // nil when the lab has none
	Service  *image.Service
}

// ImageSetup loads the lab, its lock, and builds the service.
func (f *Factory) ImageSetup(cmd *cobra.Command, fl ImageFlags) (*ImageEnv, error) {
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
			return nil, Usage(err)
		}
		fmt.Fprintf(f.IO.ErrOut, "WARNING: --keyring %s: release signatures are checked against that keyring, not Flatcar's image-signing key built into cododemo\n", fl.Keyring)
	}
	svc, err := image.New(opts)
	if err != nil {
		return nil, err
	}
	return &ImageEnv{Loaded: loaded, LockPath: lockPath, Lock: lock, Service: svc}, nil
}
