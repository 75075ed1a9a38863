package doctor

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"

	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/plan"
)

// KeyFileName is the lab's private SSH key in the state dir.
const KeyFileName = labstate.PrivateKeyFile

// Target is what the lab asks of the host, taken from its plan.
type Target struct {
	Name          string
	Distro        string
	Channel       string // flatcar: alpha, beta, stable, lts
	Provider      string // virtualbox or libvirt
	Arch          string // box architecture: amd64 or arm64
	LibvirtDriver string // kvm or qemu
	Nodes         int
	MemoryMiB     int // per node
	Subnet        netip.Prefix
	HostIP        netip.Addr
	// Forwarded are the host ports the Vagrantfile forwards, one per node
	// for a rule without a node.
	Forwarded     []PortUse
	FirstBootPort int
	Box           BoxRef
	Lock          LockState
	StateDir      string // absolute
	SSHKey        string // absolute path of the lab's private key
}

// PortUse is one host port and what uses it.
type PortUse struct {
	Port int
	What string // "forwarded_ports.0 (core-02:80)"
}

// LockState says what the lab's lock pins.
type LockState struct {
	Present  bool
	Resolved bool
	// Mismatch is why the lock does not fit the lab ("" when it does).
	Mismatch string
}

// NewTarget reads the host's side of a plan. stateDir is the lab's
// absolute state directory (config.Loaded.StatePath()).
func NewTarget(p *plan.Plan, stateDir string) Target {
	lab := p.Lab
	t := Target{
		Name:          lab.Name,
		Distro:        lab.Distro,
		Channel:       lab.Channel,
		Provider:      lab.Provider,
		Arch:          lab.Arch,
		LibvirtDriver: lab.Libvirt.Driver,
		Nodes:         len(p.Nodes),
		MemoryMiB:     lab.Nodes.Memory,
		Subnet:        p.Network,
		HostIP:        p.HostIP,
		FirstBootPort: lab.FirstBoot.Port,
		Box:           BoxRef{Name: p.Box.Name, Version: p.Box.Version, Provider: lab.Provider, Arch: lab.Arch},
		StateDir:      stateDir,
	}
	if stateDir != "" {
		t.SSHKey = filepath.Join(stateDir, KeyFileName)
	}
	if p.Lock != nil {
		t.Lock.Present = true
		t.Lock.Resolved = p.Lock.Resolved()
		if err := p.Lock.Matches(lab); err != nil {
			t.Lock.Mismatch = err.Error()
		}
	}
	for i, fp := range lab.ForwardPorts {
		if fp.Node != "" {
			t.Forwarded = append(t.Forwarded, PortUse{Port: fp.Host,
				What: fmt.Sprintf("forwarded_ports.%d (%s:%d)", i, fp.Node, fp.Guest)})
			continue
		}
		for j, n := range p.Nodes {
			t.Forwarded = append(t.Forwarded, PortUse{Port: fp.Host + j,
				What: fmt.Sprintf("forwarded_ports.%d (%s:%d)", i, n.Name, fp.Guest)})
		}
	}
	return t
}

// ports lists every port to probe, once each, in order.
func (t Target) ports() []PortUse {
	seen := map[int]bool{}
	var out []PortUse
	add := func(pu PortUse) {
		if pu.Port > 0 && !seen[pu.Port] {
			seen[pu.Port] = true
			out = append(out, pu)
		}
	}
	for _, pu := range t.Forwarded {
		add(pu)
	}
	add(PortUse{Port: t.FirstBootPort, What: "first_boot.port"})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	return out
}
