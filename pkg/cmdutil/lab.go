package cmdutil

import (
	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/sshtarget"
)

// LabSource is where the command line's lab comes from: --config (or
// $CODODEMO_CONFIG) in the working directory, the environment, and the
// lab flags on cmd.
func (f *Factory) LabSource(cmd *cobra.Command) config.Source {
	return config.Source{
		File:    f.ConfigPath(cmd),
		Dir:     f.WorkDir,
		Getenv:  f.Getenv,
		Environ: f.Environ,
		Flags:   cmd.Flags(),
	}
}

// LoadLab loads the lab the command line names with lab.Load.
func (f *Factory) LoadLab(cmd *cobra.Command, mode lab.SecretsMode) (*lab.Lab, error) {
	return f.LoadLabWith(cmd, lab.Options{Secrets: mode})
}

// LoadLabWith is LoadLab with every option of lab.Load; the source and the
// warnings' writer are the Factory's. Problems with the lab's files are
// *lab.Error, which IsUsage counts as usage errors (exit 2).
func (f *Factory) LoadLabWith(cmd *cobra.Command, o lab.Options) (*lab.Lab, error) {
	o.Source = f.LabSource(cmd)
	o.Warn = f.IO.ErrOut
	return lab.Load(o)
}

// ResolveTarget resolves the target flags of cmd: --inventory, else the
// lab the command line names.
func (f *Factory) ResolveTarget(cmd *cobra.Command, t sshtarget.Flags) (*sshtarget.Nodes, error) {
	return t.Resolve(sshtarget.Env{
		WorkDir: f.WorkDir,
		Getenv:  f.Getenv,
		LoadLab: func() (*lab.Lab, error) { return f.LoadLab(cmd, lab.SecretsRead) },
		Warn:    f.IO.ErrOut,
	})
}
