package vagrant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/exec"
)

func machines(states ...string) []Machine {
	var out []Machine
	for i, s := range states {
		out = append(out, Machine{Name: fmt.Sprintf("core-%02d", i+1), State: State(s)})
	}
	return out
}

func TestPlanUp(t *testing.T) {
	tests := []struct {
		name     string
		status   []Machine
		want     []string
		provider string
		serial   bool
		plan     UpPlan
	}{
		{
			name: "virtualbox chains creations", provider: "virtualbox",
			status: machines("not_created", "not_created", "not_created"),
			plan: UpPlan{Steps: []UpStep{
				{Name: "core-01", Create: true},
				{Name: "core-02", Create: true, After: "core-01"},
				{Name: "core-03", Create: true, After: "core-02"},
			}},
		},
		{
			name: "libvirt waits for the first upload only", provider: "libvirt",
			status: machines("not_created", "not_created", "not_created"),
			plan: UpPlan{Steps: []UpStep{
				{Name: "core-01", Create: true},
				{Name: "core-02", Create: true, After: "core-01"},
				{Name: "core-03", Create: true, After: "core-01"},
			}},
		},
		{
			name: "second up brings up only what is missing", provider: "virtualbox",
			status: machines("running", "poweroff", "not_created", "aborted"),
			plan: UpPlan{Running: []string{"core-01"}, Steps: []UpStep{
				{Name: "core-03", Create: true},
				{Name: "core-02"},
				{Name: "core-04"},
			}},
		},
		{
			name: "named nodes only, duplicates once", provider: "virtualbox",
			status: machines("not_created", "not_created", "not_created"),
			want:   []string{"core-03", "core-01", "core-03"},
			plan: UpPlan{Steps: []UpStep{
				{Name: "core-03", Create: true},
				{Name: "core-01", Create: true, After: "core-03"},
			}},
		},
		{
			name: "serial waits for each end", provider: "libvirt", serial: true,
			status: machines("not_created", "shutoff", "not_created"),
			plan: UpPlan{Steps: []UpStep{
				{Name: "core-01", Create: true},
				{Name: "core-03", Create: true, After: "core-01", AfterDone: true},
				{Name: "core-02", After: "core-03", AfterDone: true},
			}},
		},
		{
			name: "all running: nothing to do", provider: "virtualbox",
			status: machines("running", "running"),
			plan:   UpPlan{Running: []string{"core-01", "core-02"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PlanUp(tt.status, tt.want, tt.provider, tt.serial)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.plan) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.plan)
			}
		})
	}
	_, err := PlanUp(machines("running"), []string{"core-09"}, "virtualbox", false)
	if err == nil || err.Error() != "core-09: not a node of this lab (nodes: core-01)" {
		t.Fatalf("unknown node: %v", err)
	}
}

// scriptRunner is a unit-tier Runner whose `vagrant up NODE` writes
// VirtualBox-like messages as a real one would, line by line, waiting on
// a per-node channel between import and boot so a test controls timing.
type scriptRunner struct {
	mu      sync.Mutex
	events  []string
	release map[string]chan struct{} // closed: the node's import may end
	fail    map[string]string        // node -> error-exit class
	status  string
}

func (s *scriptRunner) log(e string) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *scriptRunner) Run(ctx context.Context, c exec.Cmd) error {
	if c.Args[0] == "status" {
		_, _ = io.WriteString(c.Stdout, s.status)
		return nil
	}
	node := c.Args[len(c.Args)-1]
	w := func(msg string) { _, _ = fmt.Fprintf(c.Stdout, "1,%s,ui,info,==> %s: %s\n", node, node, msg) }
	_, _ = fmt.Fprintf(c.Stdout, "1,,ui,info,Bringing machine '%s' up with 'virtualbox' provider...\n", node)
	create := strings.Contains(s.status, node+",state,not_created")
	if create {
		s.log("import-start " + node)
		w("Importing base box 'flatcar-stable'...")
		select {
		case <-s.release[node]:
		case <-ctx.Done():
			s.log("cancelled " + node)
			return &exec.RunError{Command: c.String(), Err: ctx.Err()}
		}
		if typ := s.fail[node]; typ == "import" {
			_, _ = fmt.Fprintf(c.Stdout, "1,,error-exit,Vagrant::Errors::VMImportFailure,The VM import failed!\n")
			s.log("import-failed " + node)
			return &exec.RunError{Command: c.String(), Err: errors.New("exit status 1")}
		}
		s.log("import-end " + node)
		w("Matching MAC address for NAT networking...")
	}
	w("Booting VM...")
	if s.fail[node] == "boot" {
		_, _ = fmt.Fprintf(c.Stdout, "1,,error-exit,Vagrant::Errors::VMBootTimeout,Timed out while waiting for the machine to boot.\n")
		return &exec.RunError{Command: c.String(), Err: errors.New("exit status 1")}
	}
	w("Machine booted and ready!")
	s.log("up " + node)
	return nil
}

func statusCSV(ms []Machine) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "1,%s,state,%s\n", m.Name, m.State)
	}
	return b.String()
}

func TestUpSerializesVirtualBoxImports(t *testing.T) {
	r := &scriptRunner{
		status:  statusCSV(machines("not_created", "not_created", "running")),
		release: map[string]chan struct{}{"core-01": make(chan struct{}), "core-02": make(chan struct{})},
	}
	d := &Driver{Runner: r, Dir: "/lab"}
	var mu sync.Mutex
	phases := map[string][]Phase{}
	logs := map[string]*strings.Builder{}
	done := make(chan error)
	go func() {
		done <- d.Up(context.Background(), UpOptions{
			Provider: "virtualbox",
			Out: func(m string) io.Writer {
				mu.Lock()
				defer mu.Unlock()
				if logs[m] == nil {
					logs[m] = &strings.Builder{}
				}
				return syncWriter{&mu, logs[m]}
			},
			OnPhase: func(m string, p Phase) {
				mu.Lock()
				phases[m] = append(phases[m], p)
				mu.Unlock()
			},
		})
	}()
	waitEvent(t, r, "import-start core-01")
	// core-02 must not start importing while core-01 imports.
	time.Sleep(50 * time.Millisecond)
	if has(r, "import-start core-02") {
		t.Fatal("core-02 import started during core-01's import")
	}
	close(r.release["core-01"])
	waitEvent(t, r, "import-start core-02")
	close(r.release["core-02"])
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	ev := strings.Join(r.events, "\n")
	r.mu.Unlock()
	if strings.Contains(ev, "core-03") {
		t.Fatalf("running core-03 was brought up again:\n%s", ev)
	}
	want := []Phase{PhaseStarting, PhaseImport, PhaseConfigure, PhaseBoot, PhaseSetup, PhaseDone}
	if !reflect.DeepEqual(phases["core-01"], want) {
		t.Fatalf("core-01 phases %v, want %v", phases["core-01"], want)
	}
	if !strings.HasPrefix(logs["core-02"].String(), "Bringing machine 'core-02' up with 'virtualbox' provider...\nImporting base box") {
		t.Fatalf("core-02 log:\n%s", logs["core-02"])
	}
}

type syncWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func has(r *scriptRunner, e string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.events {
		if x == e {
			return true
		}
	}
	return false
}

func waitEvent(t *testing.T, r *scriptRunner, e string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if has(r, e) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %q; events %v", e, r.events)
}

func TestUpFailuresNameTheNode(t *testing.T) {
	closed := make(chan struct{})
	close(closed)
	r := &scriptRunner{
		status:  statusCSV(machines("not_created", "not_created", "poweroff")),
		release: map[string]chan struct{}{"core-01": closed, "core-02": closed},
		fail:    map[string]string{"core-01": "import", "core-03": "boot"},
	}
	d := &Driver{Runner: r, Dir: "/lab"}
	err := d.Up(context.Background(), UpOptions{Provider: "virtualbox"})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		"core-01: vagrant up: The VM import failed! [VMImportFailure]\nhint: VirtualBox could not import",
		"core-02: vagrant up: not started: core-01 failed before its import finished",
		"core-03: vagrant up: Timed out while waiting for the machine to boot. [VMBootTimeout]",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if !IsType(err, "VMImportFailure") || !IsType(err, "VMBootTimeout") {
		t.Error("typed errors lost in the join")
	}
	if has(r, "import-start core-02") {
		t.Error("core-02 imported after core-01's import failed")
	}
}

func TestUpCancelStopsWaitingSteps(t *testing.T) {
	r := &scriptRunner{
		status:  statusCSV(machines("not_created", "not_created")),
		release: map[string]chan struct{}{"core-01": make(chan struct{}), "core-02": make(chan struct{})},
	}
	d := &Driver{Runner: r, Dir: "/lab"}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Up(ctx, UpOptions{Provider: "virtualbox"}) }()
	waitEvent(t, r, "import-start core-01")
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if !has(r, "cancelled core-01") || has(r, "import-start core-02") {
		t.Fatalf("events %v", r.events)
	}
}

func TestDriverCommands(t *testing.T) {
	testdataT := func(name string) []byte { return testdata(t, name) }
	fake := &exec.Fake{Handler: func(c exec.Cmd) (string, error) {
		switch c.Args[0] {
		case "--version":
			return "Vagrant 2.3.4\n", nil
		case "box":
			return string(testdataT("box-list.csv")), nil
		case "ssh-config":
			return string(testdataT("ssh-config-not-ready.csv")), errors.New("exit status 1")
		case "halt":
			return "1,core-02,ui,info,==> core-02: Attempting graceful shutdown of VM...\n", nil
		}
		return "", nil
	}}
	env := map[string]string{"VAGRANT_HOME": "/tmp/vh"}
	d := &Driver{Runner: fake, Dir: "/lab/.cododemo", Provider: "virtualbox", Getenv: func(k string) string { return env[k] }}
	ctx := context.Background()
	if v, err := d.Version(ctx); err != nil || v.Raw != "2.3.4" {
		t.Fatalf("version %v %v", v, err)
	}
	if _, err := d.SSHConfig(ctx, "core-01"); !IsType(err, "SSHNotReady") {
		t.Fatalf("ssh-config: %v", err)
	}
	var re *exec.RunError
	if _, err := d.SSHConfig(ctx, "core-01"); !errors.As(err, &re) {
		t.Fatal("the RunError is not kept under the advice")
	}
	var halted strings.Builder
	if err := d.Halt(ctx, func(m string) io.Writer {
		if m == "core-02" {
			return &halted
		}
		return io.Discard
	}, "core-02"); err != nil || halted.String() != "Attempting graceful shutdown of VM...\n" {
		t.Fatalf("halt: %q %v", halted.String(), err)
	}
	_ = d.Destroy(ctx, nil, "core-01")
	_ = d.BoxAdd(ctx, BoxAddOptions{Source: "file:///c.json", Provider: "virtualbox", Version: "1.0.0"}, io.Discard)
	_ = d.BoxRemove(ctx, Box{Name: "flatcar-stable", Provider: "virtualbox", Version: "1.0.0"})
	_ = d.Validate(ctx)

	wantArgs := [][]string{
		{"--version"},
		{"ssh-config", "--machine-readable", "core-01"},
		{"ssh-config", "--machine-readable", "core-01"},
		{"halt", "--machine-readable", "core-02"},
		{"destroy", "--force", "--machine-readable", "core-01"},
		{"box", "add", "--machine-readable", "--box-version", "1.0.0", "--provider", "virtualbox", "file:///c.json"},
		{"box", "remove", "--machine-readable", "flatcar-stable", "--provider", "virtualbox", "--box-version", "1.0.0"},
		{"validate", "--ignore-provider", "--machine-readable"},
	}
	if len(fake.Calls) != len(wantArgs) {
		t.Fatalf("%d calls", len(fake.Calls))
	}
	for i, c := range fake.Calls {
		if !reflect.DeepEqual(c.Args, wantArgs[i]) {
			t.Errorf("call %d: %q, want %q", i, c.Args, wantArgs[i])
		}
		if c.Name != "vagrant" || c.Dir != "/lab/.cododemo" {
			t.Errorf("call %d: %s in %s", i, c.Name, c.Dir)
		}
		wantEnv := []string{"VAGRANT_CHECKPOINT_DISABLE=1", "VAGRANT_BOX_UPDATE_CHECK_DISABLE=1", "VAGRANT_HOME=/tmp/vh", "VAGRANT_DEFAULT_PROVIDER=virtualbox"}
		if !reflect.DeepEqual(c.Env, wantEnv) {
			t.Errorf("call %d env %q", i, c.Env)
		}
	}
}
