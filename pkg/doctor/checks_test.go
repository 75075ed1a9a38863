package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	osexec "os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/plan"
)

// target is the default lab's target (three Flatcar nodes on VirtualBox).
func target(t *testing.T, mutate ...func(*config.Lab)) Target {
	t.Helper()
	lab := config.Default()
	for _, m := range mutate {
		m(&lab)
	}
	p, err := plan.New(lab, nil, plan.Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	return NewTarget(p, "/lab/.cododemo")
}

func okResult[T any](v T) Result[T] { return Result[T]{Val: v, Ran: true} }
func errResult[T any](err error) Result[T] {
	return Result[T]{Err: err, Ran: true}
}

// healthy is a laptop on which the default lab starts.
func healthy() *Facts {
	return &Facts{
		HostOS: "linux", HostArch: "amd64", VagrantHome: "/home/u/.vagrant.d",
		Vagrant:        okResult("2.3.4"),
		VagrantPlugins: okResult([]Plugin{{Name: "vagrant-libvirt", Version: "0.11.2"}}),
		VirtualBox:     okResult(VirtualBox{Version: "7.0.14"}),
		Virsh:          okResult("9.0.0"),
		Libvirt:        okResult("qemu:///system"),
		Virt:           okResult(Virt{Known: true, CPUFlag: "vmx"}),
		Memory:         okResult(Memory{Total: 16 << 30, Available: 12 << 30}),
		Disks: []DiskFact{
			{Role: RoleVagrantHome, Want: "/home/u/.vagrant.d", Space: okResult(Disk{Path: "/home/u/.vagrant.d", Device: 1, Free: 100 << 30})},
			{Role: RoleVMDisks, Want: "/home/u/VirtualBox VMs", Space: okResult(Disk{Path: "/home/u", Device: 1, Free: 100 << 30})},
			{Role: RoleStateDir, Want: "/lab/.cododemo", Space: okResult(Disk{Path: "/lab", Device: 1, Free: 100 << 30})},
		},
		Ports: map[int]Result[struct{}]{8765: okResult(struct{}{})},
		Interfaces: okResult([]Iface{
			{Name: "wlan0", Prefix: netip.MustParsePrefix("192.168.1.23/24")},
			{Name: "vboxnet0", Prefix: netip.MustParsePrefix("192.168.56.1/24")},
		}),
		Routes: okResult([]Route{
			{Iface: "wlan0", Dst: netip.MustParsePrefix("0.0.0.0/0")},
			{Iface: "wlan0", Dst: netip.MustParsePrefix("192.168.1.0/24")},
			{Iface: "vboxnet0", Dst: netip.MustParsePrefix("192.168.56.0/24")},
		}),
		VBoxNetworks: okResult(NetworksConf{Enforced: true, Path: "/etc/vbox/networks.conf"}),
		Box:          okResult(BoxCache{Versions: []string{"4593.2.5"}, Dir: "/home/u/.vagrant.d/boxes/flatcar-stable"}),
		SSHKey:       okResult(KeyInfo{Present: true, Mode: 0o600}),
		Kernel:       okResult("6.1.0-28-amd64"),
		KVMModule:    okResult(KVMModule{}),
		SigningKey:   okResult(SigningKey{ID: "32DA80F91EF52974", Expires: keyExpiry, Refreshed: true}),
		Now:          today,
	}
}

// Flatcar's signing subkey of 2025-2027, and the day these tests judge on.
var (
	keyExpiry = time.Date(2027, 3, 8, 0, 0, 0, 0, time.UTC)
	today     = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
)

func find(t *testing.T, r Report, code string) Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Code == code {
			return f
		}
	}
	t.Fatalf("no finding %s", code)
	return Finding{}
}

func TestHealthyLaptop(t *testing.T) {
	tg := target(t)
	tg.Lock = LockState{Present: true, Resolved: true}
	tg.Box.Version = "4593.2.5"
	r := Judge(tg, healthy())
	if !r.OK {
		t.Fatalf("healthy laptop not ok: %+v", r.Fatal())
	}
	for _, f := range r.Findings {
		if f.Status != StatusOK && f.Status != StatusSkip {
			t.Errorf("%s %s: %s %q", f.Code, f.Check, f.Status, f.Finding)
		}
	}
	// Provider-specific checks skip for the other provider.
	for _, code := range []string{"CD005", "CD006"} {
		if f := find(t, r, code); f.Status != StatusSkip {
			t.Errorf("%s on a virtualbox lab: %s", code, f.Status)
		}
	}
	if r.Summary.OK+r.Summary.Skip != len(Checks()) || r.SchemaVersion != SchemaVersion {
		t.Errorf("summary %+v", r.Summary)
	}
}

func TestChecks(t *testing.T) {
	notFound := &exec.RunError{Command: "VBoxManage --version", Err: &osexec.Error{Name: "VBoxManage", Err: osexec.ErrNotFound}}
	stuck := &TimeoutError{What: "`vagrant --version`", After: 10 * time.Second}
	libvirt := func(l *config.Lab) { l.Provider = "libvirt" }
	tests := []struct {
		name   string
		code   string
		lab    []func(*config.Lab)
		target func(*Target)
		facts  func(*Facts)
		status Status
		want   []string // substrings of finding + " | " + fix
	}{
		{"vagrant missing", "CD001", nil, nil,
			func(f *Facts) {
				f.Vagrant = errResult[string](&exec.RunError{Command: "vagrant --version", Err: &osexec.Error{Name: "vagrant", Err: osexec.ErrNotFound}})
			},
			StatusFail, []string{"vagrant not found on PATH", "apt-get install vagrant"}},
		{"vagrant stuck", "CD001", nil, nil, func(f *Facts) { f.Vagrant = errResult[string](stuck) },
			StatusFail, []string{"timed out after 10s", "stuck"}},
		{"vagrant missing skips version", "CD002", nil, nil, func(f *Facts) { f.Vagrant = errResult[string](stuck) },
			StatusSkip, []string{"CD001"}},
		{"vagrant too old", "CD002", nil, nil, func(f *Facts) { f.Vagrant = okResult("2.2.4") },
			StatusFail, []string{"2.2.4 is older than 2.2.5"}},
		{"vagrant exactly minimum", "CD002", nil, nil, func(f *Facts) { f.Vagrant = okResult("2.2.5") },
			StatusOK, nil},
		{"4722 box needs cloud-init networking", "CD002", nil, func(tg *Target) { tg.Channel = "beta"; tg.Box.Version = "4722.1.0" },
			func(f *Facts) { f.Vagrant = okResult("2.2.18") },
			StatusFail, []string{"2.2.18 is older than 2.2.19", "Flatcar beta 4722.1.0", "configure_networks_cloud_init", "Vagrant >= 2.2.19"}},
		{"alpha without a lock is past 4722", "CD002", []func(*config.Lab){func(l *config.Lab) { l.Channel = "alpha" }}, nil,
			func(f *Facts) { f.Vagrant = okResult("2.2.10") },
			StatusFail, []string{"older than 2.2.19", "Flatcar alpha"}},
		{"4722 box with 2.2.19", "CD002", nil, func(tg *Target) { tg.Box.Version = "4790.0.0" },
			func(f *Facts) { f.Vagrant = okResult("2.2.19") },
			StatusOK, []string{">= 2.2.19"}},
		{"stable box with old vagrant", "CD002", nil, func(tg *Target) { tg.Box.Version = "4593.2.5" },
			func(f *Facts) { f.Vagrant = okResult("2.2.10") },
			StatusOK, []string{">= 2.2.5"}},
		{"virtualbox missing", "CD003", nil, nil, func(f *Facts) { f.VirtualBox = errResult[VirtualBox](notFound) },
			StatusFail, []string{"VirtualBox is not installed", "install VirtualBox", "provider: libvirt"}},
		{"virtualbox missing on macOS", "CD003", nil, nil,
			func(f *Facts) { f.HostOS = "darwin"; f.VirtualBox = errResult[VirtualBox](notFound) },
			StatusFail, []string{"brew install --cask virtualbox"}},
		{"vboxdrv not loaded", "CD003", nil, nil,
			func(f *Facts) {
				f.VirtualBox = okResult(VirtualBox{Version: "7.0.14", Warnings: []string{"WARNING: The vboxdrv kernel module is not loaded."}})
			},
			StatusFail, []string{"kernel driver is not loaded", "vboxconfig"}},
		{"vbox 7.1 with vagrant 2.3.4", "CD004", nil, nil, func(f *Facts) { f.VirtualBox = okResult(VirtualBox{Version: "7.1.4"}) },
			StatusFail, []string{"Vagrant 2.3.4 refuses VirtualBox 7.1.4", "Vagrant 2.4.2", "VirtualBox 7.0.x"}},
		{"vbox 7.1 with vagrant 2.4.2", "CD004", nil, nil,
			func(f *Facts) { f.Vagrant = okResult("2.4.2"); f.VirtualBox = okResult(VirtualBox{Version: "7.1.4"}) },
			StatusOK, []string{"since Vagrant 2.4.2"}},
		{"vbox 7.2 with vagrant 2.4.8", "CD004", nil, nil,
			func(f *Facts) { f.Vagrant = okResult("2.4.8"); f.VirtualBox = okResult(VirtualBox{Version: "7.2.2"}) },
			StatusFail, []string{"Vagrant 2.4.8 refuses VirtualBox 7.2.2", "Vagrant 2.4.9", "VirtualBox 7.1.x"}},
		{"vbox 7.2 with vagrant 2.4.9", "CD004", nil, nil,
			func(f *Facts) { f.Vagrant = okResult("2.4.9"); f.VirtualBox = okResult(VirtualBox{Version: "7.2.4"}) },
			StatusOK, []string{"since Vagrant 2.4.9"}},
		{"vbox newer than this vagrant knows", "CD004", nil, nil, func(f *Facts) { f.VirtualBox = okResult(VirtualBox{Version: "8.0.0"}) },
			StatusFail, []string{"Vagrant 2.3.4 refuses VirtualBox 8.0.0", "up to 7.0", "install VirtualBox 7.0.x"}},
		{"vbox and vagrant both from the future", "CD004", nil, nil,
			func(f *Facts) { f.Vagrant = okResult("2.5.0"); f.VirtualBox = okResult(VirtualBox{Version: "8.0.0"}) },
			StatusWarn, []string{"newer than any release"}},
		{"vbox too old", "CD004", nil, nil, func(f *Facts) { f.VirtualBox = okResult(VirtualBox{Version: "5.2.44"}) },
			StatusFail, []string{"older than 6.0"}},
		{"virsh missing", "CD005", []func(*config.Lab){libvirt}, nil,
			func(f *Facts) {
				f.Virsh = errResult[string](&exec.RunError{Command: "virsh --version", Err: &osexec.Error{Name: "virsh", Err: osexec.ErrNotFound}})
			},
			StatusFail, []string{"virsh not found", "apt-get install libvirt-clients"}},
		{"libvirtd down", "CD005", []func(*config.Lab){libvirt}, nil,
			func(f *Facts) {
				f.Libvirt = errResult[string](&exec.RunError{Command: "virsh -c qemu:///system uri", Err: errors.New("exit status 1"),
					Output: "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory"})
			},
			StatusFail, []string{"cannot connect to qemu:///system", "libvirt-sock", "libvirtd -d"}},
		{"libvirt ok", "CD005", []func(*config.Lab){libvirt}, nil, nil, StatusOK, []string{"virsh 9.0.0; qemu:///system answers"}},
		{"plugin missing", "CD006", []func(*config.Lab){libvirt}, nil, func(f *Facts) { f.VagrantPlugins = okResult([]Plugin(nil)) },
			StatusFail, []string{"vagrant plugin install vagrant-libvirt"}},
		{"plugin present", "CD006", []func(*config.Lab){libvirt}, nil, nil, StatusOK, []string{"vagrant-libvirt 0.11.2 with Vagrant 2.3.4"}},
		{"no vt-x for virtualbox", "CD007", nil, nil, func(f *Facts) { f.Virt = okResult(Virt{Known: true, KVM: true}) },
			StatusFail, []string{"neither vmx nor svm", "BIOS/UEFI"}},
		{"kvm beside virtualbox is CD017's", "CD007", nil, nil, func(f *Facts) { f.Virt = okResult(Virt{Known: true, CPUFlag: "svm", KVM: true}) },
			StatusOK, []string{"CPU has svm"}},
		{"windows cannot tell", "CD007", nil, nil, func(f *Facts) { f.HostOS = "windows"; f.Virt = okResult(Virt{}) },
			StatusSkip, []string{"without admin rights"}},
		{"libvirt kvm without /dev/kvm", "CD007", []func(*config.Lab){libvirt}, nil, func(f *Facts) { f.Virt = okResult(Virt{Known: true}) },
			StatusFail, []string{"/dev/kvm does not exist", "libvirt.driver: qemu"}},
		{"libvirt kvm no permission", "CD007", []func(*config.Lab){libvirt}, nil,
			func(f *Facts) {
				f.Virt = okResult(Virt{Known: true, CPUFlag: "vmx", KVM: true, KVMErr: fs.ErrPermission})
			},
			StatusFail, []string{"cannot be opened", "usermod -aG kvm"}},
		{"libvirt kvm without cpu flags", "CD007", []func(*config.Lab){libvirt}, nil,
			func(f *Facts) { f.Virt = okResult(Virt{Known: true, KVM: true}) },
			StatusWarn, []string{"nested KVM may hang", "libvirt.driver: qemu"}},
		{"libvirt qemu needs nothing", "CD007", []func(*config.Lab){libvirt, func(l *config.Lab) { l.Libvirt.Driver = "qemu" }}, nil,
			func(f *Facts) { f.Virt = okResult(Virt{Known: true}) },
			StatusOK, []string{"software emulation"}},
		{"arm64 laptop amd64 box", "CD008", nil, nil, func(f *Facts) { f.HostArch = "arm64" },
			StatusFail, []string{"host is arm64", "no arm64 Vagrant or VirtualBox box", "Nothing was downloaded", "amd64 machine", "verify --inventory hosts.yaml", "ssh -i hosts.yaml"}},
		{"apple silicon mac", "CD008", nil, nil, func(f *Facts) { f.HostOS = "darwin"; f.HostArch = "arm64" },
			StatusFail, []string{"Apple silicon", "inventory"}},
		{"intel mac keeps virtualbox", "CD008", nil, nil, func(f *Facts) { f.HostOS = "darwin" },
			StatusOK, []string{"host amd64, box amd64"}},
		{"amd64 laptop arm64 box", "CD008", []func(*config.Lab){func(l *config.Lab) { l.Arch = "arm64" }}, nil, nil,
			StatusFail, []string{"cannot run the arm64 box", "set arch: amd64"}},
		{"arm64 box emulated by qemu", "CD008",
			[]func(*config.Lab){libvirt, func(l *config.Lab) { l.Arch = "arm64"; l.Libvirt.Driver = "qemu" }}, nil, nil,
			StatusWarn, []string{"full emulation"}},
		{"memory short", "CD009", nil, nil, func(f *Facts) { f.Memory = okResult(Memory{Available: 5 << 30}) },
			StatusFail, []string{"only 5.0 GiB available", "nodes.memory: 1024"}},
		{"memory tight", "CD009", nil, nil, func(f *Facts) { f.Memory = okResult(Memory{Available: 7 << 30}) },
			StatusWarn, []string{"expect swapping", "nodes.memory: 1536"}},
		{"memory hopeless", "CD009", nil, nil, func(f *Facts) { f.Memory = okResult(Memory{Available: 3 << 30}) },
			StatusFail, []string{"not even 1 GiB nodes fit", "close programs"}},
		{"memory for fewer nodes", "CD009", nil, nil, func(f *Facts) { f.Memory = okResult(Memory{Available: 4 << 30}) },
			StatusFail, []string{"nodes.count: 1 with nodes.memory: 1024"}},
		{"disk short on shared fs", "CD010", nil, nil,
			func(f *Facts) {
				f.Box = okResult(BoxCache{})
				for i := range f.Disks {
					f.Disks[i].Space.Val.Free = 8 << 30
				}
			},
			StatusFail, []string{"8.0 GiB free for Vagrant home", "need about 10.8 GiB", "bigger disk"}},
		{"disk fine when box cached and separate fs", "CD010", nil, func(tg *Target) { tg.Box.Version = "4593.2.5" },
			func(f *Facts) {
				f.Disks[0].Space.Val = Disk{Path: "/home/u/.vagrant.d", Device: 2, Free: 5 << 30}
				f.Disks[1].Space.Val.Free = 12 << 30
			},
			StatusOK, []string{"5.0 GiB free for Vagrant home /home/u/.vagrant.d (box cached: nothing new needed)", "need about 9.2 GiB"}},
		{"disk unmeasurable", "CD010", nil, nil,
			func(f *Facts) {
				f.Disks[2].Space = errResult[Disk](&TimeoutError{What: "statfs /lab", After: time.Second})
			},
			StatusWarn, []string{"statfs /lab timed out"}},
		{"forwarded port taken", "CD011",
			[]func(*config.Lab){func(l *config.Lab) { l.ForwardPorts = []config.ForwardPort{{Guest: 80, Host: 8080}} }}, nil,
			func(f *Facts) {
				f.Ports[8080] = okResult(struct{}{})
				f.Ports[8081] = errResult[struct{}](&os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE})
				f.Ports[8082] = okResult(struct{}{})
			},
			StatusFail, []string{"127.0.0.1:8081 is in use (forwarded_ports.0 (core-02:80))", "ss -ltnp"}},
		{"privileged forwarded port", "CD011",
			[]func(*config.Lab){func(l *config.Lab) { l.ForwardPorts = []config.ForwardPort{{Node: "core-01", Guest: 80, Host: 80}} }}, nil,
			func(f *Facts) {
				f.Ports[80] = errResult[struct{}](&os.SyscallError{Syscall: "bind", Err: syscall.EACCES})
			},
			StatusFail, []string{"port 80 needs root"}},
		{"first boot port taken", "CD012", nil, nil,
			func(f *Facts) {
				f.Ports[8765] = errResult[struct{}](&os.SyscallError{Syscall: "bind", Err: syscall.EADDRINUSE})
			},
			StatusFail, []string{"127.0.0.1:8765 is in use", "first_boot.port"}},
		{"subnet outside vbox range", "CD013", []func(*config.Lab){func(l *config.Lab) { l.Network.CIDR = "10.42.0.0/24" }}, nil, nil,
			StatusFail, []string{"10.42.0.0/24 is outside", "`* 10.42.0.0/24`", "sudo tee -a /etc/vbox/networks.conf", "also add `* 192.168.56.0/21`"}},
		{"subnet allowed by networks.conf", "CD013", []func(*config.Lab){func(l *config.Lab) { l.Network.CIDR = "10.42.0.0/24" }}, nil,
			func(f *Facts) {
				f.VBoxNetworks = okResult(NetworksConf{Enforced: true, Present: true, Path: "/etc/vbox/networks.conf",
					Ranges: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
			},
			StatusOK, []string{"inside 10.0.0.0/8 (/etc/vbox/networks.conf)"}},
		{"networks.conf drops the default", "CD013", nil, nil,
			func(f *Facts) {
				f.VBoxNetworks = okResult(NetworksConf{Enforced: true, Present: true, Path: "/etc/vbox/networks.conf",
					Ranges: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
			},
			StatusFail, []string{"outside 10.0.0.0/8 (/etc/vbox/networks.conf)"}},
		{"old virtualbox is unrestricted", "CD013", []func(*config.Lab){func(l *config.Lab) { l.Network.CIDR = "10.42.0.0/24" }}, nil,
			func(f *Facts) { f.VirtualBox = okResult(VirtualBox{Version: "6.1.26"}) },
			StatusOK, []string{"predates"}},
		{"docker0 clash", "CD014", []func(*config.Lab){func(l *config.Lab) { l.Network.CIDR = "172.17.8.0/24" }}, nil,
			func(f *Facts) {
				f.Interfaces.Val = append(f.Interfaces.Val, Iface{Name: "docker0", Prefix: netip.MustParsePrefix("172.17.0.1/16")})
				f.Routes.Val = append(f.Routes.Val, Route{Iface: "docker0", Dst: netip.MustParsePrefix("172.17.0.0/16")})
			},
			StatusFail, []string{"docker0 has 172.17.0.1/16 (Docker)", "network.cidr: 192.168.56.0/24"}},
		{"vpn route clash", "CD014", nil, nil,
			func(f *Facts) {
				f.Routes.Val = append(f.Routes.Val, Route{Iface: "tun0", Dst: netip.MustParsePrefix("192.168.0.0/16")})
			},
			StatusFail, []string{"route to 192.168.0.0/16 via tun0 (a VPN)", "set network.cidr"}},
		{"suggests a free subnet", "CD014", nil, nil,
			func(f *Facts) {
				f.Interfaces.Val = append(f.Interfaces.Val, Iface{Name: "wg0", Prefix: netip.MustParsePrefix("192.168.56.7/23")})
			},
			StatusFail, []string{"wg0 has 192.168.56.7/23 (a VPN)", "network.cidr: 192.168.58.0/24"}},
		{"own host-only network is no clash", "CD014", nil, nil, nil, StatusOK, nil},
		{"box not cached", "CD015", nil, func(tg *Target) { tg.Box.Version = "4600.0.0"; tg.Lock = LockState{Present: true, Resolved: true} }, nil,
			StatusWarn, []string{"flatcar-stable 4600.0.0 (virtualbox) not cached; `cododemo box fetch` will download it"}},
		{"box cached without lock", "CD015", nil, nil, nil,
			StatusWarn, []string{"no cododemo.lock pins", "cododemo lock"}},
		{"lock for another channel", "CD015", nil, func(tg *Target) { tg.Lock = LockState{Present: true, Mismatch: "lock is for flatcar/beta/amd64"} }, nil,
			StatusWarn, []string{"lock is for flatcar/beta"}},
		{"legacy coreos box missing", "CD015",
			[]func(*config.Lab){func(l *config.Lab) { l.Distro = "coreos"; l.Format = "cloud-config" }}, nil,
			func(f *Facts) { f.Box = okResult(BoxCache{}) },
			StatusFail, []string{"legacy CoreOS box coreos-stable", "vagrant box add"}},
		{"ssh key too open", "CD016", nil, nil, func(f *Facts) { f.SSHKey = okResult(KeyInfo{Present: true, Mode: 0o644}) },
			StatusFail, []string{"mode 0644", "chmod 600 /lab/.cododemo/id_ed25519"}},
		{"ssh key absent", "CD016", nil, nil, func(f *Facts) { f.SSHKey = okResult(KeyInfo{}) },
			StatusOK, []string{"does not exist yet"}},
		{"windows key readable by Users", "CD016", nil, nil,
			func(f *Facts) {
				f.HostOS = "windows"
				f.SSHKey = okResult(KeyInfo{Present: true, Mode: 0o666, ACL: true, Others: []string{"S-1-5-32-545"}})
			},
			StatusFail, []string{"read by S-1-5-32-545", `icacls "/lab/.cododemo/id_ed25519" /inheritance:r /grant:r "%USERNAME%:F"`}},
		{"windows key private by its ACL, whatever the mode says", "CD016", nil, nil,
			func(f *Facts) {
				f.HostOS = "windows"
				f.SSHKey = okResult(KeyInfo{Present: true, Mode: 0o666, ACL: true})
			},
			StatusOK, []string{"owner only (access list)"}},
		{"no kvm module", "CD017", nil, nil, nil, StatusOK, []string{"no KVM module"}},
		{"kvm on 6.12 takes vt-x at load", "CD017", nil, nil,
			func(f *Facts) {
				f.Kernel = okResult("6.12.9-amd64")
				f.KVMModule = okResult(KVMModule{Loaded: []string{"kvm", "kvm_intel"}, VirtAtLoad: true, VirtAtLoadKnown: true})
			},
			StatusFail, []string{"kvm, kvm_intel loaded on Linux 6.12.9-amd64", "VERR_VMX_IN_VMX_ROOT_MODE", "modprobe -r kvm_intel kvm", "enable_virt_at_load=0"}},
		{"kvm on 6.12 told not to", "CD017", nil, nil,
			func(f *Facts) {
				f.Kernel = okResult("6.12.9-amd64")
				f.KVMModule = okResult(KVMModule{Loaded: []string{"kvm", "kvm_amd"}, VirtAtLoadKnown: true})
			},
			StatusWarn, []string{"while a KVM guest runs", "modprobe -r kvm_amd kvm"}},
		{"kvm on 6.12 parameter unreadable", "CD017", nil, nil,
			func(f *Facts) {
				f.Kernel = okResult("6.13.0")
				f.KVMModule = okResult(KVMModule{Loaded: []string{"kvm", "kvm_amd"}})
			},
			StatusFail, []string{"from the moment it loads"}},
		{"kvm on 6.1", "CD017", nil, nil,
			func(f *Facts) { f.KVMModule = okResult(KVMModule{Loaded: []string{"kvm", "kvm_intel"}}) },
			StatusWarn, []string{"Linux 6.1.0-28-amd64", "while a KVM guest runs"}},
		{"kvm irrelevant to libvirt", "CD017", []func(*config.Lab){libvirt}, nil,
			func(f *Facts) {
				f.KVMModule = okResult(KVMModule{Loaded: []string{"kvm"}, VirtAtLoad: true, VirtAtLoadKnown: true})
			},
			StatusSkip, nil},
		{"kvm is linux only", "CD017", nil, nil, func(f *Facts) { f.HostOS = "darwin"; f.KVMModule = errResult[KVMModule](errors.ErrUnsupported) },
			StatusSkip, nil},
		{"signing key 97 days left", "CD018", nil, nil, nil,
			StatusOK, []string{"32DA80F91EF52974", "valid until 2027-03-08 (97 days)"}},
		{"signing key 89 days left", "CD018", nil, nil, func(f *Facts) { f.Now = keyExpiry.Add(-89*24*time.Hour + time.Hour) },
			StatusWarn, []string{"expires 2027-03-08, in 89 days", "cododemo lock", "bundle import", "keep verifying"}},
		{"only the embedded key, long expired", "CD018", nil, nil,
			func(f *Facts) {
				f.SigningKey = okResult(SigningKey{ID: "85F7C8868837E271", Expires: time.Date(2025, 3, 6, 0, 0, 0, 0, time.UTC)})
			},
			StatusWarn, []string{"85F7C8868837E271 (built into cododemo), expired 2025-03-06", "online"}},
		{"signing key for coreos", "CD018", []func(*config.Lab){func(l *config.Lab) { l.Distro = "coreos"; l.Format = "cloud-config" }}, nil, nil,
			StatusSkip, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := target(t, tc.lab...)
			if tc.target != nil {
				tc.target(&tg)
			}
			f := healthy()
			if tc.facts != nil {
				tc.facts(f)
			}
			got := find(t, Judge(tg, f), tc.code)
			text := got.Finding + " | " + got.Fix
			if got.Status != tc.status {
				t.Errorf("status %s, want %s: %s", got.Status, tc.status, text)
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("%s: %q lacks %q", tc.code, text, w)
				}
			}
			if (got.Status == StatusFail || got.Status == StatusWarn) && got.Fix == "" {
				t.Errorf("%s %s without a fix: %q", tc.code, got.Status, got.Finding)
			}
		})
	}
}

func TestCodeTable(t *testing.T) {
	seen := map[string]bool{}
	for i, c := range Checks() {
		want := fmt.Sprintf("CD%03d", i+1)
		if c.Code != want {
			t.Errorf("check %d has code %s, want %s (codes are stable and sequential)", i, c.Code, want)
		}
		if seen[c.Name] || c.Name == "" || c.Title == "" || c.Run == nil {
			t.Errorf("%s: bad row %+v", c.Code, c)
		}
		seen[c.Name] = true
	}
	golden(t, "codes.md", []byte(MarkdownTable()))
}

func TestSuggestMemory(t *testing.T) {
	for _, tc := range []struct {
		avail uint64
		nodes int
		want  int
	}{
		{12 << 10, 3, 3072},
		{2048, 1, 0},
		{3300, 1, 1024},
		{3100, 1, 0},
		{64 << 10, 9, 6912},
		{8 << 10, 0, 0},
	} {
		if got := SuggestMemory(tc.avail, tc.nodes); got != tc.want {
			t.Errorf("SuggestMemory(%d, %d) = %d, want %d", tc.avail, tc.nodes, got, tc.want)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"2.3.4", "2.2.5", 1}, {"2.2.5", "2.2.5", 0}, {"2.2.4", "2.2.5", -1},
		{"2.3", "2.3.0", 0}, {"2.10.0", "2.9.9", 1}, {"7.0.14r161095", "7.0.14", 0}, {"", "0", 0},
	} {
		if got := CompareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compare(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestPreflight(t *testing.T) {
	p := &fakeProbes{facts: healthy()}
	p.facts.HostArch = "arm64"
	_, err := Preflight(context.Background(), p, target(t), Options{Timeout: time.Second})
	if !IsPreflight(err) {
		t.Fatalf("arm64 laptop with amd64 box: err %v, want a PreflightError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "CD008 arch") || !strings.Contains(msg, "--skip-preflight") ||
		!strings.Contains(msg, "fix: run the lab on an amd64") {
		t.Errorf("preflight message lacks the finding, fix or override:\n%s", msg)
	}
	if strings.Contains(err.Error(), "CD015") {
		t.Errorf("a warning stopped the lab:\n%s", err)
	}

	p = &fakeProbes{facts: healthy()}
	r, err := Preflight(context.Background(), p, target(t), Options{})
	if err != nil || !r.OK {
		t.Fatalf("healthy: %v", err)
	}
	if r.Summary.Warn == 0 {
		t.Errorf("the missing lock should warn, not fail: %+v", r.Summary)
	}
}
