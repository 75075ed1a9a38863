package health

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// fakeNode answers commands like a healthy Flatcar node of a 3-member
// cluster; tests override answers per command prefix.
type fakeNode struct {
	name, addr string
	cl         *fakeCluster
	mu         sync.Mutex
	over       map[string]func() (sshx.Result, error)
	ran        []string // commands run, a batch's one by one
	batches    int
	atMembers  int // commands run against every member's endpoint
}

type fakeCluster struct {
	nodes  []*fakeNode
	mu     sync.Mutex
	kv     map[string]string
	leader map[string]uint64 // per node's view; default node 1's ID
}

func ok(out string) (sshx.Result, error) { return sshx.Result{Stdout: []byte(out)}, nil }

func memberID(i int) uint64 { return 10000000000000000000 + uint64(i) } // > 2^53

func newFakeCluster(n int) (*fakeCluster, *inventory.Inventory) {
	c := &fakeCluster{kv: map[string]string{}, leader: map[string]uint64{}}
	inv := &inventory.Inventory{}
	for i := 1; i <= n; i++ {
		fn := &fakeNode{name: fmt.Sprintf("core-%02d", i), addr: fmt.Sprintf("10.0.0.%d", i), cl: c, over: map[string]func() (sshx.Result, error){}}
		c.nodes = append(c.nodes, fn)
		inv.Nodes = append(inv.Nodes, inventory.Node{Name: fn.name, Address: fn.addr, SSH: inventory.SSH{Host: "127.0.0.1", Port: 2200 + i, User: "core"}})
	}
	return c, inv
}

func (n *fakeNode) set(prefix string, fn func() (sshx.Result, error)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.over[prefix] = fn
}

// runBatch answers a BatchScript as a shell would: each command through
// Run, framed as BatchScript frames it.
func (n *fakeNode) runBatch(ctx context.Context, script string) (sshx.Result, error) {
	nonce, cmds, ok := SplitBatch(script)
	if !ok {
		return sshx.Result{ExitStatus: 2, Stderr: []byte("fake: not a batch")}, nil
	}
	var results []BatchResult
	for _, c := range cmds {
		res, err := n.Run(ctx, c)
		if err != nil {
			return sshx.Result{}, err
		}
		results = append(results, BatchResult{Stdout: res.Stdout, Stderr: res.Stderr, ExitStatus: res.ExitStatus})
	}
	out, errOut := FrameBatch(nonce, results)
	return sshx.Result{Stdout: out, Stderr: errOut}, nil
}

func (n *fakeNode) Run(ctx context.Context, cmd string) (sshx.Result, error) {
	if strings.HasPrefix(cmd, `printf '\n@@`) {
		n.mu.Lock()
		n.batches++
		n.mu.Unlock()
		return n.runBatch(ctx, cmd)
	}
	// Cluster-wide runs name every member's endpoint; any of them answers.
	if urls, rest := SplitEndpoints(cmd); urls != nil {
		n.mu.Lock()
		n.atMembers++
		n.mu.Unlock()
		cmd = rest
	}
	n.mu.Lock()
	n.ran = append(n.ran, cmd)
	var fn func() (sshx.Result, error)
	for p, f := range n.over {
		if strings.HasPrefix(cmd, p) {
			fn = f
		}
	}
	n.mu.Unlock()
	if fn != nil {
		return fn()
	}
	if err := ctx.Err(); err != nil {
		return sshx.Result{}, err
	}
	c := n.cl
	switch {
	case cmd == CmdOSRelease:
		return ok(string(testdataOS))
	case cmd == CmdSystemRunning:
		return ok("running\n")
	case cmd == CmdDockerActive:
		return ok("active\n")
	case cmd == CmdEtcdLocalHealth:
		return ok(fmt.Sprintf(`[{"endpoint":"http://%s:2379","health":true,"took":"1ms"}]`, n.addr))
	case cmd == CmdEtcdClusterHealth:
		var parts []string
		for _, m := range c.nodes {
			parts = append(parts, fmt.Sprintf(`{"endpoint":"http://%s:2379","health":true,"took":"1ms"}`, m.addr))
		}
		return ok("[" + strings.Join(parts, ",") + "]")
	case cmd == CmdEtcdMemberList:
		var parts []string
		for i, m := range c.nodes {
			parts = append(parts, fmt.Sprintf(`{"ID":%d,"name":"%s","peerURLs":["http://%s:2380"],"clientURLs":["http://%s:2379"]}`, memberID(i+1), m.name, m.addr, m.addr))
		}
		return ok(`{"header":{"cluster_id":17237436991929493444,"member_id":1,"raft_term":2},"members":[` + strings.Join(parts, ",") + "]}")
	case cmd == CmdEtcdStatus:
		var parts []string
		for i, m := range c.nodes {
			l, found := c.leader[m.name]
			if !found {
				l = memberID(1)
			}
			parts = append(parts, fmt.Sprintf(`{"Endpoint":"http://%s:2379","Status":{"header":{"cluster_id":17237436991929493444,"member_id":%d,"revision":1,"raft_term":2},"version":"3.5.21","leader":%d,"raftTerm":2}}`, m.addr, memberID(i+1), l))
		}
		return ok("[" + strings.Join(parts, ",") + "]")
	case strings.HasPrefix(cmd, "etcdctl "+etcdctlFlags+" put "):
		f := strings.Fields(strings.TrimPrefix(cmd, "etcdctl "+etcdctlFlags+" put "))
		c.mu.Lock()
		c.kv[f[0]] = f[1]
		c.mu.Unlock()
		return ok("OK\n")
	case strings.HasPrefix(cmd, "etcdctl "+etcdctlFlags+" get "):
		f := strings.Fields(cmd)
		c.mu.Lock()
		v := c.kv[f[len(f)-1]]
		c.mu.Unlock()
		return ok(v + "\n")
	case strings.HasPrefix(cmd, "etcdctl "+etcdctlFlags+" del "):
		f := strings.Fields(cmd)
		c.mu.Lock()
		delete(c.kv, f[len(f)-1])
		c.mu.Unlock()
		return ok("1\n")
	case cmd == CmdFleetMachines:
		var b strings.Builder
		for i, m := range c.nodes {
			fmt.Fprintf(&b, "%032x\t%s\t-\n", i+1, m.addr)
		}
		return ok(b.String())
	}
	return sshx.Result{ExitStatus: 127, Stderr: []byte("fake: unknown command: " + cmd)}, nil
}

var testdataOS = []byte("ID=flatcar\nVERSION_ID=4593.2.5\nPRETTY_NAME=\"Flatcar Container Linux by Kinvolk 4593.2.5\"\n" + UpdateConfMarker + "\nGROUP=stable\n")

type fakeConn struct {
	c       *fakeCluster
	refused map[string]error
}

func (f *fakeConn) Connect(ctx context.Context, n inventory.Node) (Session, error) {
	if err := f.refused[n.Name]; err != nil {
		return nil, err
	}
	for _, fn := range f.c.nodes {
		if fn.name == n.Name {
			return fn, nil
		}
	}
	return nil, errors.New("no such node")
}

func verifyFake(t *testing.T, c *fakeCluster, inv *inventory.Inventory, sel Selection, refused map[string]error) *Report {
	t.Helper()
	v := &Verifier{Inv: inv, Conn: &fakeConn{c: c, refused: refused}, Opts: Options{Checks: sel, Timeout: 2 * time.Second, Poll: time.Millisecond}}
	return v.Verify(context.Background())
}

func find(t *testing.T, r *Report, node, check string) Verdict {
	t.Helper()
	for _, v := range r.Verdicts {
		if v.Node == node && v.Check == check {
			return v
		}
	}
	t.Fatalf("no verdict %s/%s", node, check)
	return Verdict{}
}

func wantStatus(t *testing.T, r *Report, node, check string, s Status, mention string) Verdict {
	t.Helper()
	v := find(t, r, node, check)
	if v.Status != s || !strings.Contains(v.Message, mention) {
		t.Errorf("%s/%s = %s %q, want %s mentioning %q", node, check, v.Status, v.Message, s, mention)
	}
	return v
}

func TestVerifyHealthyFake(t *testing.T) {
	c, inv := newFakeCluster(3)
	inv.Services = []string{"etcd", "fleet", "docker"}
	r := verifyFake(t, c, inv, nil, nil)
	if !r.Healthy() {
		t.Fatalf("unhealthy: %+v", r.Verdicts)
	}
	// 5 node checks x 3 + 5 cluster checks (fleet-unit needs --deep),
	// and kit skipped on each node (not in the services).
	if len(r.Verdicts) != 23 || r.Count(Pass) != 20 || r.Count(Skip) != 3 {
		t.Errorf("%d verdicts, %d pass, %d skip", len(r.Verdicts), r.Count(Pass), r.Count(Skip))
	}
	wantStatus(t, r, "core-01", CheckKit, Skip, "kit is not in the inventory's services")
	if r.Verdicts[0].Node != "core-01" || r.Verdicts[0].Check != "ssh" || r.Verdicts[len(r.Verdicts)-1].Node != ClusterNode {
		t.Errorf("order: %+v ... %+v", r.Verdicts[0], r.Verdicts[len(r.Verdicts)-1])
	}
	wantStatus(t, r, ClusterNode, CheckEtcdLeader, Pass, "leader core-01")
	if len(c.kv) != 0 {
		t.Errorf("probe key left behind: %v", c.kv)
	}
	for _, n := range c.nodes {
		var gets int
		for _, cmd := range n.ran {
			if strings.Contains(cmd, " get ") {
				gets++
			}
		}
		if gets != 1 {
			t.Errorf("%s: %d read-backs, want 1", n.name, gets)
		}
		// Cluster-wide runs reach every member: health, member list,
		// status, the probe's put and del, all from core-01.
		if want := map[string]int{"core-01": 5}[n.name]; n.atMembers != want {
			t.Errorf("%s: %d runs against every member, want %d", n.name, n.atMembers, want)
		}
		// The read-back rides in the node's one batch and stands in
		// for the local endpoint health.
		if n.batches != 1 || slices.Contains(n.ran, CmdEtcdLocalHealth) {
			t.Errorf("%s: %d batches, ran %q", n.name, n.batches, n.ran)
		}
	}
}

func TestVerifyOSExpectations(t *testing.T) {
	c, inv := newFakeCluster(1)
	inv.OS = inventory.OS{ID: "flatcar", Version: "4593.2.5", Channel: "stable"}
	sel := Selection{CheckSSH: true, CheckOS: true}
	wantStatus(t, verifyFake(t, c, inv, sel, nil), "core-01", CheckOS, Pass, "4593.2.5")
	inv.OS.Version = "4600.0.0"
	v := wantStatus(t, verifyFake(t, c, inv, sel, nil), "core-01", CheckOS, Fail, "lock pins 4600.0.0")
	if v.Hint == "" {
		t.Error("version mismatch without hint")
	}
	inv.OS = inventory.OS{ID: "coreos"}
	wantStatus(t, verifyFake(t, c, inv, sel, nil), "core-01", CheckOS, Fail, "wants coreos")
	inv.OS = inventory.OS{Channel: "beta"}
	wantStatus(t, verifyFake(t, c, inv, sel, nil), "core-01", CheckOS, Warn, "channel stable")
	inv.OS = inventory.OS{}
	c.nodes[0].set("cat ", func() (sshx.Result, error) { return ok("ID=debian\n" + UpdateConfMarker + "\n") })
	wantStatus(t, verifyFake(t, c, inv, sel, nil), "core-01", CheckOS, Warn, "not a CoreOS-family")
}

func TestVerifySystemd(t *testing.T) {
	c, inv := newFakeCluster(1)
	sel := Selection{CheckSSH: true, CheckSystemd: true}
	// "starting" is waited out.
	var mu sync.Mutex
	calls := 0
	c.nodes[0].set(CmdSystemRunning, func() (sshx.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls < 3 {
			return sshx.Result{Stdout: []byte("starting\n"), ExitStatus: 1}, nil
		}
		return ok("running\n")
	})
	wantStatus(t, verifyFake(t, c, inv, sel, nil), "core-01", CheckSystemd, Pass, "running")
	// Degraded: failed units and their journal.
	c.nodes[0].set(CmdSystemRunning, func() (sshx.Result, error) {
		return sshx.Result{Stdout: []byte("degraded\n"), ExitStatus: 1}, nil
	})
	c.nodes[0].set("systemctl list-units", func() (sshx.Result, error) { return ok(string(testdata(t, "systemctl-failed-units.txt"))) })
	c.nodes[0].set("journalctl -u locksmithd.service", func() (sshx.Result, error) { return ok("locksmithd[1]: no etcd\n") })
	c.nodes[0].set("journalctl -u update-engine.service", func() (sshx.Result, error) { return ok("") })
	v := wantStatus(t, verifyFake(t, c, inv, sel, nil), "core-01", CheckSystemd, Fail, "locksmithd.service, update-engine.service")
	if !strings.Contains(v.Message, "locksmithd[1]: no etcd") {
		t.Errorf("no journal excerpt: %q", v.Message)
	}
	// Starting for longer than the check timeout: a warning, not a hang.
	c.nodes[0].set(CmdSystemRunning, func() (sshx.Result, error) {
		return sshx.Result{Stdout: []byte("starting\n"), ExitStatus: 1}, nil
	})
	v2 := &Verifier{Inv: inv, Conn: &fakeConn{c: c}, Opts: Options{Checks: sel, Timeout: 50 * time.Millisecond, Poll: 5 * time.Millisecond}}
	wantStatus(t, v2.Verify(context.Background()), "core-01", CheckSystemd, Warn, "still starting")
}

func TestVerifyEtcdFaults(t *testing.T) {
	sel, _ := Select([]string{"etcd"}, nil, false)

	c, inv := newFakeCluster(3)
	c.leader["core-03"] = memberID(3)
	wantStatus(t, verifyFake(t, c, inv, sel, nil), ClusterNode, CheckEtcdLeader, Fail, "disagree")

	c, inv = newFakeCluster(3)
	for _, n := range c.nodes {
		c.leader[n.name] = 0
	}
	wantStatus(t, verifyFake(t, c, inv, sel, nil), ClusterNode, CheckEtcdLeader, Fail, "no leader")

	// The inventory expects a fourth member that etcd never had.
	c, inv = newFakeCluster(3)
	inv.Nodes = append(inv.Nodes, inventory.Node{Name: "core-04", Address: "10.0.0.4", SSH: inventory.SSH{Host: "h", User: "u"}})
	r := verifyFake(t, c, inv, sel, map[string]error{"core-04": errors.New("connection refused")})
	wantStatus(t, r, ClusterNode, CheckEtcdMembers, Fail, "missing members: core-04")
	wantStatus(t, r, ClusterNode, CheckEtcdHealth, Fail, "core-04")
	wantStatus(t, r, ClusterNode, CheckEtcdWrite, Warn, "unreachable core-04")
	wantStatus(t, r, "core-04", CheckSSH, Fail, "connection refused")
	wantStatus(t, r, "core-04", CheckEtcdMember, Skip, "unreachable")

	// A stale read on one node names it, and the key is still removed.
	c, inv = newFakeCluster(3)
	c.nodes[1].set("etcdctl "+etcdctlFlags+" get", func() (sshx.Result, error) { return ok("old\n") })
	r = verifyFake(t, c, inv, sel, nil)
	wantStatus(t, r, ClusterNode, CheckEtcdWrite, Fail, "core-02: read \"old\"")
	if len(c.kv) != 0 {
		t.Errorf("probe key left after a failed read-back: %v", c.kv)
	}

	// A node whose read fails fails both its etcd-member check and the
	// read-back, each naming it.
	c, inv = newFakeCluster(3)
	c.nodes[2].set("etcdctl "+etcdctlFlags+" get", func() (sshx.Result, error) {
		return sshx.Result{ExitStatus: 1, Stderr: []byte("Error: context deadline exceeded\n")}, nil
	})
	r = verifyFake(t, c, inv, sel, nil)
	wantStatus(t, r, "core-03", CheckEtcdMember, Fail, "context deadline exceeded")
	wantStatus(t, r, "core-02", CheckEtcdMember, Pass, "linearizable read")
	wantStatus(t, r, ClusterNode, CheckEtcdWrite, Fail, "core-03: read failed")

	// No quorum for the write: the nodes fall back to endpoint health, so
	// etcd-member still says which members are down.
	c, inv = newFakeCluster(3)
	c.nodes[0].set("etcdctl "+etcdctlFlags+" put", func() (sshx.Result, error) {
		return sshx.Result{ExitStatus: 1, Stderr: []byte("Error: etcdserver: request timed out\n")}, nil
	})
	c.nodes[1].set(CmdEtcdLocalHealth, func() (sshx.Result, error) {
		return sshx.Result{ExitStatus: 1, Stdout: []byte(`[{"endpoint":"http://10.0.0.2:2379","health":false,"error":"context deadline exceeded"}]`)}, nil
	})
	r = verifyFake(t, c, inv, sel, nil)
	wantStatus(t, r, ClusterNode, CheckEtcdWrite, Fail, "request timed out")
	wantStatus(t, r, "core-02", CheckEtcdMember, Fail, "unhealthy: context deadline exceeded")
	wantStatus(t, r, "core-01", CheckEtcdMember, Pass, "healthy")

	// etcd-write alone: every node still reads the probe back, and no
	// etcd-member verdict appears.
	c, inv = newFakeCluster(3)
	write, _ := Select([]string{CheckEtcdWrite}, nil, false)
	r = verifyFake(t, c, inv, write, nil)
	wantStatus(t, r, ClusterNode, CheckEtcdWrite, Pass, "read back on 3 nodes")
	for _, v := range r.Verdicts {
		if v.Check == CheckEtcdMember {
			t.Errorf("etcd-member reported under --only etcd-write: %+v", v)
		}
	}

	// etcd-member alone (no probe): endpoint health, as before.
	c, inv = newFakeCluster(2)
	only, _ := Select([]string{CheckEtcdMember}, nil, false)
	wantStatus(t, verifyFake(t, c, inv, only, nil), "core-02", CheckEtcdMember, Pass, "healthy (1ms)")
	for _, n := range c.nodes {
		if !slices.Contains(n.ran, CmdEtcdLocalHealth) {
			t.Errorf("%s: ran %q", n.name, n.ran)
		}
	}

	// An unhealthy member in endpoint health --cluster is named.
	c, inv = newFakeCluster(3)
	c.nodes[0].set(CmdEtcdClusterHealth, func() (sshx.Result, error) {
		return sshx.Result{ExitStatus: 1, Stdout: []byte(`[{"endpoint":"http://10.0.0.1:2379","health":true},{"endpoint":"http://10.0.0.2:2379","health":true},{"endpoint":"http://10.0.0.3:2379","health":false,"error":"context deadline exceeded"}]`)}, nil
	})
	wantStatus(t, verifyFake(t, c, inv, sel, nil), ClusterNode, CheckEtcdHealth, Fail, "core-03 (http://10.0.0.3:2379) unhealthy: context deadline exceeded")

	// An unstarted and an unexpected member.
	c, inv = newFakeCluster(2)
	c.nodes[0].set(CmdEtcdMemberList, func() (sshx.Result, error) {
		return ok(`{"header":{},"members":[{"ID":1,"name":"core-01"},{"ID":2,"name":"core-02"},{"ID":3,"name":"","peerURLs":["http://10.0.0.9:2380"]},{"ID":4,"name":"old-node"}]}`)
	})
	v := wantStatus(t, verifyFake(t, c, inv, sel, nil), ClusterNode, CheckEtcdMembers, Fail, "never started")
	if !strings.Contains(v.Message, "unexpected member old-node") {
		t.Errorf("%q", v.Message)
	}

	// etcd not in the services: every etcd check is skipped with the reason.
	c, inv = newFakeCluster(1)
	inv.Services = []string{"docker"}
	wantStatus(t, verifyFake(t, c, inv, sel, nil), ClusterNode, CheckEtcdHealth, Skip, "not in the inventory's services")
}

// The kit check: pass with every image, fail naming the missing ones and
// the loading unit's state, fail when docker cannot list images, skip
// when the inventory runs no kit or no docker.
func TestVerifyKit(t *testing.T) {
	sel, _ := Select([]string{"kit"}, nil, false)
	c, inv := newFakeCluster(3)
	inv.Services = []string{"docker", "kit"}
	all := "cododemo/lb:1\nbusybox:latest\ncododemo/hello:1\ncododemo/web:1\n"
	for _, n := range c.nodes {
		n.set(CmdKitImages, func() (sshx.Result, error) { return ok(all) })
	}
	c.nodes[1].set(CmdKitImages, func() (sshx.Result, error) { return ok("cododemo/hello:1\ncododemo/web:2\n") })
	c.nodes[1].set(CmdKitUnit, func() (sshx.Result, error) { return sshx.Result{Stdout: []byte("activating\n"), ExitStatus: 3}, nil })
	c.nodes[2].set(CmdKitImages, func() (sshx.Result, error) {
		return sshx.Result{ExitStatus: 1, Stderr: []byte("permission denied while trying to connect to the Docker daemon socket")}, nil
	})
	r := verifyFake(t, c, inv, sel, nil)
	wantStatus(t, r, "core-01", CheckKit, Pass, "cododemo/hello:1, cododemo/web:1, cododemo/lb:1 loaded")
	v := wantStatus(t, r, "core-02", CheckKit, Fail, "2 of 3 kit images missing: cododemo/web:1, cododemo/lb:1 (cododemo-kit.service: activating)")
	if !strings.Contains(v.Hint, "journalctl -u cododemo-kit.service` on core-02") {
		t.Errorf("hint %q", v.Hint)
	}
	wantStatus(t, r, "core-03", CheckKit, Fail, "docker image ls: exit status 1: permission denied")
	if r.Healthy() {
		t.Error("healthy with kit images missing")
	}
	for _, services := range [][]string{{"docker"}, {"kit"}, {"etcd", "docker"}} {
		c, inv := newFakeCluster(1)
		inv.Services = services
		r := verifyFake(t, c, inv, sel, nil)
		wantStatus(t, r, "core-01", CheckKit, Skip, "is not in the inventory's services")
		if slices.Contains(c.nodes[0].ran, CmdKitImages) {
			t.Errorf("%v: kit check ran", services)
		}
	}
}

func TestVerifyNoReachableNode(t *testing.T) {
	c, inv := newFakeCluster(2)
	r := verifyFake(t, c, inv, nil, map[string]error{"core-01": errors.New("refused"), "core-02": errors.New("refused")})
	wantStatus(t, r, ClusterNode, CheckEtcdHealth, Fail, "no node reachable")
	if r.Healthy() {
		t.Error("healthy with no node reachable")
	}
}

func TestVerifyFleet(t *testing.T) {
	sel, _ := Select([]string{"fleet"}, nil, false)
	c, inv := newFakeCluster(3)
	inv.Services = []string{"fleet"}
	inv.Nodes[0].Address, inv.Nodes[1].Address, inv.Nodes[2].Address = "192.168.56.101", "192.168.56.102", "192.168.56.103"
	c.nodes[0].set(CmdFleetMachines, func() (sshx.Result, error) { return ok(string(testdata(t, "fleet-list-machines-full.txt"))) })
	r := verifyFake(t, c, inv, sel, nil)
	wantStatus(t, r, ClusterNode, CheckFleetMachines, Pass, "3 machines")
	if _, found := findOK(r, ClusterNode, CheckFleetUnit); found {
		t.Error("fleet-unit ran without --deep")
	}
	c.nodes[0].set(CmdFleetMachines, func() (sshx.Result, error) {
		return ok(string(testdata(t, "fleet-list-machines-cloned-machine-id.txt")))
	})
	v := wantStatus(t, verifyFake(t, c, inv, sel, nil), ClusterNode, CheckFleetMachines, Fail, "shared by")
	if !strings.Contains(v.Hint, "machine-id") {
		t.Errorf("hint %q", v.Hint)
	}
	c.nodes[0].set(CmdFleetMachines, func() (sshx.Result, error) { return ok(string(testdata(t, "fleet-list-machines-missing.txt"))) })
	wantStatus(t, verifyFake(t, c, inv, sel, nil), ClusterNode, CheckFleetMachines, Fail, "core-02 (192.168.56.102) not listed")
	c.nodes[0].set(CmdFleetMachines, func() (sshx.Result, error) {
		return sshx.Result{ExitStatus: 1, Stderr: []byte("Error retrieving list of active machines: googleapi: Error 503")}, nil
	})
	wantStatus(t, verifyFake(t, c, inv, sel, nil), ClusterNode, CheckFleetMachines, Fail, "503")
}

func findOK(r *Report, node, check string) (Verdict, bool) {
	for _, v := range r.Verdicts {
		if v.Node == node && v.Check == check {
			return v, true
		}
	}
	return Verdict{}, false
}

func TestVerifyFleetDeep(t *testing.T) {
	sel, _ := Select([]string{"fleet-unit"}, nil, true)
	c, inv := newFakeCluster(1)
	inv.Services = []string{"fleet"}
	n := c.nodes[0]
	var mu sync.Mutex
	starts, lists := 0, 0
	var unit string
	n.set("cat > /tmp/cododemo-verify-", func() (sshx.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		starts++
		if starts == 1 {
			return sshx.Result{ExitStatus: 1, Stderr: []byte("Error creating units: etcd cluster is unavailable")}, nil
		}
		return ok("Unit started\n")
	})
	n.set(CmdFleetUnits, func() (sshx.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		lists++
		for _, cmd := range n.ran {
			if i := strings.Index(cmd, "fleetctl start /tmp/"); i >= 0 {
				unit = strings.TrimSpace(cmd[i+len("fleetctl start /tmp/"):])
			}
		}
		state := "activating"
		if lists > 1 {
			state = "active"
		}
		return ok(unit + "\t" + state + "\n")
	})
	n.set("fleetctl destroy", func() (sshx.Result, error) { return ok("Destroyed\n") })
	r := verifyFake(t, c, inv, sel, nil)
	wantStatus(t, r, ClusterNode, CheckFleetUnit, Pass, "active, destroyed")
	destroyed := false
	for _, cmd := range n.ran {
		if strings.HasPrefix(cmd, "fleetctl destroy "+unit) {
			destroyed = true
		}
	}
	if !destroyed || starts != 2 {
		t.Errorf("starts %d destroyed %v: %v", starts, destroyed, n.ran)
	}
}

func TestVerifyTimeoutPerCheck(t *testing.T) {
	c, inv := newFakeCluster(1)
	c.nodes[0].set(CmdDockerActive, func() (sshx.Result, error) {
		time.Sleep(200 * time.Millisecond)
		return sshx.Result{}, context.DeadlineExceeded
	})
	sel := Selection{CheckSSH: true, CheckDocker: true}
	v := &Verifier{Inv: inv, Conn: &fakeConn{c: c}, Opts: Options{Checks: sel, Timeout: 20 * time.Millisecond}}
	r := v.Verify(context.Background())
	d := wantStatus(t, r, "core-01", CheckDocker, Fail, "deadline")
	if !strings.Contains(d.Hint, "timeout") {
		t.Errorf("hint %q", d.Hint)
	}
}

func TestSelect(t *testing.T) {
	s, err := Select([]string{"etcd", "ssh"}, nil, false)
	if err != nil || !s[CheckEtcdWrite] || !s[CheckSSH] || s[CheckOS] || s[CheckFleetMachines] {
		t.Errorf("--only etcd,ssh: %v %v", s, err)
	}
	s, _ = Select(nil, []string{"docker", "fleet"}, true)
	if s[CheckDocker] || s[CheckFleetMachines] || s[CheckFleetUnit] || !s[CheckOS] {
		t.Errorf("--skip docker,fleet: %v", s)
	}
	s, _ = Select([]string{"fleet"}, nil, false)
	if !s[CheckFleetMachines] || s[CheckFleetUnit] {
		t.Errorf("--only fleet without --deep: %v", s)
	}
	s, _ = Select([]string{"etcd-health"}, nil, false)
	if !s[CheckSSH] || len(s) != 2 {
		t.Errorf("ssh always on: %v", s)
	}
	for _, bad := range [][2][]string{{{"nope"}, nil}, {nil, {"ssh"}}, {nil, {"etcd-x"}}} {
		if _, err := Select(bad[0], bad[1], false); err == nil {
			t.Errorf("%v: want error", bad)
		}
	}
}

// The fake's batch runner must see every command of a real BatchScript,
// or the fake tests would silently fall back to one session per command.
func TestFakeRunsBatches(t *testing.T) {
	c, _ := newFakeCluster(1)
	cmds := []string{CmdOSRelease, CmdSystemRunning, CmdEtcdGet("/k")}
	res, err := c.nodes[0].Run(context.Background(), BatchScript("n0nce", cmds))
	if err != nil {
		t.Fatal(err)
	}
	got := ParseBatch("n0nce", len(cmds), res.Stdout, res.Stderr)
	if len(got) != len(cmds) || string(got[1].Stdout) != "running\n" || !slices.Equal(c.nodes[0].ran, cmds) {
		t.Fatalf("parsed %+v; ran %q", got, c.nodes[0].ran)
	}
}

// A node whose Docker is still starting fails the kit check at once,
// saying so, instead of waiting on the socket (CmdKitImages).
func TestVerifyKitDockerNotActive(t *testing.T) {
	sel, _ := Select([]string{"kit"}, nil, false)
	c, inv := newFakeCluster(1)
	inv.Services = []string{"docker", "kit"}
	c.nodes[0].set(CmdKitImages, func() (sshx.Result, error) {
		return sshx.Result{ExitStatus: ExitDockerNotActive, Stderr: []byte("docker.service is activating\n")}, nil
	})
	r := verifyFake(t, c, inv, sel, nil)
	v := wantStatus(t, r, "core-01", CheckKit, Fail, "docker.service is activating: the kit can be read once Docker is up")
	if !strings.Contains(v.Hint, "docker check") {
		t.Errorf("hint %q", v.Hint)
	}
}

// CmdKitImages in a real shell, with systemctl and docker stand-ins on
// PATH: docker is asked only once the unit is active.
func TestCmdKitImagesGuard(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		state      string
		wantExit   int
		wantStdout string
		wantStderr string
	}{
		{"active", 0, "cododemo/hello:1\n", ""},
		{"activating", ExitDockerNotActive, "", "docker.service is activating\n"},
		{"inactive", ExitDockerNotActive, "", "docker.service is inactive\n"},
	} {
		dir := t.TempDir()
		write := func(name, body string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// systemctl is-active [--quiet] docker
		write("systemctl", `[ "$2" = --quiet ] && { [ "`+tc.state+`" = active ]; exit $?; }; echo `+tc.state+`; [ "`+tc.state+`" = active ] || exit 3`)
		write("docker", `echo cododemo/hello:1`)
		cmd := exec.Command(sh, "-c", CmdKitImages)
		cmd.Env = []string{"PATH=" + dir}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.wantExit || stdout.String() != tc.wantStdout || stderr.String() != tc.wantStderr {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.state, code, stdout.String(), stderr.String(), tc.wantExit, tc.wantStdout, tc.wantStderr)
		}
	}
}
