package doctor

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/cododemo/cododemo/pkg/config"
)

func ok(format string, a ...any) Finding {
	return Finding{Status: StatusOK, Finding: fmt.Sprintf(format, a...)}
}

func skip(format string, a ...any) Finding {
	return Finding{Status: StatusSkip, Finding: fmt.Sprintf(format, a...)}
}

func warn(fix, format string, a ...any) Finding {
	return Finding{Status: StatusWarn, Finding: fmt.Sprintf(format, a...), Fix: fix}
}

func fail(fix, format string, a ...any) Finding {
	return Finding{Status: StatusFail, Finding: fmt.Sprintf(format, a...), Fix: fix}
}

// toolFailure turns a failed tool probe into a finding: missing, stuck or
// broken, each with its own fix.
func toolFailure(err error, tool, install string) Finding {
	switch {
	case missing(err):
		return fail(install, "%s not found on PATH", tool)
	case timedOut(err):
		return fail(fmt.Sprintf("run `%s` by hand: something in it is stuck (a half-finished upgrade, a hung daemon); reinstall if it never answers", tool),
			"%s", firstLine(err))
	}
	return fail(install, "%s failed: %s", tool, firstLine(err))
}

func installVagrant(hostOS string) string {
	switch hostOS {
	case "darwin":
		return "install Vagrant >= " + MinVagrant + ": `brew install --cask vagrant` or https://developer.hashicorp.com/vagrant/install"
	case "windows":
		return "install Vagrant >= " + MinVagrant + " from https://developer.hashicorp.com/vagrant/install"
	}
	return "install Vagrant >= " + MinVagrant + ": `sudo apt-get install vagrant` (Debian/Ubuntu) or https://developer.hashicorp.com/vagrant/install"
}

func installVirtualBox(hostOS string) string {
	alt := "; or use the libvirt provider (provider: libvirt)"
	switch hostOS {
	case "darwin":
		return "install VirtualBox (Intel Macs): `brew install --cask virtualbox`"
	case "windows":
		return "install VirtualBox from https://www.virtualbox.org/wiki/Downloads"
	}
	return "install VirtualBox from https://www.virtualbox.org/wiki/Linux_Downloads" + alt
}

func checkVagrant(t Target, f *Facts) Finding {
	if err := f.Vagrant.Err; err != nil {
		return toolFailure(err, "vagrant", installVagrant(f.HostOS))
	}
	return ok("Vagrant %s", f.Vagrant.Val)
}

func checkVagrantVersion(t Target, f *Facts) Finding {
	if f.Vagrant.Err != nil {
		return skip("Vagrant did not run (see CD001)")
	}
	v := f.Vagrant.Val
	need, why := vagrantForBox(t)
	if CompareVersions(v, need) < 0 {
		return fail("upgrade Vagrant: "+strings.Replace(installVagrant(f.HostOS), MinVagrant, need, 1),
			"Vagrant %s is older than %s, %s", v, need, why)
	}
	return ok("Vagrant %s >= %s", v, need)
}

func checkVirtualBox(t Target, f *Facts) Finding {
	if t.Provider != "virtualbox" {
		return skip("provider is %s", t.Provider)
	}
	vb := f.VirtualBox
	if vb.Err != nil {
		r := toolFailure(vb.Err, "VBoxManage", installVirtualBox(f.HostOS))
		if missing(vb.Err) {
			r.Finding = "VBoxManage not found on PATH: VirtualBox is not installed"
		}
		return r
	}
	for _, w := range vb.Val.Warnings {
		if strings.Contains(w, "vboxdrv") {
			return fail("rebuild and load the driver: `sudo /sbin/vboxconfig` (after a kernel update, install the matching linux-headers first)",
				"VirtualBox %s is installed but its kernel driver is not loaded: %s", vb.Val.Version, w)
		}
	}
	return ok("VirtualBox %s", vb.Val.Version)
}

func checkVagrantVirtualBox(t Target, f *Facts) Finding {
	if t.Provider != "virtualbox" {
		return skip("provider is %s", t.Provider)
	}
	if f.Vagrant.Err != nil || f.VirtualBox.Err != nil {
		return skip("needs both Vagrant and VirtualBox (see CD001, CD003)")
	}
	vg, vb := f.Vagrant.Val, f.VirtualBox.Val.Version
	need, tooOld := vagrantForVBox(vb)
	switch {
	case tooOld:
		return fail("upgrade VirtualBox to 7.0 or newer: "+installVirtualBox(f.HostOS),
			"VirtualBox %s is older than %s, the oldest cododemo supports", vb, oldestVBox)
	case need == "" && CompareVersions(vg, newestKnownVagrant()) <= 0:
		// Vagrant's driver map ends at what it knew when released; a
		// newer VirtualBox is refused by name, whatever it could do.
		return fail(fmt.Sprintf("install VirtualBox %s (the newest Vagrant %s knows), or a Vagrant newer than %s if one supports %s", newestVBoxFor(vg), vg, vg, majorMinor(vb)),
			"Vagrant %s refuses VirtualBox %s: it knows releases up to %s only", vg, vb, strings.TrimSuffix(newestVBoxFor(vg), ".x"))
	case need == "":
		return warn("if `vagrant up` reports the VirtualBox version as unsupported, upgrade Vagrant or install the newest VirtualBox it lists",
			"VirtualBox %s is newer than any release cododemo knows Vagrant supports", vb)
	case CompareVersions(vg, need) < 0:
		return fail(fmt.Sprintf("upgrade Vagrant to %s or newer, or install VirtualBox %s (the newest this Vagrant supports)", need, newestVBoxFor(vg)),
			"Vagrant %s refuses VirtualBox %s: support for %s came in Vagrant %s", vg, vb, majorMinor(vb), need)
	}
	return ok("Vagrant %s supports VirtualBox %s (since Vagrant %s)", vg, majorMinor(vb), need)
}

// newestVBoxFor is the newest VirtualBox major.minor vagrant accepts.
func newestVBoxFor(vagrant string) string {
	best := oldestVBox
	for _, e := range vboxFirstVagrant {
		if CompareVersions(vagrant, e.Vagrant) >= 0 {
			best = e.VBox
		}
	}
	return best + ".x"
}

func installLibvirt(hostOS string) string {
	if hostOS != "linux" {
		return "libvirt labs run on Linux hosts; use provider: virtualbox here"
	}
	return "install libvirt: `sudo apt-get install libvirt-clients libvirt-daemon-system qemu-system-x86` (Debian/Ubuntu) or `sudo dnf install libvirt-client libvirt-daemon-kvm` (Fedora), then start libvirtd"
}

func checkLibvirt(t Target, f *Facts) Finding {
	if t.Provider != "libvirt" {
		return skip("provider is %s", t.Provider)
	}
	if err := f.Virsh.Err; err != nil {
		r := toolFailure(err, "virsh", installLibvirt(f.HostOS))
		if missing(err) {
			r.Finding = "virsh not found on PATH: libvirt's client tools are not installed"
		}
		return r
	}
	if err := f.Libvirt.Err; err != nil {
		return fail("start libvirtd (`sudo systemctl start libvirtd`; without systemd `sudo libvirtd -d && sudo virtlogd -d`) and allow your user in: `sudo usermod -aG libvirt $USER`, then log in again",
			"virsh %s cannot connect to %s: %s", f.Virsh.Val, LibvirtURI, firstLine(err))
	}
	return ok("virsh %s; %s answers", f.Virsh.Val, f.Libvirt.Val)
}

func checkVagrantLibvirt(t Target, f *Facts) Finding {
	if t.Provider != "libvirt" {
		return skip("provider is %s", t.Provider)
	}
	if f.Vagrant.Err != nil {
		return skip("Vagrant did not run (see CD001)")
	}
	if err := f.VagrantPlugins.Err; err != nil {
		return toolFailure(err, "vagrant plugin list", "run `vagrant plugin repair`, or `vagrant plugin expunge --reinstall`")
	}
	for _, p := range f.VagrantPlugins.Val {
		if p.Name == "vagrant-libvirt" {
			return ok("vagrant-libvirt %s with Vagrant %s", p.Version, f.Vagrant.Val)
		}
	}
	return fail("`vagrant plugin install vagrant-libvirt` (Debian/Ubuntu: `sudo apt-get install vagrant-libvirt`)",
		"the vagrant-libvirt plugin is not installed")
}

func checkVirtualization(t Target, f *Facts) Finding {
	r := f.Virt
	if errors.Is(r.Err, errors.ErrUnsupported) || (r.Err == nil && !r.Val.Known) {
		return skip("cannot check on %s without admin rights; make sure VT-x/AMD-V is enabled in the firmware settings", f.HostOS)
	}
	if r.Err != nil {
		return warn("check by hand that VT-x/AMD-V is enabled", "cannot read the CPU's virtualisation support: %s", firstLine(r.Err))
	}
	v := r.Val
	noFlag := "the CPU reports neither vmx nor svm: VT-x/AMD-V is off in the firmware, or hidden by the hypervisor this host runs in"
	if f.HostOS == "darwin" {
		noFlag = "macOS reports no hypervisor support (kern.hv_support is 0)"
	}
	switch t.Provider {
	case "virtualbox":
		if v.CPUFlag == "" {
			return fail("enable VT-x/AMD-V in the BIOS/UEFI setup (inside a VM: enable nested virtualisation); or use provider: libvirt with libvirt.driver: qemu",
				"%s; VirtualBox cannot start 64-bit guests without it", noFlag)
		}
		// KVM holding VT-x is CD017's finding.
		return ok("CPU has %s", v.CPUFlag)
	case "libvirt":
		if t.LibvirtDriver == "qemu" {
			msg := "libvirt.driver is qemu: software emulation, works without VT-x but boots slowly"
			if v.KVM && v.KVMErr == nil && v.CPUFlag != "" {
				msg += "; /dev/kvm is usable, so libvirt.driver: kvm would be much faster"
			}
			return ok("%s", msg)
		}
		if !v.KVM {
			return fail("enable VT-x/AMD-V and load kvm_intel or kvm_amd (`sudo modprobe kvm_intel`); or set libvirt.driver: qemu (software emulation, slow)",
				"/dev/kvm does not exist: KVM is not available (%s)", flagSummary(v))
		}
		if v.KVMErr != nil {
			return fail("`sudo usermod -aG kvm $USER` and log in again; or set libvirt.driver: qemu",
				"/dev/kvm cannot be opened: %v", v.KVMErr)
		}
		if v.CPUFlag == "" {
			return warn("if nodes hang at boot, set libvirt.driver: qemu",
				"/dev/kvm opens, but the CPU reports neither vmx nor svm (KVM inside another hypervisor): nested KVM may hang")
		}
		return ok("CPU has %s; /dev/kvm is usable", v.CPUFlag)
	}
	return skip("provider is %s", t.Provider)
}

func flagSummary(v Virt) string {
	if v.CPUFlag == "" {
		return "and the CPU reports neither vmx nor svm"
	}
	return "the CPU has " + v.CPUFlag
}

func checkArch(t Target, f *Facts) Finding {
	host, box := f.HostArch, t.Arch
	switch {
	case host == box:
		return ok("host %s, box %s", host, box)
	case host == "arm64" && box == "amd64":
		return fail(arm64Fix,
			"this host is arm64 (Apple silicon or another ARM machine): Flatcar publishes no arm64 Vagrant or VirtualBox box, VirtualBox on arm64 runs only arm64 guests, and emulating the amd64 box boots far too slowly for a lab. Nothing was downloaded")
	case host == "amd64" && box == "arm64":
		if t.Provider == "libvirt" && t.LibvirtDriver == "qemu" {
			return warn("set arch: amd64 unless you need arm64 guests",
				"an arm64 box on an amd64 host runs under full emulation: expect minutes per boot")
		}
		return fail("set arch: amd64",
			"%s on an amd64 host cannot run the arm64 box", providerName(t))
	}
	return fail("run the lab on an amd64 or arm64 machine", "host architecture %s cannot run the %s box", host, box)
}

func providerName(t Target) string {
	if t.Provider == "libvirt" {
		return "libvirt with " + t.LibvirtDriver
	}
	return "VirtualBox"
}

// Memory budget: each VM costs its RAM plus hypervisor overhead, and the
// host keeps a reserve so the presenter's browser and slides stay usable.
const (
	ReserveMiB    = 2048
	VMOverheadMiB = 128
	mib           = 1 << 20
	gib           = 1 << 30
)

// SuggestMemory is the largest node memory (MiB, a multiple of 256) that
// lets nodes VMs fit in availMiB with the reserve left; 0 when even
// config.MinMemory does not fit.
func SuggestMemory(availMiB uint64, nodes int) int {
	if nodes < 1 || availMiB <= ReserveMiB {
		return 0
	}
	per := int((availMiB-ReserveMiB)/uint64(nodes)) - VMOverheadMiB
	per -= per % 256
	if per < config.MinMemory {
		return 0
	}
	return per
}

func checkMemory(t Target, f *Facts) Finding {
	r := f.Memory
	if errors.Is(r.Err, errors.ErrUnsupported) {
		return skip("cannot read free memory on %s", f.HostOS)
	}
	if r.Err != nil {
		return warn("check free memory by hand", "cannot read free memory: %s", firstLine(r.Err))
	}
	avail := r.Val.Available / mib
	need := uint64(t.Nodes) * uint64(t.MemoryMiB+VMOverheadMiB)
	sug := SuggestMemory(avail, t.Nodes)
	lab := fmt.Sprintf("%d %s x %d MiB need about %s", t.Nodes, plural(t.Nodes, "node"), t.MemoryMiB, human(need*mib))
	fits := fmt.Sprintf("largest node size that fits: %d MiB", sug)
	fix := fmt.Sprintf("set nodes.memory: %d (the largest that leaves %s for the host), or close programs", sug, human(ReserveMiB*mib))
	if sug == 0 {
		fits = "not even 1 GiB nodes fit"
		k := 0
		if avail > ReserveMiB {
			k = int((avail - ReserveMiB) / (config.MinMemory + VMOverheadMiB))
		}
		if k >= 1 {
			fix = fmt.Sprintf("set nodes.count: %d with nodes.memory: %d, or close programs", k, config.MinMemory)
		} else {
			fix = "close programs to free memory: not even one node fits with the host's reserve"
		}
	}
	switch {
	case avail >= need+ReserveMiB:
		return ok("%s; %s available (%s)", lab, human(avail*mib), fits)
	case avail >= need:
		return warn(fix, "%s; %s available leaves less than %s for the host: expect swapping (%s)",
			lab, human(avail*mib), human(ReserveMiB*mib), fits)
	}
	return fail(fix, "%s; only %s available (%s)", lab, human(avail*mib), fits)
}

// Disk budget: the box unpacked in Vagrant's home (and its download while
// adding), each VM's copy of the disk as it grows with images, and the
// state dir's rendered files, logs and artifacts.
const (
	BoxBytes      = 3 * gib / 2
	NodeDiskBytes = 3 * gib
	StateDirBytes = 256 * mib
	diskMargin    = 2 * gib
)

// Roles of DiskFact.
const (
	RoleVagrantHome = "Vagrant home"
	RoleVMDisks     = "VM disks"
	RoleStateDir    = "state dir"
)

// diskNeeds lists where the lab puts bytes.
func diskNeeds(t Target, home, vmDir string) []DiskFact {
	var out []DiskFact
	if home != "" {
		out = append(out, DiskFact{Role: RoleVagrantHome, Want: home})
	}
	if vmDir != "" {
		out = append(out, DiskFact{Role: RoleVMDisks, Want: vmDir})
	}
	if t.StateDir != "" {
		out = append(out, DiskFact{Role: RoleStateDir, Want: t.StateDir})
	}
	return out
}

func (f *Facts) boxCached(ref BoxRef) bool {
	if f.Box.Err != nil {
		return false
	}
	if ref.Version == "" {
		return len(f.Box.Val.Versions) > 0
	}
	return slices.Contains(f.Box.Val.Versions, ref.Version)
}

func checkDisk(t Target, f *Facts) Finding {
	if len(f.Disks) == 0 {
		return skip("no place to measure")
	}
	type fsys struct {
		free  uint64
		need  uint64
		roles []string
	}
	byDev := map[uint64]*fsys{}
	var devs []uint64
	var unknown []string
	for _, d := range f.Disks {
		if d.Space.Err != nil {
			unknown = append(unknown, fmt.Sprintf("%s %s: %s", d.Role, d.Want, firstLine(d.Space.Err)))
			continue
		}
		var need uint64
		switch d.Role {
		case RoleVagrantHome:
			if !f.boxCached(t.Box) {
				need = BoxBytes
			}
		case RoleVMDisks:
			need = uint64(t.Nodes) * NodeDiskBytes
		case RoleStateDir:
			need = StateDirBytes
		}
		fs, seen := byDev[d.Space.Val.Device]
		if !seen {
			fs = &fsys{free: d.Space.Val.Free}
			byDev[d.Space.Val.Device] = fs
			devs = append(devs, d.Space.Val.Device)
		}
		fs.need += need
		fs.roles = append(fs.roles, fmt.Sprintf("%s %s", d.Role, d.Space.Val.Path))
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i] < devs[j] })
	status := StatusOK
	var parts []string
	for _, dev := range devs {
		fs := byDev[dev]
		where := strings.Join(fs.roles, ", ")
		switch {
		case fs.free < fs.need:
			status = StatusFail
			parts = append(parts, fmt.Sprintf("%s free for %s, which need about %s", human(fs.free), where, human(fs.need)))
		case fs.free < fs.need+diskMargin:
			if status == StatusOK {
				status = StatusWarn
			}
			parts = append(parts, fmt.Sprintf("%s free for %s, which need about %s: little room left", human(fs.free), where, human(fs.need)))
		case fs.need == 0:
			parts = append(parts, fmt.Sprintf("%s free for %s (box cached: nothing new needed)", human(fs.free), where))
		default:
			parts = append(parts, fmt.Sprintf("%s free for %s (need about %s)", human(fs.free), where, human(fs.need)))
		}
	}
	if len(unknown) > 0 && status == StatusOK {
		status = StatusWarn
	}
	parts = append(parts, unknown...)
	msg := strings.Join(parts, "; ")
	fix := fmt.Sprintf("free space there, or put VAGRANT_HOME and state_dir on a bigger disk (the lab needs the box, %s, once and %s per node)",
		human(BoxBytes), human(NodeDiskBytes))
	switch status {
	case StatusFail:
		return fail(fix, "%s", msg)
	case StatusWarn:
		return warn(fix, "%s", msg)
	}
	return ok("%s", msg)
}

func portProblem(port int, err error) string {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Sprintf("127.0.0.1:%d is in use", port)
	case errors.Is(err, syscall.EACCES):
		return fmt.Sprintf("port %d needs root (ports below 1024 are privileged)", port)
	}
	return fmt.Sprintf("127.0.0.1:%d: %s", port, firstLine(err))
}

func whoListens(port int, hostOS string) string {
	if hostOS == "linux" {
		return fmt.Sprintf("`ss -ltnp 'sport = :%d'`", port)
	}
	return fmt.Sprintf("`lsof -nP -iTCP:%d -sTCP:LISTEN`", port)
}

func checkForwardedPorts(t Target, f *Facts) Finding {
	if len(t.Forwarded) == 0 {
		return ok("the lab forwards no ports")
	}
	var bad, good []string
	var first int
	for _, pu := range t.Forwarded {
		r, ran := f.Ports[pu.Port]
		if !ran || r.Err == nil {
			good = append(good, fmt.Sprint(pu.Port))
			continue
		}
		if first == 0 {
			first = pu.Port
		}
		bad = append(bad, portProblem(pu.Port, r.Err)+" ("+pu.What+")")
	}
	if len(bad) > 0 {
		return fail(fmt.Sprintf("stop what listens there (%s shows it) or change the host port in forwarded_ports; if this lab is already up, its own VMs hold them (`cododemo status`)", whoListens(first, f.HostOS)),
			"%s", strings.Join(bad, "; "))
	}
	return ok("127.0.0.1 ports %s are free", strings.Join(good, ", "))
}

func checkFirstBootPort(t Target, f *Facts) Finding {
	r, ran := f.Ports[t.FirstBootPort]
	if !ran {
		return skip("no first-boot port planned")
	}
	if r.Err != nil {
		return fail(fmt.Sprintf("stop what listens there (%s shows it) or set first_boot.port to a free port", whoListens(t.FirstBootPort, f.HostOS)),
			"%s: the first-boot server cannot serve node configs", portProblem(t.FirstBootPort, r.Err))
	}
	return ok("127.0.0.1:%d is free", t.FirstBootPort)
}

// VirtualBoxRestrictedSince is the first VirtualBox that limits host-only
// networks to 192.168.56.0/21 unless networks.conf says otherwise.
const VirtualBoxRestrictedSince = "6.1.28"

func checkHostOnlyRange(t Target, f *Facts) Finding {
	if t.Provider != "virtualbox" {
		return skip("provider is %s: libvirt makes its own networks", t.Provider)
	}
	if vb := f.VirtualBox; vb.Err == nil && vb.Val.Version != "" && CompareVersions(vb.Val.Version, VirtualBoxRestrictedSince) < 0 {
		return ok("VirtualBox %s predates the host-only range restriction (%s)", vb.Val.Version, VirtualBoxRestrictedSince)
	}
	r := f.VBoxNetworks
	if r.Err != nil {
		return warn("check /etc/vbox/networks.conf by hand", "cannot read VirtualBox's host-only allow list: %s", firstLine(r.Err))
	}
	nc := r.Val
	if !nc.Enforced {
		return ok("VirtualBox on %s does not restrict host-only ranges", f.HostOS)
	}
	allowed := []netip.Prefix{config.VirtualBoxRange}
	source := "VirtualBox's default range"
	if nc.Present {
		allowed, source = nc.Ranges, nc.Path
	}
	for _, a := range allowed {
		if a.Contains(t.Subnet.Addr()) && a.Bits() <= t.Subnet.Bits() {
			return ok("%s is inside %s (%s)", t.Subnet, a, source)
		}
	}
	path := nc.Path
	if path == "" {
		path = "/etc/vbox/networks.conf"
	}
	line := "* " + t.Subnet.String()
	fix := fmt.Sprintf("add the line `%s` to %s (`sudo mkdir -p /etc/vbox && echo '%s' | sudo tee -a %s`), or set network.cidr inside %s",
		line, path, line, path, config.VirtualBoxRange)
	if !nc.Present {
		fix += fmt.Sprintf("; the file replaces the default, so also add `* %s` if other labs use it", config.VirtualBoxRange)
	}
	var list []string
	for _, a := range allowed {
		list = append(list, a.String())
	}
	if len(list) == 0 {
		list = []string{"nothing"}
	}
	return fail(fix, "VirtualBox >= %s refuses host-only networks outside %s (%s); %s is outside",
		VirtualBoxRestrictedSince, strings.Join(list, ", "), source, t.Subnet)
}

// ownNetwork says whether an interface is a hypervisor's host-only bridge:
// the lab's own network from an earlier `up`, not a clash.
func ownNetwork(name string) bool {
	for _, p := range []string{"vboxnet", "virbr", "vnet"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// ifaceKind names what usually owns an interface, for the finding.
func ifaceKind(name string) string {
	switch {
	case name == "docker0" || strings.HasPrefix(name, "br-") || name == "docker_gwbridge":
		return "Docker"
	case name == "cni0" || name == "flannel.1" || strings.HasPrefix(name, "cali") || name == "podman0":
		return "a container network"
	}
	for _, p := range []string{"tun", "tap", "wg", "ppp", "utun", "ipsec", "tailscale", "zt", "nordlynx", "cscotun", "gpd", "vpn", "proton"} {
		if strings.HasPrefix(name, p) {
			return "a VPN"
		}
	}
	return ""
}

// clashes lists the host's networks that overlap subnet, in words.
func (f *Facts) clashes(subnet netip.Prefix) []string {
	var out []string
	seen := map[string]bool{}
	add := func(desc, iface string, p netip.Prefix) {
		key := iface + " " + p.Masked().String()
		if seen[key] {
			return
		}
		seen[key] = true
		if k := ifaceKind(iface); k != "" {
			desc += " (" + k + ")"
		}
		out = append(out, desc)
	}
	for _, ia := range f.Interfaces.Val {
		if ia.Prefix.Addr().Is4() && !ownNetwork(ia.Name) && ia.Prefix.Masked().Overlaps(subnet) {
			add(fmt.Sprintf("%s has %s", ia.Name, ia.Prefix), ia.Name, ia.Prefix)
		}
	}
	for _, r := range f.Routes.Val {
		// The default route overlaps everything and clashes with nothing.
		if r.Dst.Bits() == 0 || ownNetwork(r.Iface) || !r.Dst.Overlaps(subnet) {
			continue
		}
		add(fmt.Sprintf("route to %s via %s", r.Dst, r.Iface), r.Iface, r.Dst)
	}
	return out
}

// freeSubnet suggests a /24 in VirtualBox's default range that nothing on
// the host overlaps ("" when none is free).
func (f *Facts) freeSubnet(t Target) string {
	base := config.VirtualBoxRange.Addr().As4()
	for i := 0; i < 8; i++ {
		c := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], base[2] + byte(i), 0}), 24)
		if c == t.Subnet {
			continue
		}
		if len(f.clashes(c)) == 0 {
			return c.String()
		}
	}
	return ""
}

func checkSubnetClash(t Target, f *Facts) Finding {
	if f.Interfaces.Err != nil && f.Routes.Err != nil {
		return warn("check `ip addr` and `ip route` by hand", "cannot read the host's networks: %s", firstLine(f.Interfaces.Err))
	}
	cl := f.clashes(t.Subnet)
	if len(cl) == 0 {
		msg := fmt.Sprintf("%s overlaps no interface or route of this host", t.Subnet)
		if f.Routes.Err != nil {
			if errors.Is(f.Routes.Err, errors.ErrUnsupported) {
				return ok("%s overlaps no interface of this host (routes cannot be read on %s)", t.Subnet, f.HostOS)
			}
			return warn("check `ip route` by hand", "%s; routes unreadable: %s", msg, firstLine(f.Routes.Err))
		}
		return ok("%s", msg)
	}
	fix := "set network.cidr to a subnet nothing on this host uses"
	if s := f.freeSubnet(t); s != "" {
		fix = fmt.Sprintf("set network.cidr: %s (free on this host)", s)
	}
	fix += "; or stop the VPN / move Docker's bridge (\"bip\" in /etc/docker/daemon.json)"
	return fail(fix, "%s overlaps %s: the nodes' traffic would go the wrong way", t.Subnet, strings.Join(cl, "; "))
}

func checkBox(t Target, f *Facts) Finding {
	if t.Box.Name == "" {
		return skip("the lab names no box")
	}
	box := t.Box.Name
	if t.Box.Version != "" {
		box += " " + t.Box.Version
	}
	box += " (" + t.Box.Provider + ")"
	if r := f.Box; r.Err != nil && !missing(r.Err) {
		return warn("check `vagrant box list`", "cannot read Vagrant's box cache in %s: %s", f.VagrantHome, firstLine(r.Err))
	}
	cached := f.boxCached(t.Box)
	if t.Distro == "coreos" && !cached {
		return fail("copy the .box from a colleague and `vagrant box add --name "+t.Box.Name+" <file>`, or switch to distro: flatcar",
			"legacy CoreOS box %s is not in Vagrant's cache (%s), and its release servers are gone since 2020", box, f.VagrantHome)
	}
	switch {
	case t.Lock.Mismatch != "":
		return warn("run `cododemo lock` again", "%s", t.Lock.Mismatch)
	case !cached:
		return warn("run `cododemo box fetch` before the workshop, on a good network",
			"%s not cached; `cododemo box fetch` will download it", box)
	case !t.Lock.Present && t.Distro == "flatcar":
		return warn("run `cododemo lock` and commit cododemo.lock so every attendee gets the same release",
			"%s is cached, but no cododemo.lock pins the version", box)
	}
	return ok("%s is cached in %s", box, f.Box.Val.Dir)
}

func checkSSHKey(t Target, f *Facts) Finding {
	r := f.SSHKey
	if !r.Ran {
		return skip("the lab has no state dir")
	}
	if errors.Is(r.Err, errors.ErrUnsupported) {
		return skip("cannot check file modes on %s", f.HostOS)
	}
	if r.Err != nil && !missing(r.Err) {
		return warn("check the state dir's permissions", "cannot read %s: %s", t.SSHKey, firstLine(r.Err))
	}
	if r.Err != nil || !r.Val.Present {
		return ok("%s does not exist yet; `cododemo up` generates it", t.SSHKey)
	}
	if r.Val.ACL {
		if len(r.Val.Others) > 0 {
			return fail(fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r "%%USERNAME%%:F"`, t.SSHKey),
				"%s can be read by %s: OpenSSH refuses a private key others can read", t.SSHKey, strings.Join(r.Val.Others, ", "))
		}
		return ok("%s is readable by its owner only (access list)", t.SSHKey)
	}
	if m := r.Val.Mode.Perm(); m&0o077 != 0 {
		return fail(fmt.Sprintf("chmod 600 %s", t.SSHKey),
			"%s has mode %04o: OpenSSH refuses a private key others can read", t.SSHKey, m)
	}
	return ok("%s has mode %04o", t.SSHKey, r.Val.Mode.Perm())
}

// human prints bytes in binary units, one decimal.
func human(b uint64) string {
	switch {
	case b >= gib:
		return fmt.Sprintf("%.1f GiB", float64(b)/gib)
	case b >= mib:
		return fmt.Sprintf("%d MiB", b/mib)
	}
	return fmt.Sprintf("%d B", b)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
