// Package destroy implements `cododemo destroy`.
package destroy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/lifecycle"
)

// Options are the inputs of `cododemo destroy`.
type Options struct {
	IO *cmdutil.IOStreams
	lifecycle.Options
	Force bool
	Purge bool
	// LabDir is the directory of the lab's config file: purging must
	// never remove it or anything above it.
	LabDir string
	Lab    string
}

// NewCmdDestroy builds `cododemo destroy`.
func NewCmdDestroy(f *cmdutil.Factory) *cobra.Command {
	o := &Options{}
	cmd := &cobra.Command{
		Use:   "destroy [NODE...]",
		Short: "Remove the lab's VMs (the download cache stays); --purge also removes the state dir",
		Example: `  cododemo destroy          # asks first on a terminal
  cododemo destroy -f --purge`,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := f.LoadLab(cmd, lab.SecretsRead)
			if err != nil {
				return err
			}
			if o.Purge && len(args) > 0 {
				return cmdutil.Usage(errors.New("--purge removes the whole lab's state: name no nodes"))
			}
			o.IO = f.IO
			o.Options = lifecycle.ForLab(l, f.Runner, f.Getenv, args, f.IO.ErrOut, f.IO.LiveErr())
			o.LabDir, o.Lab = l.Dir, l.Lab.Name
			return Run(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&o.Purge, "purge", false, "also remove the state dir (rendered files, SSH key, logs); the download cache stays")
	return cmd
}

// Run confirms, destroys the VMs, then purges when asked.
func Run(ctx context.Context, o *Options) error {
	if err := lab.CheckNames(o.Names, o.Nodes); err != nil {
		return err
	}
	if !o.Force {
		if !o.IO.ErrTTY {
			return cmdutil.Usage(errors.New("destroy removes VMs: pass -f to confirm when not on a terminal"))
		}
		what := "all VMs of lab " + o.Lab
		if len(o.Names) > 0 {
			what = strings.Join(o.Names, ", ")
		}
		if o.Purge {
			what += " and its state dir " + o.StateDir
		}
		fmt.Fprintf(o.IO.ErrOut, "Destroy %s? [y/N] ", what)
		answer, _ := bufio.NewReader(o.IO.In).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("not destroyed")
		}
	}
	if err := lifecycle.Destroy(ctx, o.Options); err != nil {
		return err
	}
	if !o.Purge {
		return nil
	}
	if err := safeToPurge(o.StateDir, o.LabDir); err != nil {
		return err
	}
	if err := os.RemoveAll(o.StateDir); err != nil {
		return fmt.Errorf("purge %s: %w", o.StateDir, err)
	}
	fmt.Fprintf(o.IO.ErrOut, "Removed %s.\n", o.StateDir)
	return nil
}

// safeToPurge refuses to remove a state dir that is the lab's own
// directory or above it, or that holds none of cododemo's files: a
// mistyped state_dir must not delete a user's work.
func safeToPurge(stateDir, labDir string) error {
	s, err := filepath.Abs(stateDir)
	if err != nil {
		return err
	}
	l, _ := filepath.Abs(labDir)
	if rel, err := filepath.Rel(s, l); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("refusing to purge %s: it contains the lab's config directory %s", s, l)
	}
	if _, err := os.Stat(s); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, marker := range []string{labstate.Vagrantfile, labstate.ManifestFile, labstate.PrivateKeyFile, labstate.ClusterTokenFile, labstate.VagrantDir} {
		if _, err := os.Stat(filepath.Join(s, marker)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("refusing to purge %s: it does not look like a cododemo state dir (no Vagrantfile, rendered.json or key)", s)
}
