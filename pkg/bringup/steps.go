package bringup

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/cododemo/cododemo/pkg/bootfail"
	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/doctor"
	"github.com/cododemo/cododemo/pkg/doctor/probe"
	"github.com/cododemo/cododemo/pkg/firstboot"
	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/image"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/netfail"
	"github.com/cododemo/cododemo/pkg/nodeout"
	"github.com/cododemo/cododemo/pkg/plan"
	"github.com/cododemo/cododemo/pkg/render"
	"github.com/cododemo/cododemo/pkg/sshtarget"
	"github.com/cododemo/cododemo/pkg/sshx"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

// Preflight runs the fatal doctor checks (unless skipped) and prints the
// warnings.
func Preflight(ctx context.Context, s *State) error {
	if s.Opts.SkipPreflight {
		fmt.Fprintln(s.Env.ErrOut, "WARNING: --skip-preflight: not checking this machine; failures will come from Vagrant instead")
		return nil
	}
	s.heading("preflight")
	rep, err := doctor.Preflight(ctx, probe.New(s.Env.Runner, s.Env.Getenv), doctor.NewTarget(s.Lab.Plan, s.Lab.State.Path), doctor.Options{})
	for _, fd := range rep.Findings {
		if fd.Status == doctor.StatusWarn {
			fmt.Fprintf(s.Env.ErrOut, "warning: %s %s: %s\n", fd.Code, fd.Check, fd.Finding)
		}
	}
	return err
}

// images is the image service Pin and Box share, made on first use.
// Legacy CoreOS boxes live only in Vagrant's cache: they need none.
func (s *State) images() (*image.Service, error) {
	if s.imageSvc != nil {
		return s.imageSvc, nil
	}
	svc, err := image.New(image.Options{Mirror: firstNonEmpty(s.Opts.Mirror, s.Lab.Lab.Mirror), Offline: s.Opts.Offline,
		Runner: s.Env.Runner, Getenv: s.Env.Getenv, Log: s.Env.ErrOut, Progress: s.progress()})
	if err != nil {
		return nil, err
	}
	s.imageSvc = svc
	return svc, nil
}

// Pin writes the lock when the lab has none, or one that lacks what this
// lab needs: the exact OS release and box, and the artifacts nodes install.
// A lab on its own box (box.name) still gets its artifacts pinned.
func Pin(ctx context.Context, s *State) error {
	l := s.Lab
	if l.Lab.Distro != "flatcar" {
		return nil
	}
	svc, err := s.images()
	if err != nil {
		return err
	}
	if l.Lock.Complete(l.Lab) {
		return nil
	}
	if l.Lab.Box.Name == "" {
		s.heading("lock: resolving flatcar %s %s", l.Lab.Channel, l.Lab.Version)
	} else {
		s.heading("lock: pinning the artifacts nodes install (box %s is the lab's own)", l.Lab.Box.Name)
	}
	lock, warnings, err := svc.Fill(ctx, l.Lab, l.Lock)
	if err != nil {
		return netfail.Explain(fmt.Errorf("lock: %w", err))
	}
	for _, w := range warnings {
		fmt.Fprintln(s.Env.ErrOut, "warning:", w)
	}
	if err := config.WriteLock(l.LockPath(), lock); err != nil {
		return err
	}
	fmt.Fprintf(s.Env.ErrOut, "wrote %s: commit it so every laptop gets the same lab\n", l.LockPath())
	l.Lock = lock
	l.Plan, err = plan.New(l.Lab, lock, l.Plan.Secrets)
	return err
}

// Box fetches, verifies and adds the lab's box to Vagrant (unless the lab
// brings its own), and fetches the artifacts the lock pins.
func Box(ctx context.Context, s *State) error {
	l := s.Lab
	if l.Lab.Distro != "flatcar" {
		return nil
	}
	svc, err := s.images()
	if err != nil {
		return err
	}
	if l.Lab.Box.Name == "" {
		if l.Lock.OS.Image != nil {
			s.heading("box %s %s (libvirt, packed from Flatcar's signed QEMU image)", l.Lock.OS.Box.Name, l.Lock.OS.Version)
		} else {
			s.heading("box %s %s", l.Lock.OS.Box.Name, l.Lock.OS.Version)
		}
		b, err := svc.EnsureBox(ctx, l.Lab, l.Lock)
		if err != nil {
			return netfail.Explain(fmt.Errorf("box: %w", err))
		}
		added, err := svc.AddToVagrant(ctx, b)
		if err != nil {
			return fmt.Errorf("box: %w", err)
		}
		if added {
			fmt.Fprintf(s.Env.ErrOut, "vagrant: added %s %s (%s)\n", b.Name, b.Version, b.Provider)
		}
	}
	if s.artifacts, err = svc.EnsureArtifacts(ctx, l.Lock); err != nil {
		return netfail.Explain(fmt.Errorf("artifacts: %w", err))
	}
	return nil
}

// Render writes the Vagrantfile and node configs into the state dir.
func Render(_ context.Context, s *State) error {
	s.heading("render")
	res, err := s.Lab.WriteRender(s.Env.Version, s.Opts.Force, s.Env.ErrOut)
	if err != nil {
		return err
	}
	s.rendered = res
	shareFwCfg(s, res)
	shareConsoles(s, res)
	return nil
}

// shareConsoles lets libvirt's QEMU write each node's serial console log
// in the state dir's console/ (QEMU or libvirt opens it, as QEMU's user)
// and read nothing else there. VirtualBox writes it as the user.
func shareConsoles(s *State, res *render.Result) {
	if s.Lab.Lab.Provider != "libvirt" {
		return
	}
	var logs []string
	for _, n := range res.Plan.Nodes {
		logs = append(logs, s.Lab.State.Join(filepath.FromSlash(labstate.ConsoleLog(n.Name))))
	}
	if _, err := firstboot.ShareConsoleWithQEMU(s.Lab.State.Join(labstate.ConsoleDir), s.Lab.State.Path, logs); err != nil {
		fmt.Fprintf(s.Env.ErrOut, "note: %v; a node that does not boot may then show no console\n", err)
	}
	if user, dir, err := firstboot.QEMUBlockedAbove(s.Lab.State.Path); err == nil && dir != "" {
		fmt.Fprintf(s.Env.ErrOut, "warning: libvirt's QEMU runs as %s, which may not pass through %s: it cannot open the files of this lab's state dir "+
			"(a node's fw_cfg config, its console log); let it search that directory only (`setfacl -m u:%s:x %s`) or keep the lab elsewhere\n",
			user, dir, user, dir)
	}
}

// shareFwCfg lets libvirt's QEMU, which reads a node's fw_cfg config as
// its own user, read it, and nobody else (render writes it 0644 for
// that). Where that cannot be done (no QEMU user, no ACLs) the file stays
// as written and the user is told.
func shareFwCfg(s *State, res *render.Result) {
	for _, n := range res.Plan.Nodes {
		if n.Delivery != plan.FwCfg {
			continue
		}
		if _, err := firstboot.ShareWithQEMU(s.Lab.State.Join("nodes", n.Name+".ign"), s.Lab.State.Path); err != nil {
			fmt.Fprintf(s.Env.ErrOut, "note: %v; it stays readable by every local user\n", err)
		}
	}
}

// Serve starts the first-boot server when nodes need it (Ignition configs
// too big to inline, artifacts to install); it serves until Inventory (or
// the end of up).
func Serve(ctx context.Context, s *State) error {
	files, err := served(s.Lab, s.rendered, s.artifacts)
	if err != nil || len(files) == 0 {
		return err
	}
	errOut := s.Env.ErrOut
	srv, err := firstboot.New(files, func(fe firstboot.Fetch) {
		if fe.Status != 200 {
			fmt.Fprintf(errOut, "first boot: %s asked for %s: %d\n", fe.Remote, fe.URLPath, fe.Status)
		}
	})
	if err != nil {
		return err
	}
	serveCtx, cancel := context.WithCancel(ctx)
	s.server, s.stopServing = srv, cancel
	fb := s.Lab.Plan.FirstBoot
	if err := srv.StartFor(serveCtx, fb.Listen, s.Lab.Lab.Provider, errOut); err != nil {
		return err
	}
	s.heading("first boot: serving %d file(s) on %s (guests: %s)", len(files), fb.Listen, fb.GuestBase)
	return nil
}

// Boot runs vagrant up over the nodes, one at a time where the provider
// needs it, with the output per node. A node that fails to boot does not
// stop the run here: Inventory still records the nodes that came up, then
// reports the failure.
func Boot(ctx context.Context, s *State) error {
	l := s.Lab
	names := s.names()
	s.heading("vagrant up %s (%s)", joinNames(names), l.Lab.Provider)
	logFile, err := nodeout.OpenLog(l.State.Path, "up", time.Now())
	if err != nil {
		return err
	}
	defer logFile.Close()
	set := nodeout.New(s.Env.ErrOut, names, nodeout.Options{Live: s.Env.Live, Log: logFile})
	set.Start(time.Second)
	s.driver = vagrant.New(s.Env.Runner, l.State.Path, l.Lab.Provider, s.Env.Getenv)
	// The plan Up makes from its own `vagrant status` says which nodes are
	// new machines (new host keys); no second status call for that.
	s.fresh = map[string]bool{}
	s.bootErr = s.driver.Up(ctx, vagrant.UpOptions{Names: names, Provider: l.Lab.Provider, Serial: s.Opts.Serial,
		Out: set.Output(), OnPhase: set.SetPhase, OnPlan: func(p vagrant.UpPlan) {
			for _, st := range p.Steps {
				if st.Create {
					s.fresh[st.Name] = true
				}
			}
		}})
	_ = set.Close()
	s.bootLog = logFile.Name()
	fmt.Fprintf(s.Env.ErrOut, "full log: %s\n", logFile.Name())
	return ctx.Err()
}

// Inventory records how to reach every node that runs, stops the
// first-boot server once the nodes have what they fetch from it, and
// reports Boot's failure.
func Inventory(ctx context.Context, s *State) error {
	invErr := writeInventory(ctx, s.driver, s.Lab, s.fresh)
	if s.Lab.Plan.Provision.Delivery == plan.Upload && s.bootErr == nil && invErr == nil {
		// Ignition fetches everything in the initramfs, before SSH is up;
		// the uploaded cloud-config fetches etcd and fleet only once
		// coreos-cloudinit runs, after `vagrant up` has returned. Keep
		// serving while verify waits for it (Run stops the server at the
		// end); without verify, until every new node has fetched every
		// artifact.
		if s.Opts.NoVerify {
			waitFetched(ctx, s.server, s.Lab.Plan.Artifacts, len(s.fresh), 10*time.Minute, s.Env.ErrOut)
			s.Close()
		}
	} else {
		s.Close()
	}
	if s.bootErr != nil {
		// Each node's reason and console instead of Vagrant's output,
		// which stays in the log.
		return fmt.Errorf("%w\nthe nodes that came up are kept; fix the cause and run `cododemo up` again to bring up only what is missing",
			bootfail.Explain(s.bootErr, s.Lab.State.Path, s.bootLog))
	}
	return invErr
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

// writeInventory writes the inventory: SSH endpoints from `vagrant
// ssh-config`, addresses from the plan. A node created by this run is a
// new machine with a new host key: its old pin is dropped so the next
// contact pins the new one instead of failing as a changed key.
func writeInventory(ctx context.Context, drv *vagrant.Driver, l *lab.Lab, fresh map[string]bool) error {
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
	path := l.State.Join(labstate.InventoryFile)
	if prev, err := inventory.Load(path, nil); err == nil {
		inventory.KeepEndpoints(eps, prev)
	}
	inv, err := inventory.FromPlan(l.Plan, eps)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	kh := sshx.NewKnownHosts(l.State.Join(labstate.KnownHostsFile))
	for _, n := range inv.Nodes {
		if fresh[n.Name] {
			if err := kh.Forget(n.SSH.Addr()); err != nil {
				return fmt.Errorf("%s: forget the old host key: %w", n.Name, err)
			}
		}
	}
	return inventory.Write(path, inv)
}

// Verify checks the lab that has just come up, as `cododemo verify --wait`
// does, and writes the report; an unhealthy lab is ErrUnhealthy.
func Verify(ctx context.Context, s *State) error {
	if s.Opts.NoVerify {
		return nil
	}
	s.heading("verify --wait %s", s.Opts.Wait)
	t := sshtarget.Flags{ConnectTimeout: health.DefaultConnectTimeout}
	nodes, err := t.Resolve(sshtarget.Env{Getenv: s.Env.Getenv, Warn: s.Env.ErrOut,
		LoadLab: func() (*lab.Lab, error) { return s.Lab, nil }})
	if err != nil {
		return err
	}
	checks, err := health.Select(nil, nil, false)
	if err != nil {
		return err
	}
	conn := nodes.Connector()
	defer conn.Close()
	rep := health.Run(ctx, nodes.Inv, conn, health.RunOptions{Options: health.Options{Checks: checks, Timeout: s.Opts.CheckTimeout}, Wait: s.Opts.Wait, Progress: s.Env.ErrOut})
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := health.WriteTable(s.Env.Out, rep, s.Env.Colour, 0); err != nil {
		return err
	}
	if !rep.Healthy() {
		return ErrUnhealthy
	}
	s.Verified = true
	return nil
}
