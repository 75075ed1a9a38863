package workshop

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/sshx"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// engine returns an engine on real sshd + etcd stand-ins.
func engine(t testing.TB, c *testnodes.Cluster, out *bytes.Buffer) *Engine {
	conn := &health.SSHConnector{Base: sshx.Config{HostKeys: sshx.NewKnownHosts(c.KnownHostsPath), Timeout: 5 * time.Second}}
	e := &Engine{Cluster: NewCluster(c.Inventory), Conn: conn, Opts: Options{Timeout: 10 * time.Second, Poll: 200 * time.Millisecond}}
	if out != nil {
		e.Opts.Out = out
	}
	t.Cleanup(func() { e.Close(); conn.Close() })
	return e
}

func builtIn(t testing.TB, id string) *Exercise {
	set, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	return set.Get(id)
}

// etcdGet reads a key with etcdctl on the host, through node n's member.
func etcdGet(t *testing.T, c *testnodes.Cluster, n *testnodes.Node, key string) string {
	t.Helper()
	e := engine(t, c, nil)
	e.defaults()
	o := e.remote(context.Background(), n.Name, "etcdctl get --print-value-only "+key, false, false)
	if o.err != nil || o.exit != 0 {
		t.Fatalf("etcdctl get on %s: %v exit %d %s", n.Name, o.err, o.exit, o.stderr)
	}
	return strings.TrimSpace(o.raw)
}

func stepByName(r *Result, phase, name string) *StepResult {
	for i := range r.Steps {
		if r.Steps[i].Phase == phase && r.Steps[i].Step == name {
			return &r.Steps[i]
		}
	}
	return nil
}

func TestEtcdReplicationOnStandIns(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	var out bytes.Buffer
	e := engine(t, c, &out)
	res := e.Run(context.Background(), builtIn(t, "etcd-replication"))
	t.Log(out.String())
	if res.Status != health.Pass {
		t.Fatalf("E3: %s: %+v", res.Status, res.Steps)
	}
	for _, want := range []string{
		"$ [core-01] etcdctl put mykey \"this is awesome\"", "core-01 | OK",
		"core-02 | this is awesome", "-- gone everywhere (all)", "-- cleanup",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("presenter output lacks %q", want)
		}
	}
	if s := stepByName(res, PhaseStep, "leader"); s == nil || !strings.Contains(s.Message, "core-0") {
		t.Errorf("leader step: %+v", s)
	}
	if got := etcdGet(t, c, c.Nodes[2], "mykey"); got != "" {
		t.Errorf("mykey left behind: %q", got)
	}
}

// TestMemberKilledMidExercise: core-02's member dies after the key was
// written; the step reading on core-02 fails, names core-02, and the hint
// names the dead member; cleanup still removes the key through the
// others.
func TestMemberKilledMidExercise(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	e := engine(t, c, nil)
	e.Opts.Pause = func(_ *Exercise, s *Step) bool {
		if s.Name == "read on another node" {
			c.Node("core-02").KillEtcd()
		}
		return true
	}
	ex := builtIn(t, "etcd-replication")
	res := e.Run(context.Background(), ex)
	if res.Status != health.Fail {
		t.Fatalf("status %s, want fail: %+v", res.Status, res.Steps)
	}
	var failed *StepResult
	for i := range res.Steps {
		if res.Steps[i].Status == health.Fail {
			failed = &res.Steps[i]
			break
		}
	}
	t.Logf("failed: %+v", failed)
	if failed == nil || failed.Step != "read on another node" || failed.Node != "core-02" {
		t.Fatalf("first failure %+v, want step \"read on another node\" on core-02", failed)
	}
	if !strings.Contains(failed.Hint, "core-02 (http://"+c.Node("core-02").Addr) {
		t.Errorf("hint does not name the dead member: %q", failed.Hint)
	}
	if s := stepByName(res, PhaseCleanup, "delete mykey"); s == nil || s.Status != health.Pass {
		t.Errorf("cleanup: %+v", s)
	}
	if got := etcdGet(t, c, c.Nodes[0], "mykey"); got != "" {
		t.Errorf("mykey left behind: %q", got)
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, &Report{Results: []*Result{res}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"step": "read on another node"`) || !strings.Contains(js.String(), `"passed": false`) {
		t.Errorf("json: %s", js.String())
	}
}

// TestInterruptRunsCleanup: Ctrl-C after the put; the cleanup removes
// the key anyway.
func TestInterruptRunsCleanup(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	e := engine(t, c, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.Opts.Pause = func(_ *Exercise, s *Step) bool {
		if s.Name == "not a v2 key" {
			if got := etcdGet(t, c, c.Nodes[2], "mykey"); got != "this is awesome" {
				t.Errorf("before the interrupt: %q", got)
			}
			cancel()
		}
		return true
	}
	res := e.Run(ctx, builtIn(t, "etcd-replication"))
	if res.Status != health.Fail {
		t.Errorf("interrupted run: %s", res.Status)
	}
	if s := stepByName(res, PhaseStep, "not a v2 key"); s == nil || !strings.Contains(s.Message, "interrupted") {
		t.Errorf("step after the interrupt: %+v", s)
	}
	if got := etcdGet(t, c, c.Nodes[2], "mykey"); got != "" {
		t.Errorf("mykey left behind after the interrupt: %q", got)
	}
}

func TestCheckAndReset(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	e := engine(t, c, nil)
	ex := builtIn(t, "etcd-replication")
	reached, results := e.Check(context.Background(), ex)
	if reached != 1 || len(results) != 2 || !strings.Contains(results[1].Message, `want "this is awesome", got ""`) {
		t.Fatalf("fresh cluster: reached %d: %+v", reached, results)
	}
	e.defaults()
	if o := e.remote(context.Background(), "core-01", "etcdctl put mykey 'this is awesome'", false, false); o.exit != 0 {
		t.Fatal(o.stderr)
	}
	if reached, results = e.Check(context.Background(), ex); reached != 3 {
		t.Fatalf("after the put: reached %d: %+v", reached, results)
	}
	for _, sr := range e.Reset(context.Background(), ex) {
		if sr.Status != health.Pass {
			t.Errorf("reset: %+v", sr)
		}
	}
	if got := etcdGet(t, c, c.Nodes[1], "mykey"); got != "" {
		t.Errorf("reset left mykey: %q", got)
	}
}

// standInLab halts a stand-in node the way a graceful halt looks from
// outside: its etcd member and sshd stop. Up brings SSH back.
type standInLab struct {
	c     *testnodes.Cluster
	calls []string
}

func (l *standInLab) Halt(_ context.Context, node string) error {
	l.calls = append(l.calls, "halt "+node)
	l.c.Node(node).KillEtcd()
	l.c.Node(node).StopSSHD()
	return nil
}

func (l *standInLab) Up(_ context.Context, node string) error {
	l.calls = append(l.calls, "up "+node)
	return l.c.Node(node).StartSSHD()
}

// TestHaltKeepsQuorumWithProbe runs a disruptive exercise on the
// stand-ins: a node named by an earlier step is halted, etcd keeps quorum
// and one leader without it, the probe keeps being answered, the node
// comes back over SSH (sessions dialled again).
func TestHaltKeepsQuorumWithProbe(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer web.Close()
	ex, err := Parse("quorum.yaml", []byte(fmt.Sprintf(`
id: quorum
source: new
needs: [etcd]
probe: {url: '%s/', every: 20ms, min_percent: 100, after: pick}
steps:
  - {name: pick, on: node 3, run: hostname, as: victim}
  - {name: halt, on: '@victim', lab: halt}
  - name: quorum
    on: node 1
    etcd: {health: true}
    expect: {count: 2, absent: '{{ (node "@victim").Name }}'}
    retry: 10s
  - {name: one leader, on: node 2, etcd: {leader: true}, expect: {distinct: 1, count: 2}}
  - {name: write, on: node 1, run: etcdctl put quorum-key yes, expect: {exact: OK}}
  - {name: up, on: '@victim', lab: up}
  - {name: ssh back, on: '@victim', run: echo back, expect: {exact: back}, retry: 10s}
cleanup:
  - {name: del, on: node 1, run: etcdctl del quorum-key}
`, web.URL)))
	if err != nil {
		t.Fatal(err)
	}
	if !ex.IsDisruptive() {
		t.Fatal("a lab step makes the exercise disruptive")
	}
	lab := &standInLab{c: c}
	e := engine(t, c, nil)
	e.Lab = lab

	// Without --disruptive and nobody to ask, the halt is not run.
	res := e.Run(context.Background(), ex)
	if s := stepByName(res, PhaseStep, "halt"); res.Status != health.Skip || s == nil || s.Status != health.Skip || len(lab.calls) != 0 {
		t.Fatalf("not disruptive: %s %+v calls %v", res.Status, res.Steps, lab.calls)
	}

	e.Opts.Disruptive = true
	res = e.Run(context.Background(), ex)
	if res.Status != health.Pass {
		t.Fatalf("%s: %+v", res.Status, res.Steps)
	}
	if strings.Join(lab.calls, ",") != "halt core-03,up core-03" {
		t.Errorf("lab calls %v", lab.calls)
	}
	p := stepByName(res, PhaseProbe, "probe "+web.URL+"/")
	if p == nil || p.Status != health.Pass || p.Tries < 2 || !strings.Contains(p.Message, "(100.0%)") {
		t.Errorf("probe: %+v", p)
	}
	if s := stepByName(res, PhaseStep, "quorum"); !strings.Contains(s.Message, "core-01; core-02") {
		t.Errorf("quorum: %q", s.Message)
	}
}

func TestHandoutHasRealNames(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 3})
	cl := NewCluster(c.Inventory)
	set, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range set.Exercises {
		for _, md := range []bool{false, true} {
			var b bytes.Buffer
			if err := cl.WriteHandout(&b, ex, md); err != nil {
				t.Fatalf("%s: %v", ex.ID, err)
			}
			if ex.ID == "etcd-replication" && md {
				h := b.String()
				t.Log(h)
				for _, want := range []string{"## 4. read on another node", "On core-02 (" + c.Node("core-02").Addr + ")",
					"curl -s http://" + c.Node("core-02").Addr, "Expect: exactly `this is awesome` (may take up to 5s)"} {
					if !strings.Contains(h, want) {
						t.Errorf("handout lacks %q", want)
					}
				}
			}
			if ex.ID == "fleet-web" && !md && !strings.Contains(b.String(), "ExecStart=/usr/bin/docker run --pull=never --rm --name web-%i -p %i:8080 cododemo/web:1") {
				t.Errorf("fleet-web handout lacks the filled unit file:\n%s", b.String())
			}
		}
	}
	// An image outside the kit is refused, naming what the kit has: a
	// node would have to pull it.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "zz-pull.yaml"), []byte("id: pull\nsource: new\nsteps: [{run: 'docker run {{ image \"nginx\" }}'}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	own, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = cl.WriteHandout(io.Discard, own.Get("pull"), false)
	if err == nil || !strings.Contains(err.Error(), `image "nginx" is not in the image kit (cododemo/hello:1, cododemo/web:1, cododemo/lb:1)`) {
		t.Errorf("image outside the kit: %v", err)
	}
}
