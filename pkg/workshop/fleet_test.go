package workshop

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/sshx"
)

// fakeFleet answers fleetctl the way fleet v1.0.0 prints (machine column
// "<id>/<ip>"), and records every command. The stand-ins have no fleet;
// the real thing runs in the e2e tier.
type fakeFleet struct {
	mu    sync.Mutex
	units string // list-units output
	cmds  []string
}

func (f *fakeFleet) Connect(_ context.Context, n inventory.Node) (health.Session, error) {
	return fakeSession{f: f, node: n.Name}, nil
}

type fakeSession struct {
	f    *fakeFleet
	node string
}

func (s fakeSession) Run(_ context.Context, cmd string) (sshx.Result, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.cmds = append(s.f.cmds, s.node+": "+cmd)
	switch {
	case strings.HasPrefix(cmd, "fleetctl list-units"):
		return sshx.Result{Stdout: []byte(s.f.units)}, nil
	case strings.HasPrefix(cmd, "fleetctl list-machines"):
		return sshx.Result{Stdout: []byte("aaaa1111\t10.0.0.11\t-\nbbbb2222\t10.0.0.12\t-\ncccc3333\t10.0.0.13\t-\n")}, nil
	case cmd == "hostname":
		return sshx.Result{Stdout: []byte(s.node + "\n")}, nil
	}
	return sshx.Result{}, nil
}

func fakeInventory() *inventory.Inventory {
	inv := &inventory.Inventory{Services: []string{"etcd", "fleet", "docker"}}
	for i := 1; i <= 3; i++ {
		inv.Nodes = append(inv.Nodes, inventory.Node{Name: fmt.Sprintf("core-%02d", i), Address: fmt.Sprintf("10.0.0.1%d", i),
			SSH: inventory.SSH{Host: "127.0.0.1", Port: 2200 + i, User: "core"}})
	}
	return inv
}

func TestFleetTargetsAndAssertions(t *testing.T) {
	ff := &fakeFleet{units: "lb.service\tactive\taaaa1111/10.0.0.11\n" +
		"web@8081.service\tactive\taaaa1111/10.0.0.11\n" +
		"web@8082.service\tactive\tbbbb2222/10.0.0.12\n" +
		"web@8083.service\tinactive\t-\n"}
	e := &Engine{Cluster: NewCluster(fakeInventory()), Conn: ff}
	e.defaults()
	st := newState()
	for on, want := range map[string]string{
		"unit lb.service":                "core-01",
		"unit web@*.service":             "core-01",
		"unit web@*.service !lb.service": "core-02",
		"unit web@8082.service":          "core-02",
		"not unit web@8081.service":      "core-02",
		"not unit lb.service":            "core-02",
		"not unit web@*.service":         "core-03", // web@8083 is not active
	} {
		nodes, err := e.targets(context.Background(), st, on, PhaseStep)
		if err != nil || len(nodes) != 1 || nodes[0].Name != want {
			t.Errorf("%s: %v %v, want %s", on, nodes, err, want)
		}
	}
	units := ff.units
	ff.units += "x.service\tactive\tcccc3333/10.0.0.13\n"
	if _, err := e.targets(context.Background(), st, "not unit *.service", PhaseStep); err == nil || !strings.Contains(err.Error(), "every node runs an active *.service") {
		t.Errorf("no node without a unit: %v", err)
	}
	ff.units = units
	if _, err := e.targets(context.Background(), st, "unit web@8083.service", PhaseStep); err == nil || !strings.Contains(err.Error(), "no node runs an active web@8083.service") {
		t.Errorf("inactive unit: %v", err)
	}

	ex, err := Parse("f.yaml", []byte(`
id: f
source: new
steps:
  - name: victim
    on: unit web@*.service !lb.service
    run: hostname
    as: victim
  - name: spread
    on: node 1
    fleet: {units: web@*.service}
    expect: {select: '^web@\S+ active (\S+)$', distinct: 2, count: 2, absent: '{{ (node "@victim").Name }}x'}
  - name: machines
    fleet: {machines: true}
    expect: {every_node: true}
  - name: not moved yet
    on: node 1
    fleet: {units: web@*.service}
    expect: {select: '^web@\S+ active (\S+)$', absent: '{{ (node "@victim").Name }}'}
`))
	if err != nil {
		t.Fatal(err)
	}
	confirmed := 0
	e.Opts.Confirm = func(string) bool { confirmed++; return true }
	res := e.Run(context.Background(), ex)
	if s := stepByName(res, PhaseStep, "victim"); s.Node != "core-02" || s.Status != health.Pass {
		t.Errorf("victim: %+v", s)
	}
	for _, name := range []string{"spread", "machines"} {
		if s := stepByName(res, PhaseStep, name); s.Status != health.Pass {
			t.Errorf("%s: %+v", name, s)
		}
	}
	// The unit is still on the victim: the expectation names what is wrong.
	s := stepByName(res, PhaseStep, "not moved yet")
	if s.Status != health.Fail || !strings.Contains(s.Message, `output matches "core-02", which must not be there`) {
		t.Errorf("not moved: %+v", s)
	}
	if confirmed != 0 {
		t.Error("asked about a step that is not disruptive")
	}
}

// TestConfirmAsksBeforeDisruptive: a declined disruptive step stops the
// exercise before it; an accepted one runs.
func TestConfirmAsksBeforeDisruptive(t *testing.T) {
	ex, err := Parse("d.yaml", []byte("id: d\nsource: new\nsteps:\n  - {name: halt, on: node 2, lab: halt}\n  - {name: after, run: hostname}\n"))
	if err != nil {
		t.Fatal(err)
	}
	lab := &recordLab{}
	e := &Engine{Cluster: NewCluster(fakeInventory()), Conn: &fakeFleet{}, Lab: lab}
	var asked []string
	e.Opts.Confirm = func(q string) bool { asked = append(asked, q); return false }
	if res := e.Run(context.Background(), ex); res.Status != health.Skip || len(lab.calls) != 0 || len(asked) != 1 ||
		!strings.Contains(asked[0], `step "halt" is disruptive (halt node 2)`) {
		t.Errorf("declined: %s calls %v asked %q", res.Status, lab.calls, asked)
	}
	e.Opts.Confirm = func(string) bool { return true }
	if res := e.Run(context.Background(), ex); res.Status != health.Pass || strings.Join(lab.calls, ",") != "halt core-02" {
		t.Errorf("accepted: %s %+v calls %v", res.Status, res.Steps, lab.calls)
	}
	// Not a cododemo lab: the halt fails saying so.
	e.Lab = nil
	e.Opts.Disruptive = true
	res := e.Run(context.Background(), ex)
	if s := stepByName(res, PhaseStep, "halt"); s.Status != health.Fail || !strings.Contains(s.Message, "not a cododemo lab") {
		t.Errorf("no lab: %+v", s)
	}
}

type recordLab struct{ calls []string }

func (l *recordLab) Halt(_ context.Context, n string) error {
	l.calls = append(l.calls, "halt "+n)
	return nil
}
func (l *recordLab) Up(_ context.Context, n string) error {
	l.calls = append(l.calls, "up "+n)
	return nil
}
