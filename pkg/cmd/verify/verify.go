// Package verify implements `cododemo verify`.
package verify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// KnownHostsFile is the lab's pinned host keys, in its state dir (also
// the name beside an --inventory file).
const KnownHostsFile = labstate.KnownHostsFile

// Options are the parsed flags.
type Options struct {
	IO     *cmdutil.IOStreams
	Getenv func(string) string

	// Connector overrides SSH (unit tests).
	Connector health.Connector

	Inventory                string
	KnownHosts               string
	Output                   string
	Only, Skip               []string
	Deep                     bool
	Wait                     time.Duration
	Timeout                  time.Duration
	ConnectTimeout           time.Duration
	Parallel                 int
	InsecureSkipHostKeyCheck bool
	NoPin                    bool

	// Resolved by complete.
	inv    *inventory.Inventory
	checks health.Selection
	format cmdutil.Output
}

// NewCmdVerify builds `cododemo verify`.
func NewCmdVerify(f *cmdutil.Factory) *cobra.Command {
	o := &Options{IO: f.IO, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the lab (or any CoreOS-family cluster) is healthy, over SSH",
		Long: `Verify logs in to every node over SSH (one connection per node, nodes in
parallel) and checks, per node: SSH, the OS and its version against the lock,
systemd's state (failed units with their journal when degraded), Docker and
the local etcd member; across the cluster: every etcd member healthy, exactly
the expected members, one leader agreed by all, a quorum write read back on
every node, and fleet's machine list (with --deep, a unit scheduled by fleet).

Host keys are pinned in known_hosts on first contact and verified after; a
changed key fails loudly.

Exit status: 0 healthy, 1 unhealthy, 2 usage or configuration error.

Checks: ` + strings.Join(health.CheckNames(), ", ") + `
Groups: etcd (all etcd-*), fleet (all fleet-*).`,
		Example: `  cododemo verify                          # the current lab
  cododemo verify --inventory hosts.yaml   # any cluster
  cododemo verify --wait 5m                # until healthy, or fail after 5 minutes
  cododemo verify --only etcd,ssh -o json
  cododemo verify --skip docker,fleet -o junit > verify.xml`,
		Args: func(cmd *cobra.Command, args []string) error { return cmdutil.Usage(cobra.NoArgs(cmd, args)) },
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := complete(cmd, f, o); err != nil {
				return err
			}
			return run(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Inventory, "inventory", "i", "", "inventory file (YAML or JSON) of any cluster; default: the lab's <state_dir>/inventory.yaml")
	fl.StringVar(&o.KnownHosts, "known-hosts", "", "known_hosts file pinning host keys (default: the lab's, or known_hosts beside --inventory)")
	fl.StringSliceVar(&o.Only, "only", nil, "run only these checks or groups (comma-separated)")
	fl.StringSliceVar(&o.Skip, "skip", nil, "skip these checks or groups (comma-separated)")
	fl.BoolVar(&o.Deep, "deep", false, "also schedule a test unit with fleet (slow)")
	fl.DurationVar(&o.Wait, "wait", 0, "retry with backoff until healthy or this long has passed (e.g. 5m)")
	fl.DurationVar(&o.Timeout, "timeout", 15*time.Second, "time limit for each check")
	fl.DurationVar(&o.ConnectTimeout, "connect-timeout", 10*time.Second, "time limit for each SSH connect and login")
	fl.IntVar(&o.Parallel, "parallel", 16, "nodes worked on at once")
	fl.BoolVar(&o.InsecureSkipHostKeyCheck, "insecure-skip-host-key-check", false, "INSECURE: accept any host key (anyone on the network path can impersonate the nodes)")
	fl.BoolVar(&o.NoPin, "no-pin", false, "refuse hosts not already in known_hosts instead of pinning them")
	cmdutil.AddOutputFlag(cmd, &o.Output, cmdutil.OutputTable, cmdutil.OutputJSON, cmdutil.OutputJUnit)
	return cmd
}

// complete turns flags and the lab into a ready inventory; every error is
// a usage or configuration error (exit 2).
func complete(cmd *cobra.Command, f *cmdutil.Factory, o *Options) error {
	var err error
	if o.format, err = cmdutil.CheckOutput(o.Output, cmdutil.OutputTable, cmdutil.OutputJSON, cmdutil.OutputJUnit); err != nil {
		return err
	}
	if o.checks, err = health.Select(o.Only, o.Skip, o.Deep); err != nil {
		return cmdutil.Usage(err)
	}
	if o.Parallel < 1 {
		return cmdutil.Usage(fmt.Errorf("--parallel %d: want at least 1", o.Parallel))
	}
	if o.Timeout <= 0 || o.ConnectTimeout <= 0 || o.Wait < 0 {
		return cmdutil.Usage(errors.New("--timeout, --connect-timeout and --wait must be positive"))
	}
	if o.Inventory != "" {
		path := o.Inventory
		if !filepath.IsAbs(path) {
			path = filepath.Join(f.WorkDir, path)
		}
		if o.inv, err = inventory.Load(path, f.Getenv); err != nil {
			return cmdutil.Usage(fmt.Errorf("inventory: %w", err))
		}
		if o.KnownHosts == "" {
			o.KnownHosts = filepath.Join(filepath.Dir(path), KnownHostsFile)
		}
		return nil
	}
	l, err := f.LoadLab(cmd, lab.SecretsRead)
	if err != nil {
		return err
	}
	var kh string
	if o.inv, kh, err = labInventory(l, f.Getenv); err != nil {
		return err
	}
	if o.KnownHosts == "" {
		o.KnownHosts = kh
	}
	return nil
}

// labInventory reads the inventory `up` wrote into the lab's state dir and
// fills in what the nodes should run from the lab's config and lock.
func labInventory(l *lab.Lab, getenv func(string) string) (*inventory.Inventory, string, error) {
	loaded, lock := l.Loaded, l.Lock
	state := loaded.StatePath()
	path := filepath.Join(state, inventory.FileName)
	inv, err := inventory.Load(path, getenv)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", cmdutil.Usage(fmt.Errorf("no inventory at %s: start the lab with `cododemo up`, or pass --inventory FILE", path))
		}
		return nil, "", cmdutil.Usage(fmt.Errorf("inventory: %w", err))
	}
	// The lab's own settings say what the nodes should run, unless the lab
	// brings its own box: then cododemo cannot know what OS it carries.
	if loaded.Lab.Box.Name != "" {
		return inv, filepath.Join(state, KnownHostsFile), nil
	}
	if inv.OS.ID == "" {
		inv.OS.ID = loaded.Lab.Distro
	}
	if inv.OS.Channel == "" && loaded.Lab.Distro == "flatcar" {
		inv.OS.Channel = loaded.Lab.Channel
	}
	if lock != nil && lock.OS.Version != "" {
		inv.OS.Version = lock.OS.Version
	}
	return inv, filepath.Join(state, KnownHostsFile), nil
}

// Lab verifies a lab that `up` has just started, retrying for up to wait:
// the same checks and table as `cododemo verify --wait`.
func Lab(ctx context.Context, f *cmdutil.Factory, lab *lab.Lab, wait time.Duration) error {
	o := &Options{IO: f.IO, Getenv: f.Getenv, Wait: wait, Timeout: 15 * time.Second,
		ConnectTimeout: 10 * time.Second, Parallel: 16, format: cmdutil.OutputTable}
	var err error
	if o.checks, err = health.Select(nil, nil, false); err != nil {
		return err
	}
	if o.inv, o.KnownHosts, err = labInventory(lab, f.Getenv); err != nil {
		return err
	}
	return run(ctx, o)
}

func run(ctx context.Context, o *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	conn := o.Connector
	if conn == nil {
		if o.InsecureSkipHostKeyCheck {
			fmt.Fprintln(o.IO.ErrOut, "WARNING: --insecure-skip-host-key-check: host keys are NOT verified; anyone on the network path can impersonate the nodes")
		}
		hk := sshx.NewKnownHosts(o.KnownHosts)
		hk.NoPin = o.NoPin
		sc := &health.SSHConnector{Base: sshx.Config{
			AgentSocket:           o.Getenv("SSH_AUTH_SOCK"),
			HostKeys:              hk,
			InsecureIgnoreHostKey: o.InsecureSkipHostKeyCheck,
			Timeout:               o.ConnectTimeout,
		}}
		conn = sc
		defer sc.Close()
	}
	verify := func(ctx context.Context) *health.Report {
		// A fresh connection set per attempt: a node that came back since
		// the last attempt is dialled again.
		c := conn
		if sc, ok := conn.(*health.SSHConnector); ok && o.Wait > 0 {
			fresh := &health.SSHConnector{Base: sc.Base}
			defer fresh.Close()
			c = fresh
		}
		v := &health.Verifier{Inv: o.inv, Conn: c, Opts: health.Options{Checks: o.checks, Timeout: o.Timeout, Parallel: o.Parallel}}
		return v.Verify(ctx)
	}
	var rep *health.Report
	if o.Wait > 0 {
		rep = health.Wait(ctx, verify, health.WaitOptions{
			Deadline: o.Wait,
			Progress: func(attempt int, r *health.Report, next time.Duration) {
				fmt.Fprintf(o.IO.ErrOut, "attempt %d: still failing: %s; next try in %s\n",
					attempt, strings.Join(r.Failing(), ", "), next.Round(time.Second))
			},
		})
	} else {
		rep = verify(ctx)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var err error
	switch o.format {
	case cmdutil.OutputJSON:
		err = health.WriteJSON(o.IO.Out, rep)
	case cmdutil.OutputJUnit:
		err = health.WriteJUnit(o.IO.Out, rep)
	default:
		err = health.WriteTable(o.IO.Out, rep, o.IO.ColorOut())
	}
	if err != nil {
		return err
	}
	if !rep.Healthy() {
		return &cmdutil.SilentError{Code: cmdutil.ExitFailure}
	}
	return nil
}
