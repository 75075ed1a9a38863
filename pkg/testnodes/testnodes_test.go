package testnodes

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/sshx"
)

func dial(t *testing.T, c *Cluster, n *Node) *sshx.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := sshx.Dial(ctx, n.Name, n.Addr+":"+strconv.Itoa(n.SSHPort), sshx.Config{
		User: c.User, IdentityFile: c.IdentityFile, HostKeys: sshx.NewKnownHosts(c.KnownHostsPath), Timeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func TestNodesAreDistinctAndFormOneCluster(t *testing.T) {
	c := Start(t, Options{Nodes: 3})
	ctx := context.Background()
	for _, n := range c.Nodes {
		cl := dial(t, c, n)
		res, err := cl.Run(ctx, `echo "$CODODEMO_ROOT|$ETCDCTL_ENDPOINTS"; command -v systemctl; systemctl is-system-running`)
		if err != nil {
			t.Fatal(err)
		}
		out := string(res.Stdout)
		t.Logf("%s: %s", n.Name, out)
		if !strings.Contains(out, n.Root+"|http://"+n.Addr) || !strings.Contains(out, "running") || !strings.HasPrefix(strings.Split(out, "\n")[1], c.Dir) {
			t.Errorf("%s: session environment not per node: %q", n.Name, out)
		}
	}
	cl := dial(t, c, c.Nodes[0])
	for _, cmd := range []string{
		"etcdctl endpoint health --cluster -w json",
		"etcdctl member list -w json",
		"etcdctl endpoint status --cluster -w json",
		"etcdctl endpoint health -w json",
	} {
		res, err := cl.Run(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s -> %d\n%s\n%s", cmd, res.ExitStatus, res.Stdout, res.Stderr)
		if res.ExitStatus != 0 {
			t.Errorf("%s: exit %d: %s", cmd, res.ExitStatus, res.Stderr)
		}
	}
	if got := strings.Count(mustRun(t, cl, "etcdctl member list"), "started"); got != 3 {
		t.Errorf("member list: %d started members, want 3", got)
	}
}

func mustRun(t *testing.T, cl *sshx.Client, cmd string) string {
	t.Helper()
	res, err := cl.Run(context.Background(), cmd)
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("%s: %v exit %d %s", cmd, err, res.ExitStatus, res.Stderr)
	}
	return string(res.Stdout)
}
