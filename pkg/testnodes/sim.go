package testnodes

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// SimOptions shape a simulated cluster.
type SimOptions struct {
	// Nodes is the number of nodes (default 3); the first three are the
	// etcd members.
	Nodes int
	// Latency is how long each simulated node takes per command, by kind.
	// Zero values take SimLatency's.
	Latency Latency
}

// Latency is a simulated node's time per command: a node works on its own
// CPU, so its time passes without costing the verifying machine anything.
type Latency struct {
	File    time.Duration // cat of os-release and update.conf
	Systemd time.Duration // one systemctl query
	Etcdctl time.Duration // one etcdctl run against one endpoint
	Cluster time.Duration // etcdctl across every member (--cluster)
}

// SimLatency is modelled on the real stand-ins (Node) on a quiet machine:
// the per-command times of `cododemo verify -o json` against 3 of them
// (os 5 ms, systemd and docker 2-3 ms, the local etcdctl read 12-18 ms,
// the --cluster runs 70-90 ms when they overlap on 2 cores, ~25 ms alone).
var SimLatency = Latency{File: 3 * time.Millisecond, Systemd: 2 * time.Millisecond, Etcdctl: 12 * time.Millisecond, Cluster: 25 * time.Millisecond}

// StartSim starts simulated nodes for measuring how `cododemo verify`
// scales, where the real stand-ins (Start) would measure this machine
// instead: 20 real sshd with their shells and etcdctl runs saturate 2
// cores, while real nodes each have their own. Each simulated node is an
// SSH server of its own (golang.org/x/crypto/ssh: real key exchange, real
// host key, only the lab key accepted) on its own loopback address,
// answering the commands of pkg/health as a healthy Flatcar node of a
// 3-member cluster does, after the node's simulated time; etcdctl put,
// get and del share one in-memory store, so the quorum read-back is
// still checked for real. It runs no process. It is for benchmarks only:
// tests use Start.
func StartSim(tb TB, o SimOptions) *Cluster {
	tb.Helper()
	c, err := startSim(tb, o)
	if err != nil {
		tb.Fatalf("testnodes: sim: %v", err)
	}
	return c
}

type simCluster struct {
	lat     Latency
	nodes   []*Node
	members int

	mu sync.Mutex
	kv map[string]string
}

func startSim(tb TB, o SimOptions) (*Cluster, error) {
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Nodes > 250 {
		return nil, errors.New("at most 250 nodes")
	}
	lat := o.Latency
	if lat == (Latency{}) {
		lat = SimLatency
	}
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: tb.TempDir(), tb: tb, User: u.Username}
	c.IdentityFile = filepath.Join(c.Dir, "id_ed25519")
	clientPub, err := writeKey(c.IdentityFile)
	if err != nil {
		return nil, err
	}
	c.KnownHostsPath = filepath.Join(c.Dir, "known_hosts")
	base, err := randomBase()
	if err != nil {
		return nil, err
	}
	sc := &simCluster{lat: lat, members: min(3, o.Nodes), kv: map[string]string{}}
	inv := &inventory.Inventory{Services: []string{inventory.ServiceEtcd, inventory.ServiceDocker}}
	for i := 1; i <= o.Nodes; i++ {
		n := &Node{Name: fmt.Sprintf("core-%02d", i), Addr: fmt.Sprintf("%s.%d", base, i), Member: i <= sc.members, ClientPort: inventory.DefaultEtcdClientPort}
		ln, err := net.Listen("tcp", net.JoinHostPort(n.Addr, "0"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		tb.Cleanup(func() { _ = ln.Close() })
		n.SSHPort = ln.Addr().(*net.TCPAddr).Port
		cfg, err := simServerConfig(clientPub)
		if err != nil {
			return nil, err
		}
		go sc.serve(ln, cfg, n)
		sc.nodes = append(sc.nodes, n)
		c.Nodes = append(c.Nodes, n)
		inv.Nodes = append(inv.Nodes, inventory.Node{Name: n.Name, Address: n.Addr,
			SSH: inventory.SSH{Host: n.Addr, Port: n.SSHPort, User: c.User, IdentityFile: c.IdentityFile}})
	}
	if sc.members < o.Nodes {
		for _, n := range c.Nodes[:sc.members] {
			inv.EtcdMembers = append(inv.EtcdMembers, n.Name)
		}
	}
	c.Inventory = inv
	c.InventoryPath = filepath.Join(c.Dir, "inventory.yaml")
	return c, inventory.Write(c.InventoryPath, inv)
}

func simServerConfig(client ssh.PublicKey) (*ssh.ServerConfig, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	want := string(client.Marshal())
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == want {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	cfg.AddHostKey(signer)
	return cfg, nil
}

func (sc *simCluster) serve(ln net.Listener, cfg *ssh.ServerConfig, n *Node) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return // closed at cleanup
		}
		go func() {
			defer conn.Close()
			_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
			if err != nil {
				return
			}
			go ssh.DiscardRequests(reqs)
			for nc := range chans {
				if nc.ChannelType() != "session" {
					_ = nc.Reject(ssh.UnknownChannelType, "sessions only")
					continue
				}
				ch, creqs, err := nc.Accept()
				if err != nil {
					continue
				}
				go sc.session(ch, creqs, n)
			}
		}()
	}
}

// session answers one exec request, as sshd and a shell would.
func (sc *simCluster) session(ch ssh.Channel, reqs <-chan *ssh.Request, n *Node) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" || len(req.Payload) < 4 {
			_ = req.Reply(false, nil)
			continue
		}
		cmd := sshx.WithoutToolPath(string(req.Payload[4:]))
		_ = req.Reply(true, nil)
		var r health.BatchResult
		if nonce, cmds, ok := health.SplitBatch(cmd); ok {
			results := make([]health.BatchResult, len(cmds))
			for i, c := range cmds {
				results[i] = sc.answer(n, c)
			}
			r.Stdout, r.Stderr = health.FrameBatch(nonce, results)
		} else {
			r = sc.answer(n, cmd)
		}
		_, _ = ch.Write(r.Stdout)
		_, _ = ch.Stderr().Write(r.Stderr)
		var status [4]byte
		binary.BigEndian.PutUint32(status[:], uint32(r.ExitStatus))
		_, _ = ch.SendRequest("exit-status", false, status[:])
		return
	}
}

// answer runs one command on the simulated node n.
func (sc *simCluster) answer(n *Node, cmd string) health.BatchResult {
	_, cmd = health.SplitEndpoints(cmd) // any member answers alike here
	ok := func(d time.Duration, out string) health.BatchResult {
		time.Sleep(d)
		return health.BatchResult{Stdout: []byte(out)}
	}
	url := func(m *Node) string { return fmt.Sprintf("http://%s:%d", m.Addr, m.ClientPort) }
	members := sc.nodes[:sc.members]
	eachMember := func(f func(i int, m *Node) string) string {
		var parts []string
		for i, m := range members {
			parts = append(parts, f(i, m))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	const clusterID = 14841639068965178418
	memberID := func(i int) uint64 { return 10000000000000000000 + uint64(i) }
	endpoint := n
	if !n.Member {
		endpoint = members[slices.Index(sc.nodes, n)%len(members)] // as Start's client-only nodes
	}
	switch {
	case cmd == health.CmdOSRelease:
		return ok(sc.lat.File, FlatcarOSRelease+health.UpdateConfMarker+"\nGROUP=stable\n")
	case cmd == health.CmdSystemRunning:
		return ok(sc.lat.Systemd, "running\n")
	case cmd == health.CmdDockerActive:
		return ok(sc.lat.Systemd, "active\n")
	case cmd == health.CmdEtcdLocalHealth:
		return ok(sc.lat.Etcdctl, fmt.Sprintf(`[{"endpoint":"%s","health":true,"took":"1.2ms"}]`, url(endpoint)))
	case cmd == health.CmdEtcdClusterHealth:
		return ok(sc.lat.Cluster, eachMember(func(_ int, m *Node) string {
			return fmt.Sprintf(`{"endpoint":"%s","health":true,"took":"1.5ms"}`, url(m))
		}))
	case cmd == health.CmdEtcdMemberList:
		var parts []string
		for i, m := range members {
			parts = append(parts, fmt.Sprintf(`{"ID":%d,"name":"%s","peerURLs":["http://%s:2380"],"clientURLs":["%s"]}`, memberID(i), m.Name, m.Addr, url(m)))
		}
		return ok(sc.lat.Etcdctl, fmt.Sprintf(`{"header":{"cluster_id":%d,"member_id":%d,"raft_term":2},"members":[%s]}`, uint64(clusterID), memberID(0), strings.Join(parts, ",")))
	case cmd == health.CmdEtcdStatus:
		return ok(sc.lat.Cluster, eachMember(func(i int, m *Node) string {
			return fmt.Sprintf(`{"Endpoint":"%s","Status":{"header":{"cluster_id":%d,"member_id":%d,"revision":7,"raft_term":2},"version":"3.5.21","dbSize":20480,"leader":%d,"raftIndex":9,"raftTerm":2}}`,
				url(m), uint64(clusterID), memberID(i), memberID(0))
		}))
	case strings.HasPrefix(cmd, "etcdctl "):
		if out, found := sc.kvOp(cmd); found {
			return ok(sc.lat.Etcdctl, out)
		}
	}
	return health.BatchResult{ExitStatus: 127, Stderr: []byte("testnodes sim: not simulated: " + cmd + "\n")}
}

// kvOp does etcdctl put, get and del on the shared store (never sleeping
// under its lock: 20 nodes read at once).
func (sc *simCluster) kvOp(cmd string) (string, bool) {
	f := strings.Fields(cmd)
	last := strings.Trim(f[len(f)-1], "'")
	sc.mu.Lock()
	defer sc.mu.Unlock()
	switch {
	case strings.Contains(cmd, " put "):
		sc.kv[strings.Trim(f[len(f)-2], "'")] = last // put KEY VALUE
		return "OK\n", true
	case strings.Contains(cmd, " get "):
		return sc.kv[last] + "\n", true
	case strings.Contains(cmd, " del "):
		delete(sc.kv, last)
		return "1\n", true
	}
	return "", false
}
