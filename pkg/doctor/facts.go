package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	osexec "os/exec"
	"strings"
	"sync"
	"time"
)

// Probes reads the host. The real implementation (pkg/doctor/probe) runs
// tools through an exec.Runner and reads /proc; tests inject their own.
// Every method must honour ctx: Gather gives each call its own deadline.
type Probes interface {
	HostOS() string
	HostArch() string
	// VagrantHome is $VAGRANT_HOME or ~/.vagrant.d.
	VagrantHome() string
	// VMDir is where the provider keeps VM disks (VirtualBox's machine
	// folder, libvirt's default pool).
	VMDir(provider string) string

	VagrantVersion(ctx context.Context) (string, error)
	VagrantPlugins(ctx context.Context) ([]Plugin, error)
	VirtualBox(ctx context.Context) (VirtualBox, error)
	VirshVersion(ctx context.Context) (string, error)
	LibvirtConnect(ctx context.Context, uri string) (string, error)
	Virtualization(ctx context.Context) (Virt, error)
	Memory(ctx context.Context) (Memory, error)
	Disk(ctx context.Context, path string) (Disk, error)
	// PortFree listens on 127.0.0.1:port and closes at once.
	PortFree(ctx context.Context, port int) error
	Interfaces(ctx context.Context) ([]Iface, error)
	Routes(ctx context.Context) ([]Route, error)
	VBoxNetworks(ctx context.Context) (NetworksConf, error)
	Box(ctx context.Context, home string, ref BoxRef) (BoxCache, error)
	KeyFile(ctx context.Context, path string) (KeyInfo, error)
	// Kernel is the Linux kernel release ("6.12.9-amd64");
	// errors.ErrUnsupported elsewhere.
	Kernel(ctx context.Context) (string, error)
	// KVMModule says which KVM modules are loaded and whether KVM takes
	// VT-x/AMD-V when it loads; errors.ErrUnsupported off Linux.
	KVMModule(ctx context.Context) (KVMModule, error)
	// SigningKey is the newest Flatcar image-signing subkey cododemo
	// trusts: the embedded key plus the cache's refreshed copy.
	SigningKey(ctx context.Context) (SigningKey, error)
	// Now is the host's clock (key expiry is judged against it).
	Now() time.Time
}

// KVMModule is what /proc/modules and the kvm module's parameters say.
type KVMModule struct {
	// Loaded lists kvm, kvm_intel, kvm_amd as far as they are loaded.
	Loaded []string
	// VirtAtLoad is kvm.enable_virt_at_load (Linux >= 6.12): KVM turns
	// VT-x on for itself as soon as the module loads, not when a guest
	// starts. Unknown (the parameter missing) is false.
	VirtAtLoad bool
	// VirtAtLoadKnown says the parameter exists.
	VirtAtLoadKnown bool
}

// SigningKey is the newest Flatcar signing subkey of the trusted keyring.
type SigningKey struct {
	ID      string    // long key ID, 16 hex digits
	Expires time.Time // zero: never expires
	// Refreshed says the key came from the cache's refreshed copy of
	// Flatcar's key rather than the one built into cododemo.
	Refreshed bool
}

// Plugin is one line of `vagrant plugin list`.
type Plugin struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// VirtualBox is what `VBoxManage --version` says.
type VirtualBox struct {
	Version string // 7.0.14 (the r-suffix dropped)
	// Warnings are the lines it printed before the version, such as the
	// vboxdrv kernel module not being loaded.
	Warnings []string
}

// Virt is what the host says about hardware virtualisation.
type Virt struct {
	// Known is false where the flags cannot be read without admin rights.
	Known bool
	// CPUFlag is "vmx", "svm" or "" (none); on macOS "hv_support".
	CPUFlag string
	// KVM: /dev/kvm exists; KVMErr: why it could not be opened read-write.
	KVM    bool
	KVMErr error
}

// Memory is the host's memory in bytes.
type Memory struct {
	Total     uint64
	Available uint64
}

// Disk is one filesystem's free space.
type Disk struct {
	// Path is the nearest existing directory measured (the asked-for path
	// may not exist yet).
	Path string
	// Device identifies the filesystem, so that needs on one are summed.
	Device uint64
	Free   uint64
}

// Iface is one host interface address.
type Iface struct {
	Name   string
	Prefix netip.Prefix // address with its mask: 172.17.0.1/16
}

// Route is one IPv4 route of the host.
type Route struct {
	Iface string
	Dst   netip.Prefix
}

// NetworksConf is VirtualBox's host-only allow list.
type NetworksConf struct {
	// Enforced is false where VirtualBox does not restrict host-only
	// ranges (Windows).
	Enforced bool
	// Present says the file exists; then Ranges replace the default
	// 192.168.56.0/21 entirely.
	Present bool
	Path    string
	Ranges  []netip.Prefix
}

// BoxRef names a box in Vagrant's cache.
type BoxRef struct {
	Name     string `json:"name"`
	Version  string `json:"version,omitempty"` // "" = any
	Provider string `json:"provider"`
	Arch     string `json:"arch"`
}

// BoxCache is what Vagrant's cache holds of a box.
type BoxCache struct {
	// Versions cached for the provider, any order.
	Versions []string
	Dir      string // the box's directory in the cache
}

// KeyInfo describes the lab's private key file.
type KeyInfo struct {
	Present bool
	Mode    fs.FileMode
	// ACL says the file's Windows access list was read (Mode means
	// nothing there); Others are the accounts besides the user, SYSTEM
	// and Administrators that may read it.
	ACL    bool
	Others []string
}

// Result is one probe's answer. Ran is false when the lab did not need the
// probe (VBoxManage for a libvirt lab).
type Result[T any] struct {
	Val T
	Err error
	Ran bool
}

// TimeoutError says a probe did not answer in time: a stuck tool, a hung
// daemon, a dead NFS mount.
type TimeoutError struct {
	What  string
	After time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s timed out after %s (stuck?)", e.What, e.After)
}

// Facts is everything the probes found, ready to judge.
type Facts struct {
	HostOS, HostArch string
	VagrantHome      string

	Vagrant        Result[string]
	VagrantPlugins Result[[]Plugin]
	VirtualBox     Result[VirtualBox]
	Virsh          Result[string]
	Libvirt        Result[string] // the URI qemu:///system answered as
	Virt           Result[Virt]
	Memory         Result[Memory]
	Disks          []DiskFact
	Ports          map[int]Result[struct{}]
	Interfaces     Result[[]Iface]
	Routes         Result[[]Route]
	VBoxNetworks   Result[NetworksConf]
	Box            Result[BoxCache]
	SSHKey         Result[KeyInfo]
	Kernel         Result[string]
	KVMModule      Result[KVMModule]
	SigningKey     Result[SigningKey]
	// Now is when the facts were gathered.
	Now time.Time
}

// DiskFact is the free space where one part of the lab lands.
type DiskFact struct {
	Role  string // "Vagrant home", "VM disks", "state dir"
	Want  string // the path asked about
	Need  uint64 // bytes this role needs there
	Space Result[Disk]
}

// LibvirtURI is the connection vagrant-libvirt uses by default.
const LibvirtURI = "qemu:///system"

// abandonGrace is how long Gather waits, past a probe's deadline, for the
// probe to report its own cancellation before giving up on it. A tool that
// ignores SIGINT is killed later by the runner; doctor does not wait.
const abandonGrace = 300 * time.Millisecond

// Gather runs the probes the target needs, concurrently, each under its own
// timeout (DefaultTimeout when timeout is zero).
func Gather(ctx context.Context, p Probes, t Target, timeout time.Duration) *Facts {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	f := &Facts{HostOS: p.HostOS(), HostArch: p.HostArch(), VagrantHome: p.VagrantHome(), Now: p.Now()}
	var wg sync.WaitGroup
	// Each job writes only its own field, and only after its probe call
	// returned or was abandoned, so the fields need no lock.
	job := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	vbox, libvirt := t.Provider == "virtualbox", t.Provider == "libvirt"

	job(func() { f.Vagrant = probe(ctx, timeout, "`vagrant --version`", p.VagrantVersion) })
	if libvirt {
		job(func() { f.VagrantPlugins = probe(ctx, timeout, "`vagrant plugin list`", p.VagrantPlugins) })
		job(func() { f.Virsh = probe(ctx, timeout, "`virsh --version`", p.VirshVersion) })
		job(func() {
			f.Libvirt = probe(ctx, timeout, "`virsh -c "+LibvirtURI+" uri`", func(ctx context.Context) (string, error) {
				return p.LibvirtConnect(ctx, LibvirtURI)
			})
		})
	}
	if vbox {
		job(func() { f.VirtualBox = probe(ctx, timeout, "`VBoxManage --version`", p.VirtualBox) })
		job(func() { f.VBoxNetworks = probe(ctx, timeout, "reading networks.conf", p.VBoxNetworks) })
		job(func() { f.Kernel = probe(ctx, timeout, "reading the kernel release", p.Kernel) })
		job(func() { f.KVMModule = probe(ctx, timeout, "reading /proc/modules", p.KVMModule) })
	}
	if t.Distro == "flatcar" {
		job(func() { f.SigningKey = probe(ctx, timeout, "reading Flatcar's signing key", p.SigningKey) })
	}
	job(func() { f.Virt = probe(ctx, timeout, "reading CPU flags", p.Virtualization) })
	job(func() { f.Memory = probe(ctx, timeout, "reading free memory", p.Memory) })
	job(func() { f.Interfaces = probe(ctx, timeout, "listing interfaces", p.Interfaces) })
	job(func() { f.Routes = probe(ctx, timeout, "reading routes", p.Routes) })
	job(func() {
		f.Box = probe(ctx, timeout, "reading Vagrant's box cache", func(ctx context.Context) (BoxCache, error) {
			return p.Box(ctx, f.VagrantHome, t.Box)
		})
	})
	if t.SSHKey != "" {
		job(func() {
			f.SSHKey = probe(ctx, timeout, "stat "+t.SSHKey, func(ctx context.Context) (KeyInfo, error) {
				return p.KeyFile(ctx, t.SSHKey)
			})
		})
	}

	f.Disks = diskNeeds(t, f.VagrantHome, p.VMDir(t.Provider))
	for i := range f.Disks {
		d := &f.Disks[i]
		job(func() {
			d.Space = probe(ctx, timeout, "statfs "+d.Want, func(ctx context.Context) (Disk, error) {
				return p.Disk(ctx, d.Want)
			})
		})
	}

	ports := t.ports()
	results := make([]Result[struct{}], len(ports))
	for i, pu := range ports {
		job(func() {
			results[i] = probe(ctx, timeout, fmt.Sprintf("listening on 127.0.0.1:%d", pu.Port), func(ctx context.Context) (struct{}, error) {
				return struct{}{}, p.PortFree(ctx, pu.Port)
			})
		})
	}
	wg.Wait()
	f.Ports = make(map[int]Result[struct{}], len(ports))
	for i, pu := range ports {
		f.Ports[pu.Port] = results[i]
	}
	return f
}

// probe runs fn under its own deadline and stops waiting for it shortly
// after, whatever fn does.
func probe[T any](ctx context.Context, timeout time.Duration, what string, fn func(context.Context) (T, error)) Result[T] {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ch := make(chan Result[T], 1) // buffered: an abandoned probe never blocks
	go func() {
		v, err := fn(ctx)
		ch <- Result[T]{Val: v, Err: err, Ran: true}
	}()
	timedOut := func() Result[T] {
		return Result[T]{Ran: true, Err: &TimeoutError{What: what, After: timeout}}
	}
	select {
	case r := <-ch:
		if r.Err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return timedOut()
		}
		return r
	case <-ctx.Done():
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return Result[T]{Ran: true, Err: ctx.Err()}
	}
	select {
	case r := <-ch:
		if r.Err == nil {
			return r
		}
	case <-time.After(abandonGrace):
	}
	return timedOut()
}

// missing says whether err means the tool is not installed.
func missing(err error) bool {
	return errors.Is(err, osexec.ErrNotFound) || errors.Is(err, fs.ErrNotExist)
}

// timedOut says whether err is a probe timeout.
func timedOut(err error) bool {
	var te *TimeoutError
	return errors.As(err, &te)
}

// firstLine shortens an error for a table cell; the JSON keeps the same
// text so a bug report shows what the user saw.
func firstLine(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		rest := strings.TrimSpace(s[i+1:])
		s = s[:i]
		// The command's own words are in the output that follows; keep
		// the last line of it, where tools print the reason.
		if lines := strings.Split(rest, "\n"); len(lines) > 0 {
			if last := strings.TrimSpace(lines[len(lines)-1]); last != "" {
				s += ": " + last
			}
		}
	}
	return s
}
