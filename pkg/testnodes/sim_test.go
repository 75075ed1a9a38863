package testnodes

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// The simulated nodes pass a whole verify over real SSH (their answers are
// what health parses from real nodes), refuse a key that is not the lab's,
// and leave no probe key behind.
func TestSimulatedNodesVerifyHealthy(t *testing.T) {
	c := StartSim(t, SimOptions{Nodes: 5, Latency: Latency{File: time.Microsecond, Systemd: time.Microsecond, Etcdctl: time.Microsecond, Cluster: time.Microsecond}})
	conn := &health.SSHConnector{Base: sshx.Config{HostKeys: sshx.NewKnownHosts(c.KnownHostsPath), Timeout: 3 * time.Second}}
	defer conn.Close()
	rep := (&health.Verifier{Inv: c.Inventory, Conn: conn, Opts: health.Options{Timeout: 5 * time.Second}}).Verify(context.Background())
	if !rep.Healthy() || rep.Count(health.Pass) != 5*5+4 {
		t.Fatalf("report: healthy %v, %d pass: %+v", rep.Healthy(), rep.Count(health.Pass), rep.Verdicts)
	}
	for _, v := range rep.Verdicts {
		if v.Check == health.CheckEtcdWrite && !strings.Contains(v.Message, "read back on 5 nodes") {
			t.Errorf("etcd-write: %s", v.Message)
		}
	}
	// Host keys were pinned on first contact: a second run checks them.
	rep = (&health.Verifier{Inv: c.Inventory, Conn: conn, Opts: health.Options{Timeout: 5 * time.Second}}).Verify(context.Background())
	if !rep.Healthy() {
		t.Fatalf("second run: %+v", rep.Verdicts)
	}

	other := t.TempDir() + "/other_ed25519"
	if _, err := writeKey(other); err != nil {
		t.Fatal(err)
	}
	n := c.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := sshx.Dial(ctx, n.Name, c.Inventory.Nodes[0].SSH.Addr(), sshx.Config{User: c.User, IdentityFile: other,
		HostKeys: sshx.NewKnownHosts(c.KnownHostsPath), Timeout: 2 * time.Second}); err == nil {
		t.Fatal("a key that is not the lab's logged in")
	}
}
