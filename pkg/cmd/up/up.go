// Package up implements `cododemo up`: preflight, lock, box, render, first
// boot, vagrant up, inventory, verify.
package up

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/doctor"
	"github.com/cododemo/cododemo/pkg/doctor/probe"
	"github.com/cododemo/cododemo/pkg/firstboot"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/nodeout"
	"github.com/cododemo/cododemo/pkg/plan"
	"github.com/cododemo/cododemo/pkg/render"
	"github.com/cododemo/cododemo/pkg/sshx"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

// Options are `up`'s flags.
type Options struct {
	Nodes         []string
	SkipPreflight bool
	NoVerify      bool
	Serial        bool
	Force         bool
	Offline       bool
	Mirror        string
	Wait          time.Duration
	// Verify runs `verify --wait` against the new inventory; injected so
	// the verify command owns how (and tests can stub it).
	Verify func(ctx context.Context, lab *lab.Lab, wait time.Duration) error
}

// NewCmdUp builds `cododemo up`. verify is the verify step (the verify
// command's entry point), passed in so the two commands stay apart.
func NewCmdUp(f *cmdutil.Factory, verify func(ctx context.Context, lab *lab.Lab, wait time.Duration) error) *cobra.Command {
	o := &Options{Verify: verify}
	cmd := &cobra.Command{
		Use:   "up [NODE...]",
		Short: "Preflight, render, bring the nodes up, serve their first boot, verify",
		Long: `up brings the lab up, or the part of it that is missing:

  1. preflight: the fatal doctor checks (--skip-preflight to override)
  2. lock: pins the exact OS release, box and artifacts when the lab has no lock yet
  3. box: fetched, verified and added to Vagrant under its real name and version
  4. render: Vagrantfile and node configs into the state dir
  5. first boot: serves Ignition configs too big to inline and the artifacts
     nodes install, on the narrowest address, only while nodes boot
  6. vagrant up, one node at a time where the provider needs it, output per node
  7. inventory and pinned host keys, then verify --wait (--no-verify to skip)

When a node fails the others are kept; run up again to bring up only what
is missing.`,
		Example: `  cododemo up
  cododemo up core-02            # bring back one node
  cododemo up --no-verify --serial`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Nodes = args
			lab, err := f.LoadLab(cmd, lab.SecretsCreate)
			if err != nil {
				return err
			}
			for _, n := range o.Nodes {
				if _, ok := lab.Plan.Node(n); !ok {
					return cmdutil.Usage(fmt.Errorf("%q is not a node of this lab (%s)", n, strings.Join(lab.Plan.NodeNames(), ", ")))
				}
			}
			return Run(cmd.Context(), f, o, lab)
		},
	}
	fl := cmd.Flags()
	config.AddLabFlags(fl)
	fl.BoolVar(&o.SkipPreflight, "skip-preflight", false, "DANGEROUS: start even when doctor finds a fatal problem")
	fl.BoolVar(&o.NoVerify, "no-verify", false, "do not verify the lab once it is up")
	fl.BoolVar(&o.Serial, "serial", false, "bring nodes up strictly one after another")
	fl.BoolVar(&o.Force, "force", false, "overwrite rendered files edited by hand")
	fl.BoolVar(&o.Offline, "offline", false, "use only the cache and imported bundles")
	fl.StringVar(&o.Mirror, "mirror", "", "release server mirror base URL (config key mirror)")
	fl.DurationVar(&o.Wait, "wait", 10*time.Minute, "how long verify may retry until the lab is healthy")
	return cmd
}

// Run is `up` for a loaded lab.
func Run(ctx context.Context, f *cmdutil.Factory, o *Options, lab *lab.Lab) error {
	errOut := f.IO.ErrOut
	step := func(format string, a ...any) { fmt.Fprintf(errOut, "==> "+format+"\n", a...) }

	// 1. Preflight.
	if o.SkipPreflight {
		fmt.Fprintln(errOut, "WARNING: --skip-preflight: not checking this machine; failures will come from Vagrant instead")
	} else {
		step("preflight")
		rep, err := doctor.Preflight(ctx, probe.New(f.Runner, f.Getenv), doctor.NewTarget(lab.Plan, lab.State.Path), doctor.Options{})
		for _, fd := range rep.Findings {
			if fd.Status == doctor.StatusWarn {
				fmt.Fprintf(errOut, "warning: %s %s: %s\n", fd.Code, fd.Check, fd.Finding)
			}
		}
		if err != nil {
			return err
		}
	}

	// 2-3. Lock, box and artifacts. Legacy CoreOS boxes live only in
	// Vagrant's cache: nothing to resolve. A lab on its own box (box.name)
	// still gets its artifacts (fleet, etcd) pinned and served.
	var artifacts []image.Artifact
	if lab.Lab.Distro == "flatcar" {
		svc, err := image.New(image.Options{Mirror: firstNonEmpty(o.Mirror, lab.Lab.Mirror), Offline: o.Offline,
			Runner: f.Runner, Getenv: f.Getenv, Log: errOut, Progress: progress(f)})
		if err != nil {
			return err
		}
		if !lab.Lock.Complete(lab.Lab) {
			if lab.Lab.Box.Name == "" {
				step("lock: resolving flatcar %s %s", lab.Lab.Channel, lab.Lab.Version)
			} else {
				step("lock: pinning the artifacts nodes install (box %s is the lab's own)", lab.Lab.Box.Name)
			}
			lock, warnings, err := svc.Fill(ctx, lab.Lab, lab.Lock)
			if err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			for _, w := range warnings {
				fmt.Fprintln(errOut, "warning:", w)
			}
			if err := config.WriteLock(lab.LockPath(), lock); err != nil {
				return err
			}
			fmt.Fprintf(errOut, "wrote %s: commit it so every laptop gets the same lab\n", lab.LockPath())
			lab.Lock = lock
			if lab.Plan, err = plan.New(lab.Lab, lock, lab.Plan.Secrets); err != nil {
				return err
			}
		}
		if lab.Lab.Box.Name == "" {
			step("box %s %s", lab.Lock.OS.Box.Name, lab.Lock.OS.Version)
			b, err := svc.EnsureBox(ctx, lab.Lab, lab.Lock)
			if err != nil {
				return fmt.Errorf("box: %w", err)
			}
			if _, err := svc.AddToVagrant(ctx, b); err != nil {
				return fmt.Errorf("box: %w", err)
			}
		}
		if artifacts, err = svc.EnsureArtifacts(ctx, lab.Lock); err != nil {
			return fmt.Errorf("artifacts: %w", err)
		}
	}

	// 4. Render.
	step("render")
	res, err := lab.WriteRender(f.Version, o.Force, errOut)
	if err != nil {
		return err
	}

	// 5. First boot.
	files, err := servedFiles(lab, res, artifacts)
	if err != nil {
		return err
	}
	stopServing := func() {}
	var srv *firstboot.Server
	if len(files) > 0 {
		srv, err = firstboot.New(files, func(fe firstboot.Fetch) {
			if fe.Status != 200 {
				fmt.Fprintf(errOut, "first boot: %s asked for %s: %d\n", fe.Remote, fe.URLPath, fe.Status)
			}
		})
		if err != nil {
			return err
		}
		serveCtx, cancel := context.WithCancel(ctx)
		stopServing = cancel
		defer cancel()
		if err := startServing(serveCtx, srv, lab.Plan.FirstBoot.Listen, lab.Lab.Provider, errOut); err != nil {
			return err
		}
		step("first boot: serving %d file(s) on %s (guests: %s)", len(files), lab.Plan.FirstBoot.Listen, lab.Plan.FirstBoot.GuestBase)
	}

	// 6. vagrant up.
	names := o.Nodes
	if len(names) == 0 {
		names = lab.Plan.NodeNames()
	}
	step("vagrant up %s (%s)", strings.Join(names, " "), lab.Lab.Provider)
	logFile, err := nodeout.OpenLog(lab.State.Path, "up", time.Now())
	if err != nil {
		return err
	}
	defer logFile.Close()
	set := nodeout.New(errOut, names, nodeout.Options{Live: f.IO.ErrTTY, Log: logFile})
	set.Start(time.Second)
	drv := vagrant.New(f.Runner, lab.State.Path, lab.Lab.Provider, f.Getenv)
	// The plan Up makes from its own `vagrant status` says which nodes are
	// new machines (new host keys); no second status call for that.
	fresh := map[string]bool{}
	upErr := drv.Up(ctx, vagrant.UpOptions{Names: names, Provider: lab.Lab.Provider, Serial: o.Serial,
		Out: set.Output(), OnPhase: set.SetPhase, OnPlan: func(p vagrant.UpPlan) {
			for _, st := range p.Steps {
				if st.Create {
					fresh[st.Name] = true
				}
			}
		}})
	_ = set.Close()
	fmt.Fprintf(errOut, "full log: %s\n", logFile.Name())
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// 7. Inventory of what runs, host keys, verify.
	invErr := writeInventory(ctx, drv, lab, fresh)
	if lab.Plan.Provision.Delivery == plan.Upload && upErr == nil && invErr == nil {
		// Ignition fetches everything in the initramfs, before SSH is up;
		// the uploaded cloud-config fetches etcd and fleet only once
		// coreos-cloudinit runs, after `vagrant up` has returned. Keep
		// serving while verify waits for it; without verify, until every
		// new node has fetched every artifact.
		if o.NoVerify || o.Verify == nil {
			waitFetched(ctx, srv, lab.Plan.Artifacts, len(fresh), 10*time.Minute, errOut)
			stopServing()
		}
	} else {
		stopServing()
	}
	if upErr != nil {
		return fmt.Errorf("%w\nthe nodes that came up are kept; fix the cause and run `cododemo up` again to bring up only what is missing", upErr)
	}
	if invErr != nil {
		return invErr
	}
	if o.NoVerify || o.Verify == nil {
		fmt.Fprintf(f.IO.Out, "lab %s is up (not verified); next: cododemo verify\n", lab.Lab.Name)
		return nil
	}
	step("verify --wait %s", o.Wait)
	if err := o.Verify(ctx, lab, o.Wait); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.Out, "lab %s is up and healthy: %s\n", lab.Lab.Name, strings.Join(lab.Plan.NodeNames(), ", "))
	return nil
}

// servedFiles lists what the first-boot server serves: the full Ignition
// configs behind pointer configs, and the artifacts nodes install.
func servedFiles(lab *lab.Lab, res *render.Result, arts []image.Artifact) ([]firstboot.File, error) {
	var files []firstboot.File
	for _, s := range res.Served {
		files = append(files, firstboot.File{URLPath: s.URLPath, Path: lab.State.Join(s.File), SHA256: s.SHA256})
	}
	for _, pa := range lab.Plan.Artifacts {
		var found *image.Artifact
		for i := range arts {
			if arts[i].Name == pa.Name {
				found = &arts[i]
			}
		}
		if found == nil {
			return nil, fmt.Errorf("artifact %s is not in the cache: run `cododemo lock` and `cododemo box fetch`", pa.Name)
		}
		if pa.SHA256 == "" || pa.SHA256 != found.SHA256 {
			return nil, fmt.Errorf("artifact %s: the lock pins %q but the cache has %q: run `cododemo lock` again", pa.Name, pa.SHA256, found.SHA256)
		}
		files = append(files, firstboot.File{URLPath: pa.Path, Path: found.Path, SHA256: found.SHA256})
	}
	return files, nil
}

// waitFetched waits until every artifact was served n times (once per new
// node), or until limit passes or ctx ends.
func waitFetched(ctx context.Context, srv *firstboot.Server, arts []plan.Artifact, n int, limit time.Duration, errOut io.Writer) {
	if srv == nil || n == 0 {
		return
	}
	done := func() bool {
		for _, a := range arts {
			if srv.Fetched(a.Path) < n {
				return false
			}
		}
		return true
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.After(limit)
	for !done() {
		select {
		case <-ctx.Done():
			return
		case <-deadline:
			fmt.Fprintf(errOut, "warning: after %s the nodes had not fetched every artifact; the first-boot server stops now\n", limit)
			return
		case <-tick.C:
		}
	}
}

// startServing binds the first-boot server. On libvirt the management
// network's gateway exists only once vagrant-libvirt has created the
// network, during the first `vagrant up`: keep trying in the background
// (bounded by ctx, which ends when up does).
func startServing(ctx context.Context, srv *firstboot.Server, addr netip.AddrPort, provider string, errOut io.Writer) error {
	err := srv.Start(ctx, addr)
	if err == nil || provider != "libvirt" {
		return err
	}
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if srv.Start(ctx, addr) == nil {
					fmt.Fprintf(errOut, "first boot: listening on %s\n", addr)
					return
				}
			}
		}
	}()
	return nil
}

// writeInventory records how to reach every node that runs: SSH endpoints
// from `vagrant ssh-config`, addresses from the plan. A node created by
// this run is a new machine with a new host key: its old pin is dropped so
// the next contact pins the new one instead of failing as a changed key.
func writeInventory(ctx context.Context, drv *vagrant.Driver, lab *lab.Lab, fresh map[string]bool) error {
	cfgs, err := drv.SSHConfig(ctx)
	if err != nil && len(cfgs) == 0 {
		return fmt.Errorf("inventory: %w", err)
	}
	eps := map[string]inventory.Endpoint{}
	for _, c := range cfgs {
		ep := inventory.Endpoint{Host: c.HostName, Port: c.Port, User: c.User}
		if len(c.IdentityFiles) > 0 {
			ep.IdentityFile = c.IdentityFiles[0]
		}
		eps[c.Host] = ep
	}
	// Nodes that are not running keep their last known endpoint.
	path := lab.State.Join(labstate.InventoryFile)
	if prev, err := inventory.Load(path, nil); err == nil {
		for _, n := range prev.Nodes {
			if _, ok := eps[n.Name]; !ok {
				eps[n.Name] = inventory.Endpoint{Host: n.SSH.Host, Port: n.SSH.Port, User: n.SSH.User, IdentityFile: n.SSH.IdentityFile}
			}
		}
	}
	inv, err := inventory.FromPlan(lab.Plan, eps)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	kh := sshx.NewKnownHosts(lab.State.Join(labstate.KnownHostsFile))
	for _, n := range inv.Nodes {
		if fresh[n.Name] {
			if err := kh.Forget(n.SSH.Addr()); err != nil {
				return fmt.Errorf("%s: forget the old host key: %w", n.Name, err)
			}
		}
	}
	return inventory.Write(path, inv)
}

func progress(f *cmdutil.Factory) io.Writer {
	if f.IO.ErrTTY {
		return f.IO.ErrOut
	}
	return nil
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}
