package fleettrust_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/cododemo/cododemo/pkg/fleettrust"
	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/sshx"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

func key(t *testing.T, seed byte) ssh.PublicKey {
	t.Helper()
	b := make([]byte, 32)
	b[0] = seed
	pub, err := ssh.NewPublicKey(ed25519.PublicKey(b))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// TestHostForms: the host field is the address fleetctl connects to (the
// node's fleet address), bare on port 22, [IP]:PORT when this machine
// reaches sshd on that same address at another port.
func TestHostForms(t *testing.T) {
	dir := t.TempDir()
	khPath := filepath.Join(dir, "known_hosts")
	k1, k2, k3 := key(t, 1), key(t, 2), key(t, 3)
	lines := knownhosts.Line([]string{"[127.0.0.1]:2222"}, k1) + "\n" +
		knownhosts.Line([]string{"192.168.121.7"}, k2) + "\n" +
		knownhosts.Line([]string{"[127.9.9.3]:40022"}, k3) + "\n"
	if err := os.WriteFile(khPath, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	inv := &inventory.Inventory{Nodes: []inventory.Node{
		// VirtualBox: a NAT port-forward on the host, sshd on 22 on the node.
		{Name: "core-01", Address: "172.17.8.101", SSH: inventory.SSH{Host: "127.0.0.1", Port: 2222}},
		// libvirt: a management address, port 22.
		{Name: "core-02", Address: "172.17.8.102", SSH: inventory.SSH{Host: "192.168.121.7"}},
		// Reached at its own address on another port (the stand-ins).
		{Name: "core-03", Address: "127.9.9.3", SSH: inventory.SSH{Host: "127.9.9.3", Port: 40022}},
		{Name: "core-04", Address: "172.17.8.104", SSH: inventory.SSH{Host: "192.168.121.9"}},
	}}
	cmd, missing, err := fleettrust.Command(inv, sshx.NewKnownHosts(khPath))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(missing, ",") != "core-04" {
		t.Errorf("missing %v, want core-04 (never pinned)", missing)
	}
	for _, want := range []string{
		"172.17.8.101 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k1))),
		"172.17.8.102 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k2))),
		"[127.9.9.3]:40022 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k3))),
	} {
		if !strings.Contains(cmd, "\n"+want+"\n") {
			t.Errorf("command lacks line %q:\n%s", want, cmd)
		}
	}
	if _, _, err := fleettrust.Command(inv, sshx.NewKnownHosts(filepath.Join(dir, "none"))); err == nil ||
		!strings.Contains(err.Error(), "no node's host key is pinned") {
		t.Errorf("nothing pinned: %v", err)
	}
}

// TestWriteOnNode runs the command on a real stand-in twice: the file
// holds one line per node, is private, keeps a line of another host, and
// replaces a stale key of a lab node.
func TestWriteOnNode(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 2, EtcdMembers: 1})
	kh := sshx.NewKnownHosts(c.KnownHostsPath)
	base := sshx.Config{HostKeys: kh, Timeout: 5 * time.Second}
	var cl *sshx.Client
	for _, n := range c.Inventory.Nodes {
		x, err := health.Dial(context.Background(), base, n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Close() })
		if cl == nil {
			cl = x
		}
	}
	cmd, missing, err := fleettrust.Command(c.Inventory, kh)
	if err != nil || len(missing) > 0 {
		t.Fatalf("%v, missing %v", err, missing)
	}
	n2 := c.Nodes[1]
	other := "10.9.9.9 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key(t, 9))))
	stale := "[" + n2.Addr + "]:" + strconv.Itoa(n2.SSHPort) + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key(t, 8))))
	if err := c.Nodes[0].WriteFile("/.fleetctl/known_hosts", other+"\n"+stale+"\n"); err != nil {
		t.Fatal(err)
	}
	var first string
	for i := range 2 {
		res, err := cl.Run(context.Background(), cmd)
		if err != nil || res.ExitStatus != 0 {
			t.Fatalf("run %d: %v exit %d %s", i, err, res.ExitStatus, res.Stderr)
		}
		res, _ = cl.Run(context.Background(), `stat -c %a "$HOME/.fleetctl/known_hosts"; cat "$HOME/.fleetctl/known_hosts"`)
		got := string(res.Stdout)
		if i == 0 {
			first = got
		} else if got != first {
			t.Errorf("second run changed the file:\n%s\nthen\n%s", first, got)
		}
	}
	ls := strings.Split(strings.TrimSpace(first), "\n")
	if len(ls) != 4 || ls[0] != "600" || ls[1] != other || strings.Contains(first, stale) {
		t.Errorf("file: want mode 600, the other host's line and one line per node, no stale key:\n%s", first)
	}
}
