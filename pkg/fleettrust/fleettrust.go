// Package fleettrust makes fleetctl on the nodes trust the lab's pinned
// host keys.
//
// `fleetctl journal` (also ssh and status) of a unit on another machine
// logs in over SSH, as the user "core" on port 22, to that machine's
// public IP as fleet reports it (fleetd's public-ip, which cododemo sets to
// the node's inventory address). fleet v1.0.0 checks the host key strictly
// against ~/.fleetctl/known_hosts of the user running fleetctl: OpenSSH's
// format without hashed names or @markers, the host written as the
// connected address, a bare IP for port 22 and [IP]:PORT otherwise. An
// unknown host is a yes/no prompt on stderr, which a command without a
// terminal answers "no"; a different key is refused. So the file must
// hold every node's key under the address fleet gives, and the keys are
// the ones this machine pinned in the lab's known_hosts, not whatever a
// node shows on first contact.
package fleettrust

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// File is where fleetctl keeps the host keys it trusts, in the home of
// the user who runs it (fleet's ssh.DefaultKnownHostsFile).
const File = "~/.fleetctl/known_hosts"

// Command is the shell command that, run on a node as the user who will
// run fleetctl there, writes that user's File with the host keys pinned
// in kh for every node of inv, each under the address fleetctl connects
// to. Lines for those addresses already in the file are replaced (a
// re-created node's old key goes), others are kept, so running it again
// changes nothing. missing names the nodes with no pinned key yet (never
// contacted from this machine): fleetctl on the node will not reach them.
func Command(inv *inventory.Inventory, kh *sshx.KnownHosts) (cmd string, missing []string, err error) {
	var hosts, lines []string
	for _, n := range inv.Nodes {
		keys, err := kh.Pinned(n.SSH.Addr())
		if err != nil {
			return "", nil, err
		}
		if len(keys) == 0 {
			missing = append(missing, n.Name)
			continue
		}
		host := fleetHost(n)
		hosts = append(hosts, host)
		for _, k := range keys {
			lines = append(lines, host+" "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))))
		}
	}
	if len(lines) == 0 {
		return "", missing, fmt.Errorf("no node's host key is pinned in %s yet (`cododemo verify` pins them)", kh.Path)
	}
	// awk drops the lines naming these hosts; the new ones go after the
	// rest; mv replaces the file whole.
	cmd = `umask 077 && mkdir -p "$HOME/.fleetctl" && f="$HOME/.fleetctl/known_hosts" && touch "$f" && ` +
		`awk -v hosts=` + shellQuote(strings.Join(hosts, " ")) +
		` 'BEGIN { n = split(hosts, h, " "); for (i = 1; i <= n; i++) drop[h[i]] = 1 } !($1 in drop)' "$f" > "$f.cododemo" && ` +
		`cat >> "$f.cododemo" <<'CODODEMO_EOF' && mv "$f.cododemo" "$f"` + "\n" +
		strings.Join(lines, "\n") + "\nCODODEMO_EOF"
	return cmd, missing, nil
}

// fleetHost is the host field fleetctl matches for node n: its public
// IP (the inventory address) and the port sshd listens on there. When
// this machine reaches the node at that same address, its SSH port is
// that port; otherwise (a NAT port-forward, a management network) it is
// 22, fleetctl's default --ssh-port and where sshd listens on a node.
func fleetHost(n inventory.Node) string {
	ip := n.Address
	if ip == "" {
		ip = n.SSH.Host
	}
	port := 22
	if n.SSH.Host == ip && n.SSH.Port != 0 {
		port = n.SSH.Port
	}
	if port != 22 {
		return "[" + ip + "]:" + strconv.Itoa(port)
	}
	if strings.Contains(ip, ":") {
		// fleet writes an IPv6 address on port 22 in brackets, OpenSSH
		// bare: name it both ways.
		return ip + ",[" + ip + "]"
	}
	return ip
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
