package cmdutil

import (
	"os"

	"github.com/cododemo/cododemo/pkg/exec"
)

// Factory carries the dependencies commands need. Tests build one with
// fakes; production code uses New.
type Factory struct {
	IO      *IOStreams
	Runner  exec.Runner
	Getenv  func(string) string
	Environ func() []string
	WorkDir string
	Version string
}

// New returns a Factory wired to the real process.
func New(version string) (*Factory, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	return &Factory{
		IO:      System(),
		Runner:  exec.OS{},
		Getenv:  os.Getenv,
		Environ: os.Environ,
		WorkDir: wd,
		Version: version,
	}, nil
}
