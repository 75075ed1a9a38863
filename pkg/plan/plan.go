// Package plan turns a lab's configuration, its lock and its per-lab
// secrets into the concrete lab: node names, addresses, MACs, the etcd
// static bootstrap, and where first-boot files are served. It is pure: no
// I/O, same inputs, same plan.
package plan

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strings"

	"github.com/cododemo/cododemo/pkg/artifacts"
	"github.com/cododemo/cododemo/pkg/config"
)

// Secrets are the per-lab values generated once in the state dir.
type Secrets struct {
	// ClusterToken is etcd's --initial-cluster-token: fresh per lab, so two
	// labs on one network never merge.
	ClusterToken string
	// SSHPublicKey is the lab's ed25519 key in authorized_keys form.
	SSHPublicKey string
	// SSHPrivateKeyFile is the private key's path, for the Vagrantfile.
	SSHPrivateKeyFile string
}

// Plan is the whole lab, ready to render.
type Plan struct {
	Lab     config.Lab
	Lock    *config.Lock // may be nil: the OS version is then unresolved
	Secrets Secrets

	Nodes   []Node
	Network netip.Prefix
	// HostIP is the host's own address on the private network (.1).
	HostIP netip.Addr
	// SSHUser is the user cododemo logs in as.
	SSHUser string

	Etcd      Etcd
	Box       Box
	FirstBoot FirstBoot
	Artifacts []Artifact
	// Provision is the first-boot decision every node follows. Lab.Format
	// holds its concrete format (never "auto").
	Provision Provisioning
	// Updates is false when nodes must not download OS updates
	// (update.conf SERVER=disabled).
	Updates bool
}

// Node is one VM.
type Node struct {
	Index int    // 1-based
	Name  string // core-01
	// VMName is the provider's name for the VM, unique per lab.
	VMName string
	IP     netip.Addr
	// MAC of the private interface, colon form; stable per lab and node.
	MAC string
	// EtcdName is the member name (the node name).
	EtcdName string
	// Delivery is how this node gets its first-boot config (the plan's
	// Provision.Delivery: one box, one decision).
	Delivery Delivery
}

// Etcd is the static bootstrap shared by all members.
type Etcd struct {
	Enabled        bool
	ClientPort     int
	PeerPort       int
	InitialCluster string // core-01=http://192.168.56.101:2380,...
	Token          string
	// EnableV2 is on when fleet runs: fleet speaks only etcd's v2 API.
	EnableV2 bool
	ImageTag string
}

// Box is what the Vagrantfile asks Vagrant for.
type Box struct {
	Name string // flatcar-stable
	// Version is exact when locked, "" otherwise (Vagrant takes the newest).
	Version string
	// URL is the catalog Vagrant adds the box from.
	URL string
}

// FirstBoot is the HTTP server `up` runs while nodes fetch their full
// Ignition config and artifacts.
type FirstBoot struct {
	// Listen is the host address the server binds: the narrowest that the
	// guests reach (127.0.0.1 for VirtualBox NAT, the private gateway for
	// libvirt).
	Listen netip.AddrPort
	// GuestBase is the URL prefix as guests see it.
	GuestBase string
}

// Artifact is a file a node installs at first boot.
type Artifact struct {
	Name    string // "fleet", "etcd", "kit"
	Version string // v1.0.0; "" for the kit (its sha256 is its version)
	Path    string // URL path on the first-boot server: /artifacts/fleet-v1.0.0-linux-amd64.tar.gz
	URL     string // guest URL
	SHA256  string // "" when not yet locked
}

// VirtualBoxNATHost is the host's loopback as a VirtualBox NAT guest sees it.
const VirtualBoxNATHost = "10.0.2.2"

// New builds the plan. lab must have passed config.Validate.
func New(lab config.Lab, lock *config.Lock, s Secrets) (*Plan, error) {
	pfx, err := netip.ParsePrefix(lab.Network.CIDR)
	if err != nil {
		return nil, fmt.Errorf("network.cidr: %w", err)
	}
	p := &Plan{
		Lab:     lab,
		Lock:    lock,
		Secrets: s,
		Network: pfx,
		HostIP:  nth(pfx, 1),
		SSHUser: "core",
	}
	version := ""
	if lab.Box.Name == "" && lock != nil && lock.Resolved() {
		version = lock.OS.Version
	} else if lab.Version != "current" {
		version = lab.Version
	}
	prov, err := decideProvisioning(lab, version)
	if err != nil {
		return nil, err
	}
	p.Provision = prov
	p.Lab.Format = prov.Format
	p.Updates = lab.Updates.Enabled

	var cluster []string
	for i := 1; i <= lab.Nodes.Count; i++ {
		n := Node{
			Index: i,
			Name:  config.NodeName(lab.Nodes.Prefix, i),
			IP:    nth(pfx, lab.Network.FirstHost+i-1),
		}
		n.VMName = lab.Name + "-" + n.Name
		n.MAC = mac(lab.Name, i)
		n.EtcdName = n.Name
		n.Delivery = prov.Delivery
		cluster = append(cluster, fmt.Sprintf("%s=http://%s", n.EtcdName, netip.AddrPortFrom(n.IP, uint16(lab.Etcd.PeerPort))))
		p.Nodes = append(p.Nodes, n)
	}
	p.Etcd = Etcd{
		Enabled:        lab.Etcd.Enabled,
		ClientPort:     lab.Etcd.ClientPort,
		PeerPort:       lab.Etcd.PeerPort,
		InitialCluster: strings.Join(cluster, ","),
		Token:          s.ClusterToken,
		EnableV2:       lab.Fleet.Enabled,
		ImageTag:       lab.Etcd.ImageTag,
	}

	p.Box = Box{Name: lab.Distro + "-" + lab.Channel}
	if lock != nil && lock.Resolved() {
		p.Box.Version = lock.OS.Version
		p.Box.Name = lock.OS.Box.Name
	}
	p.Box.URL = catalogURL(lab)
	if lab.Box.Name != "" {
		p.Box = Box{Name: lab.Box.Name, URL: lab.Box.URL}
	}

	listen := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(lab.FirstBoot.Port))
	guestHost := VirtualBoxNATHost
	if lab.Provider == "libvirt" {
		// In the initramfs, where Ignition fetches, a libvirt guest has an
		// address only on the management network (DHCP); the host is its
		// gateway. Binding there keeps the server off every other interface.
		mgmt, err := netip.ParsePrefix(lab.Libvirt.ManagementCIDR)
		if err != nil {
			return nil, fmt.Errorf("libvirt.management_cidr: %w", err)
		}
		gw := nth(mgmt, 1)
		listen = netip.AddrPortFrom(gw, uint16(lab.FirstBoot.Port))
		guestHost = gw.String()
	}
	p.FirstBoot = FirstBoot{
		Listen:    listen,
		GuestBase: fmt.Sprintf("http://%s:%d", guestHost, lab.FirstBoot.Port),
	}

	// What nodes install at first boot, served by `up` under the mirror's
	// layout (/artifacts/<file>) and verified by the hash the lock pins.
	var want []artifact
	if lab.Fleet.Enabled && lab.Distro == "flatcar" {
		want = append(want, artifact{"fleet", lab.Fleet.Version})
	}
	if lab.EtcdFromRelease() {
		want = append(want, artifact{"etcd", lab.Etcd.ImageTag})
	}
	if lab.KitEnabled() {
		want = append(want, artifact{artifacts.KitName, ""})
	}
	for _, w := range want {
		file := artifacts.File(w.name, w.version, lab.Arch)
		if w.name == artifacts.KitName {
			file = artifacts.KitFile(lab.Arch)
		}
		a := Artifact{Name: w.name, Version: w.version, Path: "/artifacts/" + file}
		a.URL = p.FirstBoot.GuestBase + a.Path
		if lock != nil {
			a.SHA256 = lock.Artifacts[w.name].SHA256
		}
		p.Artifacts = append(p.Artifacts, a)
	}
	return p, nil
}

type artifact struct{ name, version string }

// Artifact returns the named artifact, if the plan has it.
func (p *Plan) Artifact(name string) (Artifact, bool) {
	for _, a := range p.Artifacts {
		if a.Name == name {
			return a, true
		}
	}
	return Artifact{}, false
}

// Node returns the named node.
func (p *Plan) Node(name string) (Node, bool) {
	for _, n := range p.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// NodeNames lists the node names in order.
func (p *Plan) NodeNames() []string {
	out := make([]string, len(p.Nodes))
	for i, n := range p.Nodes {
		out[i] = n.Name
	}
	return out
}

// EtcdEndpoints lists every member's client URL.
func (p *Plan) EtcdEndpoints() []string {
	out := make([]string, len(p.Nodes))
	for i, n := range p.Nodes {
		out[i] = fmt.Sprintf("http://%s", netip.AddrPortFrom(n.IP, uint16(p.Etcd.ClientPort)))
	}
	return out
}

// catalogURL is the Vagrant catalog of the lab's channel on the release
// server (or the mirror). Vagrant reads it; cododemo's box command pins it.
func catalogURL(lab config.Lab) string {
	if lab.Distro != "flatcar" {
		return "" // CoreOS boxes survive only in local Vagrant caches
	}
	base := fmt.Sprintf("https://%s.release.flatcar-linux.net", lab.Channel)
	if lab.Mirror != "" {
		base = strings.TrimRight(lab.Mirror, "/") + "/" + lab.Channel
	}
	ver := lab.Version
	if ver == "" {
		ver = "current"
	}
	return fmt.Sprintf("%s/%s-usr/%s/flatcar_production_vagrant.json", base, lab.Arch, ver)
}

// nth returns the address n hosts into pfx.
func nth(pfx netip.Prefix, n int) netip.Addr {
	a := pfx.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// mac derives a stable, locally administered unicast MAC from the lab name
// and node index, so a re-created VM keeps its address and two labs differ.
func mac(lab string, i int) string {
	h := sha256.Sum256([]byte(lab))
	return fmt.Sprintf("02:c0:de:%02x:%02x:%02x", h[0], h[1], byte(i))
}
