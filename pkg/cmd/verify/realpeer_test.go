package verify

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/cmdutil"
	"github.com/cododemo/cododemo/pkg/cmdutil/cmdtest"
	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// runCLI runs `cododemo verify args...` in-process, the way pkg/app wires
// it, and returns the exit code and the streams.
func runCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := cmdutil.Factory{Getenv: func(k string) string { return map[string]string{"HOME": dir}[k] }, WorkDir: dir}
	r := cmdtest.Run(ctx, f, append([]string{"verify"}, args...), NewCmdVerify)
	return r.Code, r.Stdout, r.Stderr
}

func verifyJSON(t *testing.T, c *testnodes.Cluster, extra ...string) (int, health.JSONReport) {
	t.Helper()
	args := append([]string{"--inventory", c.InventoryPath, "-o", "json", "--timeout", "8s", "--connect-timeout", "2s"}, extra...)
	code, out, errOut := runCLI(t, c.Dir, args...)
	var rep health.JSONReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("exit %d, output is not the JSON report: %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errOut)
	}
	return code, rep
}

func verdict(rep health.JSONReport, node, check string) (health.JSONVerdict, bool) {
	for _, v := range rep.Checks {
		if v.Node == node && v.Check == check {
			return v, true
		}
	}
	return health.JSONVerdict{}, false
}

// assertFails checks the report fails exactly where expected.
func assertFails(t *testing.T, code int, rep health.JSONReport, node, check, mention string) {
	t.Helper()
	if code != 1 || rep.Healthy {
		t.Errorf("exit %d healthy=%v, want exit 1 unhealthy", code, rep.Healthy)
	}
	v, ok := verdict(rep, node, check)
	if !ok {
		t.Fatalf("no verdict for %s/%s in %+v", node, check, rep.Checks)
	}
	if v.Status != health.Fail {
		t.Errorf("%s/%s: status %s (%s), want fail", node, check, v.Status, v.Message)
	}
	if mention != "" && !strings.Contains(v.Message, mention) {
		t.Errorf("%s/%s: message %q does not name %q", node, check, v.Message, mention)
	}
}

func TestVerifyHealthyThreeNodes(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	code, rep := verifyJSON(t, c)
	if code != 0 || !rep.Healthy {
		t.Fatalf("exit %d, report: %+v", code, rep.Checks)
	}
	if rep.SchemaVersion != 1 || len(rep.Nodes) != 3 {
		t.Errorf("schema %d nodes %v", rep.SchemaVersion, rep.Nodes)
	}
	for _, n := range c.Nodes {
		for _, check := range []string{"ssh", "os", "systemd", "docker", "etcd-member"} {
			if v, ok := verdict(rep, n.Name, check); !ok || v.Status != health.Pass {
				t.Errorf("%s/%s: %+v", n.Name, check, v)
			}
		}
	}
	for _, check := range []string{"etcd-health", "etcd-members", "etcd-leader", "etcd-write"} {
		if v, ok := verdict(rep, "cluster", check); !ok || v.Status != health.Pass {
			t.Errorf("cluster/%s: %+v", check, v)
		}
	}
	if v, _ := verdict(rep, "cluster", "fleet-machines"); v.Status != health.Skip {
		t.Errorf("fleet not in services, want skip: %+v", v)
	}
	// First contact pinned all three host keys; the second run verifies them.
	kh, err := os.ReadFile(c.KnownHostsPath)
	if err != nil || strings.Count(string(kh), "ssh-ed25519") != 3 {
		t.Fatalf("known_hosts after first run: %v\n%s", err, kh)
	}
	if code, rep := verifyJSON(t, c, "--no-pin"); code != 0 {
		t.Errorf("second run against pinned keys: exit %d %+v", code, rep.Checks)
	}
	// Table output names every node and says HEALTHY.
	code, out, _ := runCLI(t, c.Dir, "--inventory", c.InventoryPath, "--only", "ssh,os")
	if code != 0 || !strings.Contains(out, "HEALTHY") || !strings.Contains(out, "core-03") || strings.Contains(out, "etcd-write") {
		t.Errorf("table, --only ssh,os: exit %d\n%s", code, out)
	}
}

func TestVerifyEtcdMemberKilled(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	c.Node("core-02").KillEtcd()
	code, rep := verifyJSON(t, c)
	assertFails(t, code, rep, "core-02", "etcd-member", "")
	assertFails(t, code, rep, "cluster", "etcd-health", "core-02")
	for _, n := range []string{"core-01", "core-03"} {
		if v, _ := verdict(rep, n, "etcd-member"); v.Status != health.Pass {
			t.Errorf("%s/etcd-member: %+v", n, v)
		}
	}
	// Two of three members keep quorum, so the read-back fails on core-02
	// only, unless the dead member was the leader and the write itself
	// met the election: either way etcd-write fails.
	assertFails(t, code, rep, "cluster", "etcd-write", "")
}

// The cluster checks run from core-01; its member dying must not blind
// them: they reach every member's endpoint and name core-01.
func TestVerifyRunnersOwnMemberKilled(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	c.Node("core-01").KillEtcd()
	// core-01's member may have been the leader: let the survivors finish
	// their election, or every member reads as unhealthy meanwhile.
	for _, n := range []string{"core-02", "core-03"} {
		if err := c.Node(n).WaitEtcdHealthy(20 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	code, rep := verifyJSON(t, c)
	assertFails(t, code, rep, "core-01", "etcd-member", "")
	assertFails(t, code, rep, "cluster", "etcd-health", "core-01 (http://")
	if v, _ := verdict(rep, "cluster", "etcd-members"); v.Status != health.Pass {
		t.Errorf("etcd-members with core-01's member down but listed: %+v", v)
	}
	if v, _ := verdict(rep, "cluster", "etcd-health"); strings.Contains(v.Message, "core-02") || strings.Contains(v.Message, "core-03") {
		t.Errorf("etcd-health blames live members: %s", v.Message)
	}
}

func TestVerifySSHDStoppedIsUnreachableNotAHang(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	c.Node("core-03").StopSSHD()
	t0 := time.Now()
	code, rep := verifyJSON(t, c)
	assertFails(t, code, rep, "core-03", "ssh", "unreachable")
	if v, _ := verdict(rep, "core-03", "etcd-member"); v.Status != health.Skip {
		t.Errorf("core-03/etcd-member after failed ssh: %+v", v)
	}
	t.Logf("refused: reported in %s", time.Since(t0))
}

func TestVerifySSHDFrozenTimesOut(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	c.Node("core-01").FreezeSSHD()
	code, rep := verifyJSON(t, c, "--connect-timeout", "1s")
	assertFails(t, code, rep, "core-01", "ssh", "unreachable")
	// The cluster checks ran from another node.
	if v, _ := verdict(rep, "cluster", "etcd-members"); v.Status != health.Pass {
		t.Errorf("cluster/etcd-members with core-01's sshd frozen: %+v", v)
	}
}

func TestVerifyChangedHostKey(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	if code, rep := verifyJSON(t, c, "--only", "ssh"); code != 0 {
		t.Fatalf("pinning run: exit %d %+v", code, rep.Checks)
	}
	if err := c.Node("core-02").ChangeHostKey(); err != nil {
		t.Fatal(err)
	}
	code, rep := verifyJSON(t, c)
	assertFails(t, code, rep, "core-02", "ssh", "HOST KEY CHANGED")
	v, _ := verdict(rep, "core-02", "ssh")
	if !strings.Contains(v.Message, "core-02") || !strings.Contains(v.Hint, "known_hosts") {
		t.Errorf("changed key verdict must name the node and the file: %+v", v)
	}
	// The insecure flag gets past it, and says so loudly.
	code, _, errOut := runCLI(t, c.Dir, "--inventory", c.InventoryPath, "--only", "ssh", "--insecure-skip-host-key-check")
	if code != 0 || !strings.Contains(errOut, "NOT verified") {
		t.Errorf("--insecure-skip-host-key-check: exit %d stderr %q", code, errOut)
	}
}

func TestVerifyMissingMember(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3, MissingMembers: 1})
	code, rep := verifyJSON(t, c)
	assertFails(t, code, rep, "cluster", "etcd-members", "core-03")
	assertFails(t, code, rep, "cluster", "etcd-health", "core-03")
	assertFails(t, code, rep, "core-03", "etcd-member", "")
}

func TestVerifyNodeFaults(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	n := c.Node("core-02")
	must(t, n.SetSystemState("degraded"))
	must(t, n.SetUnit("locksmithd.service", "failed", "locksmithd: cannot reach etcd", "locksmithd.service: Failed with result 'exit-code'."))
	must(t, c.Node("core-03").SetUnit("docker.service", "inactive"))
	must(t, c.Node("core-01").WriteFile("/etc/os-release", strings.ReplaceAll(testnodes.FlatcarOSRelease, "4593.2.5", "4459.2.1")))
	code, rep := verifyJSON(t, c, "--skip", "etcd")
	assertFails(t, code, rep, "core-02", "systemd", "locksmithd.service")
	if v, _ := verdict(rep, "core-02", "systemd"); !strings.Contains(v.Message, "cannot reach etcd") {
		t.Errorf("degraded verdict lacks the journal excerpt: %q", v.Message)
	}
	assertFails(t, code, rep, "core-03", "docker", "inactive")
	// No lock here, so the version is not compared; the hand-written
	// inventory can pin one.
	if v, _ := verdict(rep, "core-01", "os"); v.Status != health.Pass {
		t.Errorf("core-01/os without expectation: %+v", v)
	}
	if _, ok := verdict(rep, "cluster", "etcd-write"); ok {
		t.Errorf("--skip etcd still ran etcd-write")
	}
}

func TestVerifyUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--only", "nosuch"},
		{"--skip", "ssh"},
		{"-o", "yaml"},
		{"--inventory", "missing.yaml"},
		{"--parallel", "0", "--inventory", "x"},
		{"extra-arg"},
	} {
		if code, _, errOut := runCLI(t, dir, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	// No lab, no inventory: a configuration error that says what to do.
	code, _, errOut := runCLI(t, dir)
	if code != 2 || !strings.Contains(errOut, "--inventory") {
		t.Errorf("no lab: exit %d %q", code, errOut)
	}
	must(t, os.WriteFile(dir+"/bad.yaml", []byte("nodes:\n  - name: a\n    adress: 10.0.0.1\n"), 0o644))
	code, _, errOut = runCLI(t, dir, "--inventory", "bad.yaml")
	if code != 2 || !strings.Contains(errOut, "bad.yaml:3") {
		t.Errorf("bad inventory: exit %d %q", code, errOut)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
