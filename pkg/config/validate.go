package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/cododemo/cododemo/pkg/artifacts"
)

// Problem is one thing wrong with a lab's configuration.
type Problem struct {
	Key     string // dotted key, e.g. "nodes.count"
	Where   string // "cododemo.yaml:7:10", "CODODEMO_NODES_COUNT", "--nodes" or "default"
	Msg     string
	Warning bool
	// Also lists other keys the problem depends on as much as on Key;
	// Load blames whichever of them the user set last (a flag over a
	// variable over the file over a default).
	Also []string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Where != "" {
		b.WriteString(p.Where + ": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error lists every problem found, so a user fixes them in one go.
type Error struct{ Problems []Problem }

// MaxListed is how many problems an Error spells out; the rest are counted,
// so that a file with 2000 duplicate ports does not print 2000 lines.
const MaxListed = 10

func (e *Error) Error() string {
	lines := make([]string, 0, min(len(e.Problems), MaxListed+1))
	for i, p := range e.Problems {
		if i == MaxListed {
			lines = append(lines, fmt.Sprintf("... and %d more", len(e.Problems)-MaxListed))
			break
		}
		lines = append(lines, p.String())
	}
	if len(lines) == 1 {
		return "invalid lab configuration: " + lines[0]
	}
	return "invalid lab configuration:\n  " + strings.Join(lines, "\n  ")
}

// VirtualBoxRange is what VirtualBox >= 6.1.28 allows for host-only
// networks without /etc/vbox/networks.conf.
var VirtualBoxRange = netip.MustParsePrefix("192.168.56.0/21")

var (
	dnsLabel  = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$`)
	exactVer  = regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)
	sha512Hex = regexp.MustCompile(`^[0-9a-f]{128}$`)
)

// NodeName is the name of the i-th node (1-based): core-01, core-02, ...
func NodeName(prefix string, i int) string { return fmt.Sprintf("%s-%02d", prefix, i) }

// NodeNames lists the lab's node names in order.
func (l Lab) NodeNames() []string {
	// Validate calls this before it has refused a count out of range:
	// -1 must not panic, nor 2000000000 exhaust memory.
	n := min(max(l.Nodes.Count, 0), MaxNodes)
	names := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		names = append(names, NodeName(l.Nodes.Prefix, i))
	}
	return names
}

// Validate checks a merged lab and returns every problem, errors and
// warnings, in key order.
func Validate(l Lab) []Problem {
	var ps []Problem
	bad := func(key, format string, a ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	oneOf := func(key, got string, allowed []string) bool {
		if slices.Contains(allowed, got) {
			return true
		}
		bad(key, "%q is not one of %s", got, strings.Join(allowed, ", "))
		return false
	}

	if !dnsLabel.MatchString(l.Name) {
		bad("name", "%q must be lower-case letters, digits and dashes, starting with a letter (at most 32)", l.Name)
	}
	if oneOf("distro", l.Distro, Distros) {
		if chans := Channels[l.Distro]; !slices.Contains(chans, l.Channel) {
			if slices.Contains(Channels["flatcar"], l.Channel) {
				bad("channel", "%s has no %q channel; use %s", l.Distro, l.Channel, strings.Join(chans, ", "))
			} else {
				bad("channel", "%q is not one of %s", l.Channel, strings.Join(chans, ", "))
			}
		}
		if l.Distro == "coreos" && l.Format == "ignition" {
			bad("format", "legacy CoreOS boxes are provisioned with cloud-config here; use format: cloud-config")
		}
	}
	if l.Version != "current" && !exactVer.MatchString(l.Version) {
		bad("version", "%q is neither \"current\" nor an exact release such as 4593.2.5", l.Version)
	}
	if oneOf("arch", l.Arch, Arches) && l.Arch == "arm64" && l.Distro == "flatcar" && l.Box.Name == "" {
		// flatcar/scripts 23f39ca4b0: "we don't currently produce an
		// arm64 VirtualBox image"; nor is there a libvirt box.
		bad("arch", "Flatcar builds no arm64 Vagrant or VirtualBox image, so the %s channel has no box to run; "+
			"use arch: amd64 (on an amd64 host), or set box.name to an arm64 box of your own", l.Channel)
	}
	oneOf("provider", l.Provider, Providers)
	oneOf("format", l.Format, Formats)
	if l.Box.URL != "" && l.Box.Name == "" {
		bad("box.url", "needs box.name: Vagrant adds a box from a URL under a name")
	}
	if l.StateDir == "" {
		bad("state_dir", "must not be empty")
	}

	switch n := l.Nodes.Count; {
	case n < 1:
		bad("nodes.count", "%d is below the minimum of 1", n)
	case n > MaxNodes:
		bad("nodes.count", "%d is above the supported maximum of %d", n, MaxNodes)
	}
	if !dnsLabel.MatchString(l.Nodes.Prefix) || len(l.Nodes.Prefix) > 20 {
		bad("nodes.prefix", "%q must be a short lower-case DNS label such as \"core\"", l.Nodes.Prefix)
	}
	if l.Nodes.CPUs < 1 || l.Nodes.CPUs > 32 {
		bad("nodes.cpus", "%d is outside 1..32", l.Nodes.CPUs)
	}
	if l.Nodes.Memory < MinMemory {
		bad("nodes.memory", "%d MiB is below the minimum of %d MiB", l.Nodes.Memory, MinMemory)
	}

	ps = append(ps, validateNetwork(l)...)
	ps = append(ps, validateVagrantValues(l)...)

	port := func(key string, p int) {
		if p < 1 || p > 65535 {
			bad(key, "%d is not a TCP port (1..65535)", p)
		}
	}
	port("etcd.client_port", l.Etcd.ClientPort)
	port("etcd.peer_port", l.Etcd.PeerPort)
	oneOf("etcd.from", l.Etcd.From, EtcdSources)
	if sha := l.Etcd.ReleaseSHA256; sha != "" && !sha256Hex.MatchString(sha) {
		bad("etcd.release_sha256", "%q is not a sha256 (64 lower-case hex digits)", sha)
	}
	if l.EtcdFromRelease() && l.Etcd.ReleaseSHA256 == "" {
		if _, err := artifacts.Etcd(l.Etcd.ImageTag, l.Arch, ""); err != nil {
			bad("etcd.image_tag", "%v; with etcd.from: release, use a known version, or set etcd.release_sha256 to the hash of the tarball your mirror serves, or use etcd.from: box", err)
		}
	}
	if l.Fleet.Enabled && !l.Etcd.Enabled {
		bad("fleet.enabled", "fleet stores its state in etcd; enable etcd or disable fleet")
	}
	if l.Fleet.Version != "v1.0.0" {
		bad("fleet.version", "%q: only v1.0.0, fleet's last release, is supported", l.Fleet.Version)
	}
	port("docker.port", l.Docker.Port)
	if l.Docker.TCP && !l.Docker.Enabled {
		bad("docker.tcp", "needs docker.enabled")
	}
	if sha := l.Kit.SHA256; sha != "" && !sha256Hex.MatchString(sha) {
		bad("kit.sha256", "%q is not a sha256 (64 lower-case hex digits): use the one scripts/build-kit.sh printed", sha)
	}
	if l.Kit.Enabled {
		switch {
		case !l.Docker.Enabled:
			bad("kit.enabled", "needs docker.enabled: the kit is loaded into each node's Docker")
		case l.Distro != "flatcar":
			bad("kit.enabled", "needs distro flatcar: legacy CoreOS boxes get no artifacts from cododemo")
		}
	}
	if u := l.Kit.URL; u != "" {
		pu, err := url.Parse(u)
		switch {
		case err != nil || (pu.Scheme != "http" && pu.Scheme != "https" && pu.Scheme != "file") || path.Base(pu.Path) == "/" || path.Base(pu.Path) == ".":
			bad("kit.url", "%q is not the http(s):// or file:// URL of a file", u)
		case l.Kit.SHA256 == "":
			bad("kit.url", "needs kit.sha256: a kit from an address of your own is pinned by you (scripts/build-kit.sh prints it)")
		}
	}
	if l.FirstBoot.Port < 1024 || l.FirstBoot.Port > 65535 {
		bad("first_boot.port", "%d is outside 1024..65535 (the server runs unprivileged)", l.FirstBoot.Port)
	}
	ps = append(ps, validatePorts(l)...)
	oneOf("libvirt.driver", l.Libvirt.Driver, []string{"kvm", "qemu"})
	oneOf("libvirt.management_mode", l.Libvirt.ManagementMode, []string{"nat", "none"})
	if m, err := netip.ParsePrefix(l.Libvirt.ManagementCIDR); err != nil || !m.Addr().Is4() || m.Masked() != m || m.Bits() > 29 {
		bad("libvirt.management_cidr", "%q is not an IPv4 network of /29 or larger such as 192.168.121.0/24", l.Libvirt.ManagementCIDR)
	} else if n, err := netip.ParsePrefix(l.Network.CIDR); err == nil && m.Overlaps(n) {
		bad("libvirt.management_cidr", "%s overlaps network.cidr %s", m, n)
	}

	names := l.NodeNames()
	hostPorts := map[int]string{}
	for i, fp := range l.ForwardPorts {
		key := fmt.Sprintf("forwarded_ports.%d", i)
		if fp.Node != "" && !slices.Contains(names, fp.Node) {
			bad(key+".node", "%q is not a node of this lab (%s)", fp.Node, strings.Join(names, ", "))
		}
		port(key+".guest", fp.Guest)
		port(key+".host", fp.Host)
		span := 1
		if fp.Node == "" {
			span = min(max(l.Nodes.Count, 1), MaxNodes) // one host port per node
			if last := fp.Host + span - 1; fp.Host >= 1 && fp.Host <= 65535 && last > 65535 {
				bad(key+".host", "%d nodes from host port %d need up to %d, above 65535", span, fp.Host, last)
			}
		}
		for h := fp.Host; h < fp.Host+span; h++ {
			if prev, dup := hostPorts[h]; dup {
				bad(key+".host", "host port %d is already forwarded by %s", h, prev)
				break
			}
			hostPorts[h] = key
		}
	}
	guests := map[string]string{}
	for i, sf := range l.SharedFolders {
		key := fmt.Sprintf("shared_folders.%d", i)
		if sf.Host == "" {
			bad(key+".host", "must name a host directory")
		}
		if !path.IsAbs(sf.Guest) {
			bad(key+".guest", "%q must be an absolute path in the guest", sf.Guest)
		} else if prev, dup := guests[path.Clean(sf.Guest)]; dup {
			bad(key+".guest", "%q is already used by %s", sf.Guest, prev)
		} else {
			guests[path.Clean(sf.Guest)] = key
		}
		oneOf(key+".type", sf.Type, []string{"rsync", "nfs"})
	}
	return ps
}

func validateNetwork(l Lab) []Problem {
	var ps []Problem
	bad := func(key, format string, a ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	pfx, err := netip.ParsePrefix(l.Network.CIDR)
	if err != nil {
		bad("network.cidr", "%q is not a CIDR such as 192.168.56.0/24", l.Network.CIDR)
		return ps
	}
	if !pfx.Addr().Is4() {
		bad("network.cidr", "%s: only IPv4 private networks are supported", pfx)
		return ps
	}
	if pfx.Masked() != pfx {
		bad("network.cidr", "%s has host bits set; did you mean %s?", pfx, pfx.Masked())
		return ps
	}
	if !pfx.Addr().IsPrivate() {
		bad("network.cidr", "%s is not a private range (10/8, 172.16/12, 192.168/16)", pfx)
	}
	hosts := 1<<(32-pfx.Bits()) - 2 // without network and broadcast
	if pfx.Bits() > 29 {
		bad("network.cidr", "%s is too small: use /29 or larger", pfx)
		return ps
	}
	first, count := l.Network.FirstHost, l.Nodes.Count
	if first < 2 {
		bad("network.first_host", "%d: .1 is the host's address on the network; start at 2 or above", first)
	} else if count >= 1 && first+count-1 > hosts {
		ps = append(ps, Problem{Key: "network.cidr", Also: []string{"network.first_host", "nodes.count"}, Msg: fmt.Sprintf(
			"%s has room for hosts 1..%d, but %d nodes from .%d need up to .%d",
			pfx, hosts, count, first, first+count-1)})
	}
	if l.Provider == "virtualbox" && !(VirtualBoxRange.Contains(pfx.Addr()) && pfx.Bits() >= VirtualBoxRange.Bits()) {
		ps = append(ps, Problem{Key: "network.cidr", Warning: true, Msg: fmt.Sprintf(
			"%s is outside %s, which VirtualBox >= 6.1.28 allows for host-only networks; "+
				"add \"* %s\" to /etc/vbox/networks.conf or choose a subnet inside %s",
			pfx, VirtualBoxRange, pfx, VirtualBoxRange)})
	}
	return ps
}
