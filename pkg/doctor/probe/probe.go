// Package probe reads the real host for doctor: it runs vagrant,
// VBoxManage and virsh through an exec.Runner, reads /proc, statfs, tries
// ports on 127.0.0.1 and looks into Vagrant's box cache. It never sends a
// packet anywhere: whether a box is "reachable" is only what the cache holds.
package probe

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cododemo/cododemo/pkg/doctor"
	"github.com/cododemo/cododemo/pkg/exec"
)

// Host implements doctor.Probes for the machine it runs on. The fields
// after Getenv default to the real locations; tests point them elsewhere.
type Host struct {
	Runner exec.Runner
	Getenv func(string) string

	GOOS, GOARCH string
	ProcDir      string // /proc
	NetworksConf string // /etc/vbox/networks.conf
	KVMDevice    string // /dev/kvm
	LibvirtPool  string // /var/lib/libvirt/images
	SysDir       string // /sys
	// CacheDir is the image cache, where a refreshed copy of Flatcar's
	// signing key is kept ("" = the default, as pkg/image finds it).
	CacheDir string
	Clock    func() time.Time
}

// New returns probes of this machine.
func New(r exec.Runner, getenv func(string) string) *Host {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &Host{
		Runner:       r,
		Getenv:       getenv,
		GOOS:         runtime.GOOS,
		GOARCH:       hostArch(runtime.GOARCH),
		ProcDir:      "/proc",
		NetworksConf: "/etc/vbox/networks.conf",
		KVMDevice:    "/dev/kvm",
		LibvirtPool:  "/var/lib/libvirt/images",
		SysDir:       "/sys",
		Clock:        time.Now,
	}
}

var _ doctor.Probes = (*Host)(nil)

// HostOS implements doctor.Probes.
func (h *Host) HostOS() string { return h.GOOS }

// HostArch implements doctor.Probes.
func (h *Host) HostArch() string { return h.GOARCH }

func (h *Host) home() string {
	if d := h.Getenv("HOME"); d != "" {
		return d
	}
	d, _ := os.UserHomeDir()
	return d
}

// VagrantHome implements doctor.Probes: $VAGRANT_HOME or ~/.vagrant.d.
func (h *Host) VagrantHome() string {
	if d := h.Getenv("VAGRANT_HOME"); d != "" {
		return d
	}
	if home := h.home(); home != "" {
		return filepath.Join(home, ".vagrant.d")
	}
	return ""
}

// VMDir implements doctor.Probes: VirtualBox's default machine folder, or
// libvirt's default storage pool.
func (h *Host) VMDir(provider string) string {
	if provider == "libvirt" {
		return h.LibvirtPool
	}
	if home := h.home(); home != "" {
		return filepath.Join(home, "VirtualBox VMs")
	}
	return ""
}

// vagrantEnv keeps Vagrant from phoning home while doctor runs it.
var vagrantEnv = []string{"VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE=1", "VAGRANT_NO_COLOR=1"}

func (h *Host) output(ctx context.Context, name string, args ...string) (string, error) {
	c := exec.Cmd{Name: name, Args: args}
	if name == "vagrant" {
		c.Env = vagrantEnv
		if vh := h.Getenv("VAGRANT_HOME"); vh != "" {
			c.Env = append(c.Env, "VAGRANT_HOME="+vh)
		}
	}
	out, err := exec.Output(ctx, h.Runner, c)
	return string(out), err
}

// VagrantVersion implements doctor.Probes.
func (h *Host) VagrantVersion(ctx context.Context) (string, error) {
	out, err := h.output(ctx, "vagrant", "--version")
	if err != nil {
		return "", err
	}
	return ParseVagrantVersion(out)
}

// VagrantPlugins implements doctor.Probes.
func (h *Host) VagrantPlugins(ctx context.Context) ([]doctor.Plugin, error) {
	out, err := h.output(ctx, "vagrant", "plugin", "list")
	if err != nil {
		return nil, err
	}
	return ParsePluginList(out)
}

// VirtualBox implements doctor.Probes. VBoxManage prints the vboxdrv
// warning on stdout or stderr depending on release; both are parsed.
func (h *Host) VirtualBox(ctx context.Context) (doctor.VirtualBox, error) {
	var stdout, stderr bytes.Buffer
	err := h.Runner.Run(ctx, exec.Cmd{Name: "VBoxManage", Args: []string{"--version"}, Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return doctor.VirtualBox{}, err
	}
	return ParseVBoxVersion(stderr.String() + "\n" + stdout.String())
}

// VirshVersion implements doctor.Probes.
func (h *Host) VirshVersion(ctx context.Context) (string, error) {
	out, err := h.output(ctx, "virsh", "--version")
	if err != nil {
		return "", err
	}
	return ParseVirshVersion(out)
}

// LibvirtConnect implements doctor.Probes: a local socket, no network.
func (h *Host) LibvirtConnect(ctx context.Context, uri string) (string, error) {
	out, err := h.output(ctx, "virsh", "-c", uri, "uri")
	if err != nil {
		return "", err
	}
	return ParseVirshURI(out)
}

// Disk implements doctor.Probes, measuring the nearest existing directory.
func (h *Host) Disk(ctx context.Context, path string) (doctor.Disk, error) {
	p := filepath.Clean(path)
	for {
		if _, err := os.Stat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return doctor.Disk{}, err
		}
		parent := filepath.Dir(p)
		if parent == p {
			break
		}
		p = parent
	}
	return statDisk(p)
}

// PortFree implements doctor.Probes: bind 127.0.0.1:port and close at once.
func (h *Host) PortFree(ctx context.Context, port int) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return l.Close()
}

// Interfaces implements doctor.Probes.
func (h *Host) Interfaces(ctx context.Context) ([]doctor.Iface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []doctor.Iface
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue // an interface vanishing mid-listing is not a finding
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			ones, _ := ipn.Mask.Size()
			ip = ip.Unmap()
			if ip.IsLoopback() || ip.IsLinkLocalUnicast() {
				continue
			}
			out = append(out, doctor.Iface{Name: ifc.Name, Prefix: netip.PrefixFrom(ip, ones)})
		}
	}
	return out, nil
}

// VBoxNetworks implements doctor.Probes.
func (h *Host) VBoxNetworks(ctx context.Context) (doctor.NetworksConf, error) {
	nc := doctor.NetworksConf{Enforced: h.GOOS != "windows", Path: h.NetworksConf}
	if !nc.Enforced {
		return nc, nil
	}
	data, err := os.ReadFile(h.NetworksConf)
	if errors.Is(err, fs.ErrNotExist) {
		return nc, nil
	}
	if err != nil {
		return nc, err
	}
	nc.Present = true
	nc.Ranges, err = ParseNetworksConf(string(data))
	if err != nil {
		return nc, errors.New(h.NetworksConf + ": " + err.Error())
	}
	return nc, nil
}

// Box implements doctor.Probes: Vagrant keeps boxes in
// boxes/<name with / as -VAGRANTSLASH->/<version>/<provider>, and since 2.4
// also <version>/<arch>/<provider>.
func (h *Host) Box(ctx context.Context, home string, ref doctor.BoxRef) (doctor.BoxCache, error) {
	dir := filepath.Join(home, "boxes", strings.ReplaceAll(ref.Name, "/", "-VAGRANTSLASH-"))
	bc := doctor.BoxCache{Dir: dir}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return bc, nil
	}
	if err != nil {
		return bc, err
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue // metadata_url
		}
		for _, p := range []string{
			filepath.Join(dir, e.Name(), ref.Provider),
			filepath.Join(dir, e.Name(), ref.Arch, ref.Provider),
		} {
			if st, err := os.Stat(filepath.Join(p, "metadata.json")); err == nil && st.Mode().IsRegular() {
				bc.Versions = append(bc.Versions, e.Name())
				break
			}
		}
	}
	return bc, nil
}

// KeyFile implements doctor.Probes.
func (h *Host) KeyFile(ctx context.Context, path string) (doctor.KeyInfo, error) {
	if h.GOOS == "windows" {
		return keyACL(path)
	}
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return doctor.KeyInfo{}, nil
	}
	if err != nil {
		return doctor.KeyInfo{}, err
	}
	return doctor.KeyInfo{Present: true, Mode: st.Mode()}, nil
}

// readFile reads a file under ctx: /proc reads do not block, but a probe
// must still give up when its deadline passed before it started.
func readFile(ctx context.Context, path string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	b, err := os.ReadFile(path)
	return string(b), err
}
