// Package testnodes starts real stand-ins for cluster nodes on this
// machine: per node a real OpenSSH sshd and a real etcd member, each on the
// node's own loopback address (127.a.b.n, chosen at random per cluster so
// parallel tests and other packages do not collide), together one etcd
// cluster. Tests of verify, ssh and exec run against them.
//
// How a node looks from inside an SSH session. The machine has no systemd,
// no Docker and no Flatcar files, so each node gets a root directory and
// sshd's SetEnv gives every session:
//
//   - PATH starting with a bin dir of stand-ins: `systemctl` and
//     `journalctl` scripts that read the node's state from files under the
//     node root (FaultDegraded and friends change them);
//   - CODODEMO_ROOT=<node root>, which the remote commands in pkg/health
//     prefix to file paths (${CODODEMO_ROOT}/etc/os-release); unset on a
//     real node, so the real files are read;
//   - ETCDCTL_API=3 and ETCDCTL_ENDPOINTS=<this node's member>, as Flatcar's
//     etcdctl talks to the local member;
//   - HOME=<node root>: the login shell then reads no rc files of the real
//     user (Debian's bash sources ~/.bashrc for SSH commands, and a slow
//     one would make every session, and the benchmarks, slow).
//
// Every process is started in its own process group and killed in
// Cleanup; data dirs live in the test's temp dir. Missing sshd or etcd is a
// test failure, not a skip: CI installs them.
package testnodes

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cododemo/cododemo/pkg/inventory"
)

// Binaries the harness runs.
const (
	SSHD = "/usr/sbin/sshd"
	Etcd = "etcd"
)

// TB is the part of testing.TB the harness needs; the bench tool passes
// its own.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	TempDir() string
	Failed() bool
}

// Options shape the cluster.
type Options struct {
	// Nodes is the number of nodes (default 3).
	Nodes int
	// EtcdMembers is how many of the nodes (the first ones) run an etcd
	// member; 0 means all. The others point etcdctl at member i%members,
	// like client-only nodes.
	EtcdMembers int
	// MissingMembers leaves the last n expected members out of the etcd
	// cluster altogether: the inventory expects them, etcd never had them.
	MissingMembers int
	// Services for the inventory (default etcd, docker).
	Services []string
	// OSRelease is each node's /etc/os-release (default FlatcarOSRelease).
	OSRelease string
	// Channel is each node's update GROUP (default stable).
	Channel string
}

// Cluster is a running set of nodes.
type Cluster struct {
	Dir            string
	Nodes          []*Node
	Inventory      *inventory.Inventory
	InventoryPath  string
	KnownHostsPath string
	IdentityFile   string
	User           string

	tb TB
}

// Node is one stand-in node.
type Node struct {
	Name       string
	Addr       string // loopback address, also the "private" address
	SSHPort    int
	ClientPort int
	PeerPort   int
	Member     bool
	// Root is the node's file tree (CODODEMO_ROOT).
	Root string

	dir      string
	sshdConf string
	hostKey  string
	etcdArgs []string

	mu   sync.Mutex
	sshd *proc
	etcd *proc
}

// FlatcarOSRelease is modelled on a Flatcar stable release's os-release.
const FlatcarOSRelease = `NAME="Flatcar Container Linux by Kinvolk"
ID=flatcar
ID_LIKE=coreos
VERSION=4593.2.5
VERSION_ID=4593.2.5
BUILD_ID=2026-04-28-0312
SYSEXT_LEVEL=1.0
PRETTY_NAME="Flatcar Container Linux by Kinvolk 4593.2.5 (Oklo)"
ANSI_COLOR="38;5;75"
HOME_URL="https://flatcar.org/"
BUG_REPORT_URL="https://issues.flatcar.org"
FLATCAR_BOARD="amd64-usr"
CPE_NAME="cpe:2.3:o:flatcar-linux:flatcar_linux:4593.2.5:*:*:*:*:*:*:*"
`

// Start starts the cluster and registers its teardown with tb.Cleanup.
func Start(tb TB, o Options) *Cluster {
	tb.Helper()
	c, err := start(tb, o)
	if err != nil {
		tb.Fatalf("testnodes: %v", err)
	}
	return c
}

func start(tb TB, o Options) (*Cluster, error) {
	for _, bin := range []string{SSHD, Etcd, "etcdctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("%s not found (apt-get install openssh-server etcd-server etcd-client): %w", bin, err)
		}
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Nodes > 250 {
		return nil, fmt.Errorf("at most 250 nodes")
	}
	members := o.EtcdMembers
	if members == 0 || members > o.Nodes {
		members = o.Nodes
	}
	if o.OSRelease == "" {
		o.OSRelease = FlatcarOSRelease
	}
	if o.Channel == "" {
		o.Channel = "stable"
	}
	if o.Services == nil {
		o.Services = []string{inventory.ServiceEtcd, inventory.ServiceDocker}
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: tb.TempDir(), tb: tb, User: u.Username}
	tb.Cleanup(c.stopAll)
	// sshd's privilege separation wants this directory (root-owned, 0755).
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, fmt.Errorf("/run/sshd: %w", err)
	}
	c.IdentityFile = filepath.Join(c.Dir, "id_ed25519")
	clientPub, err := writeKey(c.IdentityFile)
	if err != nil {
		return nil, err
	}
	authKeys := filepath.Join(c.Dir, "authorized_keys")
	if err := os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		return nil, err
	}
	c.KnownHostsPath = filepath.Join(c.Dir, "known_hosts")
	bin := filepath.Join(c.Dir, "bin")
	if err := writeStandIns(bin); err != nil {
		return nil, err
	}

	base, err := randomBase()
	if err != nil {
		return nil, err
	}
	token := fmt.Sprintf("testnodes-%d-%d", time.Now().UnixNano(), os.Getpid())
	started := members - o.MissingMembers
	if started < 1 {
		return nil, fmt.Errorf("MissingMembers %d leaves no member", o.MissingMembers)
	}
	var initial, addrs []string
	for i := 1; i <= members; i++ {
		addrs = append(addrs, fmt.Sprintf("%s.%d", base, i))
	}
	clientPort, err := commonFreePort(addrs)
	if err != nil {
		return nil, err
	}
	for i := 1; i <= o.Nodes; i++ {
		n := &Node{Name: fmt.Sprintf("core-%02d", i), Addr: fmt.Sprintf("%s.%d", base, i), Member: i <= members, ClientPort: clientPort}
		n.dir = filepath.Join(c.Dir, n.Name)
		n.Root = filepath.Join(n.dir, "root")
		// Each probe closes its listener, so the kernel may hand the same
		// port out again on this address: a node's SSH, peer and client
		// ports must differ (seen: core-03's peer port was the client port,
		// and its etcd failed to bind).
		used := []int{clientPort}
		for _, p := range []*int{&n.SSHPort, &n.PeerPort} {
			if *p, err = freePortExcept(n.Addr, used); err != nil {
				return nil, fmt.Errorf("%s: %w", n.Name, err)
			}
			used = append(used, *p)
		}
		if n.Member && i <= started {
			initial = append(initial, fmt.Sprintf("%s=http://%s:%d", n.Name, n.Addr, n.PeerPort))
		}
		c.Nodes = append(c.Nodes, n)
	}
	for i, n := range c.Nodes {
		endpoint := n
		if !n.Member {
			endpoint = c.Nodes[i%members]
		}
		if err := n.prepare(o, bin, authKeys, fmt.Sprintf("http://%s:%d", endpoint.Addr, endpoint.ClientPort)); err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		if n.Member && i < started {
			n.etcdArgs = []string{
				"--name", n.Name,
				"--data-dir", filepath.Join(n.dir, "etcd"),
				"--listen-client-urls", fmt.Sprintf("http://%s:%d", n.Addr, n.ClientPort),
				"--advertise-client-urls", fmt.Sprintf("http://%s:%d", n.Addr, n.ClientPort),
				"--listen-peer-urls", fmt.Sprintf("http://%s:%d", n.Addr, n.PeerPort),
				"--initial-advertise-peer-urls", fmt.Sprintf("http://%s:%d", n.Addr, n.PeerPort),
				"--initial-cluster", strings.Join(initial, ","),
				"--initial-cluster-token", token,
				"--initial-cluster-state", "new",
				"--enable-v2=true",
			}
		}
	}

	// Start everything at once: etcd members wait for each other anyway.
	errs := make([]error, len(c.Nodes))
	var wg sync.WaitGroup
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.StartSSHD(); err != nil {
				errs[i] = err
				return
			}
			if n.etcdArgs != nil {
				errs[i] = n.startEtcd()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, n := range c.Nodes {
		if n.etcdArgs != nil {
			if err := n.waitEtcd(20 * time.Second); err != nil {
				return nil, err
			}
		}
	}

	inv := &inventory.Inventory{Services: o.Services, EtcdClientPort: clientPort}
	for _, n := range c.Nodes {
		inv.Nodes = append(inv.Nodes, inventory.Node{
			Name: n.Name, Address: n.Addr,
			SSH: inventory.SSH{Host: n.Addr, Port: n.SSHPort, User: c.User, IdentityFile: c.IdentityFile},
		})
	}
	if members < o.Nodes {
		for _, n := range c.Nodes[:members] {
			inv.EtcdMembers = append(inv.EtcdMembers, n.Name)
		}
	}
	c.Inventory = inv
	c.InventoryPath = filepath.Join(c.Dir, "inventory.yaml")
	if err := inventory.Write(c.InventoryPath, inv); err != nil {
		return nil, err
	}
	return c, nil
}

// Node returns the named node.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	c.tb.Fatalf("testnodes: no node %q", name)
	return nil
}

func (c *Cluster) stopAll() {
	for _, n := range c.Nodes {
		n.mu.Lock()
		for _, p := range []*proc{n.sshd, n.etcd} {
			p.kill()
		}
		n.mu.Unlock()
	}
	if c.tb.Failed() {
		for _, n := range c.Nodes {
			for _, log := range []string{"sshd.log", "etcd.log"} {
				if b, err := os.ReadFile(filepath.Join(n.dir, log)); err == nil && len(b) > 0 {
					c.tb.Logf("%s %s:\n%s", n.Name, log, tail(b, 2000))
				}
			}
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// randomBase picks 127.a.b, avoiding 127.0.0.x which other software uses.
func randomBase() (string, error) {
	a, err := rand.Int(rand.Reader, big.NewInt(200))
	if err != nil {
		return "", err
	}
	b, err := rand.Int(rand.Reader, big.NewInt(256))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.%d.%d", a.Int64()+20, b.Int64()), nil
}

// commonFreePort finds a port free on every address: members serve
// clients on one port, as real ones do on 2379, so the inventory's
// etcd_client_port reaches each of them.
func commonFreePort(addrs []string) (int, error) {
	for range 20 {
		p, err := freePort(addrs[0])
		if err != nil {
			return 0, err
		}
		free := true
		for _, a := range addrs[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(a, strconv.Itoa(p)))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return p, nil
		}
	}
	return 0, errors.New("no port free on every node address after 20 tries")
}

// freePortExcept is freePort, never one of used (20 tries).
func freePortExcept(addr string, used []int) (int, error) {
	for range 20 {
		p, err := freePort(addr)
		if err != nil || !slices.Contains(used, p) {
			return p, err
		}
	}
	return 0, fmt.Errorf("no free port on %s other than %v after 20 tries", addr, used)
}

func freePort(addr string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func writeKey(path string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(pub)
}

func (n *Node) prepare(o Options, bin, authKeys, endpoint string) error {
	for _, d := range []string{"etc", "usr/share/flatcar", "etc/flatcar", "run/cododemo/units", "run/cododemo/journal"} {
		if err := os.MkdirAll(filepath.Join(n.Root, d), 0o755); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/os-release":                         o.OSRelease,
		"usr/share/flatcar/update.conf":          "SERVER=https://public.update.flatcar-linux.net/v1/update/\nGROUP=" + o.Channel + "\n",
		"run/cododemo/system-state":              "running\n",
		"run/cododemo/units/docker.service":      "active\n",
		"run/cododemo/units/etcd-member.service": "active\n",
	}
	for p, content := range files {
		if err := os.WriteFile(filepath.Join(n.Root, p), []byte(content), 0o644); err != nil {
			return err
		}
	}
	n.hostKey = filepath.Join(n.dir, "ssh_host_ed25519_key")
	if _, err := writeKey(n.hostKey); err != nil {
		return err
	}
	n.sshdConf = filepath.Join(n.dir, "sshd_config")
	conf := fmt.Sprintf(`# testnodes: %s
ListenAddress %s:%d
HostKey %s
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
MaxSessions 64
MaxStartups 200
LogLevel ERROR
SetEnv HOME=%s PATH=%s:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin CODODEMO_ROOT=%s ETCDCTL_API=3 ETCDCTL_ENDPOINTS=%s
`, n.Name, n.Addr, n.SSHPort, n.hostKey, authKeys, n.Root, bin, n.Root, endpoint)
	return os.WriteFile(n.sshdConf, []byte(conf), 0o644)
}

// proc is a started process in its own process group.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(dir, log string, name string, args ...string) (*proc, error) {
	f, err := os.OpenFile(filepath.Join(dir, log), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill kills the process group and reaps the process.
func (p *proc) kill() {
	if p == nil {
		return
	}
	killGroup(p.cmd.Process)
	<-p.done
}

// StartSSHD starts (or restarts) the node's sshd and waits for its banner.
func (n *Node) StartSSHD() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sshd.kill()
	p, err := startProc(n.dir, "sshd.log", SSHD, "-D", "-e", "-f", n.sshdConf)
	if err != nil {
		return fmt.Errorf("%s: sshd: %w", n.Name, err)
	}
	n.sshd = p
	addr := net.JoinHostPort(n.Addr, strconv.Itoa(n.SSHPort))
	for i := 0; i < 200; i++ {
		if p.exited() {
			return fmt.Errorf("%s: sshd exited at start: %s", n.Name, n.readLog("sshd.log"))
		}
		if banner(addr) {
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("%s: sshd on %s gave no banner in 5s: %s", n.Name, addr, n.readLog("sshd.log"))
}

func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

func (n *Node) readLog(name string) string {
	b, _ := os.ReadFile(filepath.Join(n.dir, name))
	return strings.TrimSpace(string(tail(b, 1000)))
}

func (n *Node) startEtcd() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	p, err := startProc(n.dir, "etcd.log", Etcd, n.etcdArgs...)
	if err != nil {
		return fmt.Errorf("%s: etcd: %w", n.Name, err)
	}
	n.etcd = p
	return nil
}

func (n *Node) waitEtcd(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	url := fmt.Sprintf("http://%s:%d/health", n.Addr, n.ClientPort)
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			var buf [256]byte
			k, _ := resp.Body.Read(buf[:])
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(buf[:k]), `"true"`) {
				return nil
			}
		}
		if n.etcd.exited() {
			return fmt.Errorf("%s: etcd exited at start: %s", n.Name, n.readLog("etcd.log"))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: etcd not healthy after %s: %s", n.Name, limit, n.readLog("etcd.log"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// WaitEtcdHealthy waits, up to limit, until the node's member answers
// /health true, which etcd says only once the cluster has a leader: after a
// leader is killed, the survivors' election is then over.
func (n *Node) WaitEtcdHealthy(limit time.Duration) error { return n.waitEtcd(limit) }

// KillEtcd kills the node's etcd member (SIGKILL, like a crash).
func (n *Node) KillEtcd() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.etcd.kill()
	n.etcd = nil
}

// StopSSHD kills the node's sshd: connections are refused.
func (n *Node) StopSSHD() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sshd.kill()
	n.sshd = nil
}

// FreezeSSHD stops sshd with SIGSTOP: the kernel still accepts TCP
// connections but nothing ever answers, the way a hung VM looks.
func (n *Node) FreezeSSHD() {
	n.mu.Lock()
	defer n.mu.Unlock()
	stopGroup(n.sshd.cmd.Process)
}

// ChangeHostKey gives the node a new host key and restarts sshd, as a
// re-created VM (or an impostor) would look.
func (n *Node) ChangeHostKey() error {
	if _, err := writeKey(n.hostKey); err != nil {
		return err
	}
	return n.StartSSHD()
}

// SetSystemState sets what `systemctl is-system-running` prints.
func (n *Node) SetSystemState(state string) error {
	return os.WriteFile(filepath.Join(n.Root, "run/cododemo/system-state"), []byte(state+"\n"), 0o644)
}

// SetUnit sets a unit's active state (active, failed, inactive) and its
// journal lines.
func (n *Node) SetUnit(unit, state string, journal ...string) error {
	if err := os.WriteFile(filepath.Join(n.Root, "run/cododemo/units", unit), []byte(state+"\n"), 0o644); err != nil {
		return err
	}
	if len(journal) == 0 {
		return nil
	}
	return os.WriteFile(filepath.Join(n.Root, "run/cododemo/journal", unit), []byte(strings.Join(journal, "\n")+"\n"), 0o644)
}

// WriteFile writes a file under the node root (path is absolute on the
// node, like /etc/os-release).
func (n *Node) WriteFile(path, content string) error {
	p := filepath.Join(n.Root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(content), 0o644)
}
