// Package initcmd implements `cododemo init` (init is a reserved word).
package initcmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/fsutil"
)

// NewCmdInit builds `cododemo init`.
func NewCmdInit(f *cmdutil.Factory) *cobra.Command {
	var force, stdout bool
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write a commented cododemo.yaml with the defaults",
		Example: `  cododemo init
  cododemo init workshop/ && cd workshop && cododemo render
  cododemo init --stdout > my-lab.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if stdout {
				_, err := f.IO.Out.Write(config.Sample())
				return err
			}
			dir := f.WorkDir
			if len(args) == 1 {
				dir = args[0]
				if !filepath.IsAbs(dir) {
					dir = filepath.Join(f.WorkDir, dir)
				}
			}
			path := filepath.Join(dir, config.DefaultFile)
			if _, err := os.Stat(path); err == nil && !force {
				return cmdutil.Usage(fmt.Errorf("%s exists; pass --force to replace it", path))
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := fsutil.WriteFileAtomic(path, config.Sample(), 0o644); err != nil {
				return err
			}
			next := "cododemo render (or cododemo up)"
			if len(args) == 1 && filepath.Clean(dir) != filepath.Clean(f.WorkDir) {
				// The lab is where its config is: the next commands run there.
				next = "cd " + shellWord(args[0]) + " && " + next
			}
			fmt.Fprintf(f.IO.Out, "wrote %s; next: %s\n", path, next)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing cododemo.yaml")
	cmd.Flags().BoolVar(&stdout, "stdout", false, "print the file instead of writing it")
	return cmd
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./~") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
