package config

import "fmt"

// SSHPort is the port sshd listens on in every node: Vagrant, verify and
// ssh all log in through it.
const SSHPort = 22

// portUse is one port the lab uses, on the nodes (guest) or on the host.
type portUse struct {
	key  string // the setting, or "" for a port the nodes need whatever the lab says
	what string // "sshd", "etcd's client port"
	port int
}

// guestPorts lists the TCP ports a node listens on for the lab.
func guestPorts(l Lab) []portUse {
	ps := []portUse{{"", "sshd (Vagrant, verify and ssh log in through it)", SSHPort}}
	if l.Etcd.Enabled {
		ps = append(ps, portUse{"etcd.client_port", "etcd's client port", l.Etcd.ClientPort},
			portUse{"etcd.peer_port", "etcd's peer port", l.Etcd.PeerPort})
	}
	if l.Docker.Enabled && l.Docker.TCP {
		ps = append(ps, portUse{"docker.port", "Docker's TCP socket", l.Docker.Port})
	}
	return ps
}

// validatePorts finds two uses of one port on the same side: two services
// on a node, or a forwarded host port on the first-boot server's. Ports out
// of range are Validate's to report.
func validatePorts(l Lab) []Problem {
	var ps []Problem
	// The words name both sides: Load blames whichever was set last.
	collide := func(a, b portUse) {
		if a.key == "" {
			ps = append(ps, Problem{Key: b.key, Msg: fmt.Sprintf("%d is the port of %s on every node; choose another", b.port, a.what)})
			return
		}
		ps = append(ps, Problem{Key: b.key, Also: []string{a.key}, Msg: fmt.Sprintf(
			"port %d is both %s (%s) and %s (%s) on the nodes; each needs its own", b.port, a.what, a.key, b.what, b.key)})
	}
	seen := map[int]portUse{}
	for _, u := range guestPorts(l) {
		if prev, dup := seen[u.port]; dup {
			collide(prev, u)
			continue
		}
		seen[u.port] = u
	}

	fb := l.FirstBoot.Port
	for i, fp := range l.ForwardPorts {
		span := 1
		if fp.Node == "" {
			span = min(max(l.Nodes.Count, 1), MaxNodes)
		}
		if fp.Host <= fb && fb < fp.Host+span {
			key := fmt.Sprintf("forwarded_ports.%d.host", i)
			msg := fmt.Sprintf("host port %d is both forwarded by forwarded_ports.%d and first_boot.port (where cododemo serves the nodes their configs)", fb, i)
			if span > 1 {
				msg = fmt.Sprintf("host ports %d..%d (forwarded_ports.%d, one per node) take first_boot.port %d (where cododemo serves the nodes their configs)",
					fp.Host, fp.Host+span-1, i, fb)
			}
			ps = append(ps, Problem{Key: key, Also: []string{"first_boot.port"}, Msg: msg})
		}
	}
	return ps
}
