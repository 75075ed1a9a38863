// Package logs implements `cododemo logs`.
package logs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/fsutil"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/sshx"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

// Options are the inputs of `cododemo logs`.
type Options struct {
	IO       *cmdutil.IOStreams
	Driver   *vagrant.Driver
	StateDir string
	Nodes    []string
	Node     string // "" for all
	Out      string
	Now      func() time.Time
	// Collector gathers journals over SSH; nil when the lab has no
	// inventory yet (never started).
	Collector *NodeCollector
}

// NewCmdLogs builds `cododemo logs`.
func NewCmdLogs(f *cmdutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "logs [NODE]",
		Short: "Bundle journals, failed units, rendered config and vagrant logs into one file to share",
		Example: `  cododemo logs
  cododemo logs core-02 --out core-02-logs.tar.gz`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			lab, err := f.LoadLab(cmd, lab.SecretsRead)
			if err != nil {
				return err
			}
			o.StateDir, o.Nodes = lab.StatePath(), lab.Plan.NodeNames()
			o.Driver = vagrant.New(f.Runner, lab.StatePath(), lab.Lab.Provider, f.Getenv)
			if len(args) == 1 {
				o.Node = args[0]
			}
			if !filepath.IsAbs(o.Out) {
				o.Out = filepath.Join(f.WorkDir, o.Out)
			}
			if inv, err := inventory.Load(lab.State.Join(labstate.InventoryFile), f.Getenv); err == nil {
				o.Collector = &NodeCollector{Inv: inv, Timeout: 20 * time.Second, Config: sshx.Config{
					AgentSocket: f.Getenv("SSH_AUTH_SOCK"),
					HostKeys:    sshx.NewKnownHosts(lab.State.Join(labstate.KnownHostsFile)),
					Timeout:     10 * time.Second,
				}}
			}
			return Run(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Out, "out", "lab-logs.tar.gz", "bundle to write")
	return cmd
}

// Run writes the bundle atomically and lists what went in.
func Run(ctx context.Context, o *Options) error {
	if o.Node != "" {
		if err := lab.CheckNames([]string{o.Node}, o.Nodes); err != nil {
			return err
		}
	}
	if _, err := os.Stat(o.StateDir); err != nil {
		return fmt.Errorf("state dir %s: %w (run `cododemo up` first)", o.StateDir, err)
	}
	files := map[string][]byte{}
	token, _ := os.ReadFile(filepath.Join(o.StateDir, labstate.ClusterTokenFile))
	red := newRedactor(string(token))
	err := filepath.WalkDir(o.StateDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(o.StateDir, path)
		if d.IsDir() {
			if d.Name() == labstate.VagrantDir {
				return filepath.SkipDir // provider internals, large and machine-bound
			}
			return nil
		}
		// Hidden files are temporaries of atomic writes (a killed render
		// once left .id_ed25519.tmp-*, a private key) and internals.
		if !d.Type().IsRegular() || slices.Contains(labstate.SecretFiles, d.Name()) || strings.HasPrefix(d.Name(), ".") || !o.wanted(rel) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		return err
	}
	// Vagrant's own view now, whatever it is: a failure is evidence too.
	if vagrant.Rendered(o.StateDir) {
		var args []string
		if o.Node != "" {
			args = append(args, o.Node)
		}
		out, err := runCapture(ctx, o.Driver, append([]string{"status", "--machine-readable"}, args...))
		if err != nil {
			out = append(out, []byte("\nerror: "+err.Error()+"\n")...)
		}
		files["vagrant-status.txt"] = out
	}
	if o.Collector != nil {
		want := func(n string) bool { return o.Node == "" || n == o.Node }
		for name, b := range o.Collector.Collect(ctx, want) {
			files[name] = b
		}
	}
	if v, err := o.Driver.Version(ctx); err == nil {
		files["vagrant-version.txt"] = []byte(v.Raw + "\n")
	}
	var withheld []string
	for name, b := range files {
		if clean, ok := red.clean(b); ok {
			files[name] = clean
		} else {
			delete(files, name)
			withheld = append(withheld, name)
		}
	}
	data, names, err := bundle(files, o.Now())
	if err != nil {
		return err
	}
	if len(withheld) > 0 {
		sort.Strings(withheld)
		fmt.Fprintf(o.IO.ErrOut, "left out (a private key, or the cluster token in a form that cannot be cut out): %s\n", strings.Join(withheld, ", "))
	}
	if err := fsutil.WriteFileAtomic(o.Out, data, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Wrote %s (%d files: %s)\n", o.Out, len(names), strings.Join(names, ", "))
	return nil
}

// wanted keeps lab-wide files and, when a node is named, only that
// node's own files among the per-node ones.
func (o *Options) wanted(rel string) bool {
	if o.Node == "" {
		return true
	}
	for _, n := range o.Nodes {
		if strings.Contains(rel, n) {
			return n == o.Node
		}
	}
	return true
}

func runCapture(ctx context.Context, d *vagrant.Driver, args []string) ([]byte, error) {
	var buf bytes.Buffer
	c := d.Cmd(args...)
	c.Stdout = &buf
	err := d.Runner.Run(ctx, c)
	return buf.Bytes(), err
}

func bundle(files map[string][]byte, now time.Time) ([]byte, []string, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range names {
		hdr := &tar.Header{Name: "lab-logs/" + n, Mode: 0o600, Size: int64(len(files[n])), ModTime: now}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, nil, err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), names, nil
}
