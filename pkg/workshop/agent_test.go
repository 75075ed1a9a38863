package workshop

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cododemo/cododemo/pkg/health"
	"github.com/cododemo/cododemo/pkg/sshx"
	"github.com/cododemo/cododemo/pkg/testnodes"
)

// TestAgentStepLogsInOnward: an agent step on one stand-in runs a real
// OpenSSH ssh to another, the way fleetctl journal logs in to a unit's
// machine: strict host key checking against ~/.fleetctl/known_hosts, keys
// only from the forwarded agent. It works with the in-process agent
// (no agent runs on this machine) and the known_hosts the engine writes,
// and fails, naming the reason, without either.
func TestAgentStepLogsInOnward(t *testing.T) {
	c := testnodes.Start(t, testnodes.Options{Nodes: 2, EtcdMembers: 1})
	kh := sshx.NewKnownHosts(c.KnownHostsPath)
	base := sshx.Config{HostKeys: kh, Timeout: 5 * time.Second}
	agentBase := base
	agentBase.ForwardAgent = true
	conn, agentConn := &health.SSHConnector{Base: base}, &health.SSHConnector{Base: agentBase}
	t.Cleanup(func() { conn.Close(); agentConn.Close() })
	newEngine := func() *Engine {
		e := &Engine{Cluster: NewCluster(c.Inventory), Conn: conn, AgentConn: agentConn, HostKeys: kh,
			Opts: Options{Timeout: 15 * time.Second, Poll: 200 * time.Millisecond}}
		t.Cleanup(e.Close)
		return e
	}
	n2 := c.Nodes[1]
	// -F /dev/null: no ssh_config of this machine's user; only the
	// fleetctl file is trusted; BatchMode: no prompt.
	onward := fmt.Sprintf(`ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$HOME/.fleetctl/known_hosts" `+
		`-o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=5 -p %d %s@%s 'echo "on $CODODEMO_ROOT"'`, n2.SSHPort, c.User, n2.Addr)
	step := func(agent bool, prefix string) *StepResult {
		t.Helper()
		doc := fmt.Sprintf("id: a\nsource: new\nsteps:\n  - name: onward\n    on: node 1\n    agent: %v\n    run: |-\n      %s\n    expect: {contains: %s}\n",
			agent, prefix+onward, "'on "+n2.Root+"'")
		ex, err := Parse("a.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		s := stepByName(newEngine().Run(context.Background(), ex), PhaseStep, "onward")
		t.Logf("agent %v: %s: %s", agent, s.Status, s.Message)
		return s
	}
	// Neither the agent nor the known_hosts (no agent step ran yet): the
	// host key check fails first.
	if s := step(false, ""); s.Status != health.Fail || !strings.Contains(s.Message, "Host key verification failed") {
		t.Errorf("no agent, no known_hosts: %+v", s)
	}
	if s := step(true, ""); s.Status != health.Pass || s.Node != "core-01" {
		t.Fatalf("agent step: %+v", s)
	}
	// The known_hosts is there now; without the agent the login is refused.
	if s := step(false, ""); s.Status != health.Fail || !strings.Contains(s.Message, "Permission denied (publickey)") {
		t.Errorf("no agent: %+v", s)
	}
	// The agent without the known_hosts: refused again.
	if s := step(true, `rm -f "$HOME/.fleetctl/known_hosts"; `); s.Status != health.Fail || !strings.Contains(s.Message, "Host key verification failed") {
		t.Errorf("no known_hosts: %+v", s)
	}
	// The engine writes it again on the next run's first agent step.
	if s := step(true, ""); s.Status != health.Pass {
		t.Errorf("agent step again: %+v", s)
	}
	// Two agent steps (or two tries) on one node share its connection:
	// sshd forwards the agent once per connection, and both have it.
	two, err := Parse("c.yaml", []byte(fmt.Sprintf("id: c\nsource: new\nsteps:\n  - {name: one, on: node 1, agent: true, run: ssh-add -l}\n"+
		"  - name: two\n    on: node 1\n    agent: true\n    run: |-\n      %s\n    expect: {contains: 'on %s'}\n", onward, n2.Root)))
	if err != nil {
		t.Fatal(err)
	}
	if res := newEngine().Run(context.Background(), two); res.Status != health.Pass {
		t.Errorf("two agent steps on one connection: %+v", res.Steps)
	}

	// A run with no agent to forward, or no pinned keys, says so.
	ex, err := Parse("b.yaml", []byte("id: b\nsource: new\nsteps:\n  - {name: onward, on: node 1, agent: true, run: hostname}\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine()
	e.AgentConn = nil
	if s := stepByName(e.Run(context.Background(), ex), PhaseStep, "onward"); s.Status != health.Fail ||
		!strings.Contains(s.Message, "needs an SSH agent forwarded to the node, and this run has none") {
		t.Errorf("no agent connector: %+v", s)
	}
	e = newEngine()
	e.HostKeys = nil
	if s := stepByName(e.Run(context.Background(), ex), PhaseStep, "onward"); s.Status != health.Fail ||
		!strings.Contains(s.Message, "host keys are not checked in this run") {
		t.Errorf("no host keys: %+v", s)
	}
}

// TestHandoutSaysSSHA: the handout of E14 tells attendees to log in with
// cododemo ssh -A for the step from another node.
func TestHandoutSaysSSHA(t *testing.T) {
	var b strings.Builder
	if err := NewCluster(fakeInventory()).WriteHandout(&b, builtIn(t, "unit-journal"), true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## 4. journal from another node\n\nOn <a node not running web@8081.service> (`fleetctl list-units` shows which):",
		"Log in with `cododemo ssh -A <a node not running web@8081.service>`: it forwards an agent holding the lab's key",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("handout lacks %q:\n%s", want, b.String())
		}
	}
}
