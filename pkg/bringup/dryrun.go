package bringup

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/plan"
)

// DryRun writes what the steps would do for l, in their order, and does
// none of it: no lock written, no box fetched, nothing rendered into the
// state dir, no Vagrant. It reads only the lab as loaded, so a presenter
// can check the plan (nodes, addresses, what will be downloaded and from
// where) before the network or the hypervisor are involved.
func DryRun(w io.Writer, l *lab.Lab, o Options) {
	p := l.Plan
	names := o.Nodes
	if len(names) == 0 {
		names = p.NodeNames()
	}
	fmt.Fprintf(w, "lab %s (dry run: nothing is changed)\n", l.Lab.Name)
	fmt.Fprintf(w, "  provider %s, network %s, host %s, state dir %s\n", l.Lab.Provider, p.Network, p.HostIP, l.State.Path)

	fmt.Fprintln(w, "nodes:")
	for _, n := range p.Nodes {
		mark := ""
		if !contains(names, n.Name) {
			mark = " (not brought up by this run)"
		}
		fmt.Fprintf(w, "  %s  %s  mac %s  first boot by %s (%s)%s\n", n.Name, n.IP, n.MAC, string(n.Delivery), n.Delivery.Format(), mark)
	}

	if o.SkipPreflight {
		fmt.Fprintln(w, "preflight: skipped (--skip-preflight)")
	} else {
		fmt.Fprintln(w, "preflight: the fatal doctor checks")
	}

	fmt.Fprintln(w, "downloads:")
	switch {
	case l.Lab.Distro != "flatcar":
		fmt.Fprintf(w, "  none by cododemo: Vagrant uses box %s from its own cache\n", p.Box.Name)
	default:
		if !l.Lock.Complete(l.Lab) {
			fmt.Fprintf(w, "  lock: resolve flatcar %s %s and write %s\n", l.Lab.Channel, l.Lab.Version, l.LockPath())
		}
		switch {
		case l.Lab.Box.Name != "":
			fmt.Fprintf(w, "  box %s: the lab's own, already in Vagrant\n", l.Lab.Box.Name)
		case l.Lock.Resolved() && l.Lock.OS.Image != nil:
			fmt.Fprintf(w, "  box %s %s (%s) packed here from Flatcar's QEMU image %s\n", l.Lock.OS.Box.Name, l.Lock.OS.Version, l.Lock.OS.Box.Provider, l.Lock.OS.Image.URL)
		case l.Lock.Resolved():
			fmt.Fprintf(w, "  box %s %s (%s) from %s\n", l.Lock.OS.Box.Name, l.Lock.OS.Version, l.Lock.OS.Box.Provider, l.Lock.OS.Box.URL)
		default:
			fmt.Fprintf(w, "  box %s: the release the lock step resolves, from %s\n", p.Box.Name, firstNonEmpty(p.Box.URL, "the release server"))
		}
		if o.Offline {
			fmt.Fprintln(w, "  --offline: only from the cache and imported bundles")
		}
		var arts []string
		if l.Lock != nil {
			for name := range l.Lock.Artifacts {
				arts = append(arts, name)
			}
		}
		sort.Strings(arts)
		for _, name := range arts {
			a := l.Lock.Artifacts[name]
			fmt.Fprintf(w, "  artifact %s from %s\n", name, a.URL)
		}
		for _, a := range p.Artifacts {
			if l.Lock == nil || l.Lock.Artifacts[a.Name].URL == "" {
				// The kit has no version: its sha256 is what the lock pins.
				fmt.Fprintf(w, "  artifact %s: source pinned by the lock step\n", strings.TrimSpace(a.Name+" "+a.Version))
			}
		}
	}

	fmt.Fprintf(w, "render: Vagrantfile and node configs into %s\n", l.State.Path)
	fmt.Fprintln(w, "started:")
	if len(p.Artifacts) > 0 || servesConfigs(l) {
		fmt.Fprintf(w, "  first-boot server on %s (guests see %s), only while nodes boot\n", p.FirstBoot.Listen, p.FirstBoot.GuestBase)
	}
	how := "vagrant up"
	if o.Serial {
		how += ", one node at a time"
	}
	fmt.Fprintf(w, "  %s: %s\n", how, strings.Join(names, ", "))
	if o.NoVerify {
		fmt.Fprintln(w, "verify: skipped (--no-verify)")
	} else {
		fmt.Fprintf(w, "verify: etcd, fleet, Docker over SSH, waiting up to %s\n", o.Wait)
	}
}

// servesConfigs says whether a node fetches its config from the
// first-boot server rather than having it inlined.
func servesConfigs(l *lab.Lab) bool {
	for _, n := range l.Plan.Nodes {
		if n.Delivery == plan.GuestProperty {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
