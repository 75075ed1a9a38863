package doctor

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// What works on an arm64 laptop: the lab's nodes on another machine,
// reached through an inventory; verify, ssh and exec work the same.
const arm64Fix = "run the lab on an amd64 machine (a colleague's laptop, a server, a cloud VM) and work with it from here: copy its inventory and key, then `cododemo verify --inventory hosts.yaml`, `cododemo ssh -i hosts.yaml core-01`, `cododemo exec -i hosts.yaml -- uptime`"

// FirstCloudInitBox is the first Flatcar release whose box Vagrantfile
// calls Vagrant's configure_networks_cloud_init (flatcar/scripts
// aa09e10d9d); Vagrant has it since 2.2.19 (hashicorp/vagrant 657b2a39d).
const (
	FirstCloudInitBox     = "4722"
	MinVagrantCloudInit   = "2.2.19"
	newestKnownVagrantVer = "2.4.9"
)

// newestKnownVagrant is the newest Vagrant release cododemo's table knows.
func newestKnownVagrant() string { return newestKnownVagrantVer }

// vagrantForBox is the oldest Vagrant the lab's box works with, and why.
// A box version pins the generation; without one, alpha and beta are
// already past 4722 (alpha 4790, beta 4757 as of 2026-08).
func vagrantForBox(t Target) (need, why string) {
	base := "the oldest the Flatcar box's Vagrantfile works with"
	if t.Distro != "flatcar" {
		return MinVagrant, base
	}
	newGen := false
	if t.Box.Version != "" {
		newGen = CompareVersions(t.Box.Version, FirstCloudInitBox) >= 0
	} else {
		newGen = t.Channel == "alpha" || t.Channel == "beta"
	}
	if !newGen {
		return MinVagrant, base
	}
	box := "Flatcar " + t.Channel
	if t.Box.Version != "" {
		box += " " + t.Box.Version
	}
	return MinVagrantCloudInit, fmt.Sprintf("which %s needs: boxes from %s on call Vagrant's configure_networks_cloud_init, new in %s", box, FirstCloudInitBox, MinVagrantCloudInit)
}

// KVMTakesVTxSince is the first Linux whose KVM turns VT-x/AMD-V on when
// its module loads (kvm.enable_virt_at_load=1 by default), not when a KVM
// guest starts: from then on VirtualBox cannot start a VM while any KVM
// module is loaded (VERR_VMX_IN_VMX_ROOT_MODE).
const KVMTakesVTxSince = "6.12"

func checkKVMVirtualBox(t Target, f *Facts) Finding {
	if t.Provider != "virtualbox" {
		return skip("provider is %s", t.Provider)
	}
	if f.HostOS != "linux" {
		return skip("KVM is Linux's")
	}
	m := f.KVMModule
	if m.Err != nil {
		return warn("check `lsmod | grep kvm` by hand", "cannot read the loaded modules: %s", firstLine(m.Err))
	}
	if len(m.Val.Loaded) == 0 {
		return ok("no KVM module is loaded")
	}
	mods := strings.Join(m.Val.Loaded, ", ")
	unload := "`sudo modprobe -r " + strings.Join(reversed(m.Val.Loaded), " ") + "` (stop KVM guests first)"
	kernel := f.Kernel.Val
	atLoad := m.Val.VirtAtLoad
	if !m.Val.VirtAtLoadKnown {
		atLoad = f.Kernel.Err == nil && CompareVersions(kernel, KVMTakesVTxSince) >= 0
	}
	if atLoad {
		return fail(unload+"; to keep KVM loaded, set kvm.enable_virt_at_load=0 (`echo 'options kvm enable_virt_at_load=0' | sudo tee /etc/modprobe.d/kvm-virtualbox.conf`, then reload the modules)",
			"%s loaded on Linux %s: KVM holds VT-x/AMD-V from the moment it loads (enable_virt_at_load), so VirtualBox cannot start the nodes (VERR_VMX_IN_VMX_ROOT_MODE)", mods, kernelName(f.Kernel))
	}
	return warn("if `vagrant up` fails with VERR_VMX_IN_VMX_ROOT_MODE, "+unload,
		"%s loaded on Linux %s: while a KVM guest runs, VirtualBox cannot start the nodes", mods, kernelName(f.Kernel))
}

func kernelName(k Result[string]) string {
	if k.Err != nil || k.Val == "" {
		return "(release unknown)"
	}
	return k.Val
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// SigningKeyWarnDays is how long before the subkey's expiry doctor warns:
// a workshop is planned months ahead, and a room offline after Flatcar's
// rotation cannot fetch the next subkey.
const SigningKeyWarnDays = 90

func checkSigningKey(t Target, f *Facts) Finding {
	if t.Distro != "flatcar" {
		return skip("distro is %s", t.Distro)
	}
	r := f.SigningKey
	if r.Err != nil {
		return warn("run `cododemo lock` once online", "cannot read Flatcar's signing key: %s", firstLine(r.Err))
	}
	k := r.Val
	where := "built into cododemo"
	if k.Refreshed {
		where = "taken in from Flatcar's current key, in the image cache"
	}
	if k.Expires.IsZero() {
		return ok("signing subkey %s (%s) never expires", k.ID, where)
	}
	day := k.Expires.UTC().Format(time.DateOnly)
	// Whole calendar days (UTC), as a person counts them to a date.
	left := int(k.Expires.UTC().Truncate(24*time.Hour).Sub(f.Now.UTC().Truncate(24*time.Hour)).Hours() / 24)
	refresh := "run `cododemo lock` online once Flatcar publishes its next signing subkey (cododemo takes it in from flatcar.org, or --mirror), or `cododemo bundle import` a bundle made after that; releases signed before " + day + " keep verifying"
	switch {
	case left < 0:
		return warn(refresh,
			"the newest signing subkey cododemo holds, %s (%s), expired %s: releases signed since are by a newer subkey, which a room without network cannot fetch", k.ID, where, day)
	case left < SigningKeyWarnDays:
		return warn(refresh,
			"Flatcar's signing subkey %s (%s) expires %s, in %d days: releases after it are signed by a new subkey, which a room without network cannot fetch", k.ID, where, day, left)
	}
	return ok("signing subkey %s (%s) is valid until %s (%d days)", k.ID, where, day, left)
}
