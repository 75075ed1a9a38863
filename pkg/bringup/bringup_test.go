package bringup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cododemo/cododemo/pkg/config"
	"github.com/cododemo/cododemo/pkg/exec"
	"github.com/cododemo/cododemo/pkg/inventory"
	"github.com/cododemo/cododemo/pkg/lab"
	"github.com/cododemo/cododemo/pkg/labstate"
	"github.com/cododemo/cododemo/pkg/vagrant"
)

func TestStepsInOrder(t *testing.T) {
	var names []string
	for _, s := range Steps() {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, " "); got != "preflight pin box render serve boot inventory verify" {
		t.Errorf("steps: %s", got)
	}
}

// Run stops at the first failing step and still stops what was started.
func TestRunStopsAtFirstFailure(t *testing.T) {
	var ran []string
	stopped := false
	step := func(name string, err error) Step {
		return Step{name, func(_ context.Context, s *State) error {
			ran = append(ran, name)
			if name == "serve" {
				s.stopServing = func() { stopped = true }
			}
			return err
		}}
	}
	boom := errors.New("boom")
	err := Run(context.Background(), &State{}, []Step{step("serve", nil), step("boot", boom), step("verify", nil)})
	if !errors.Is(err, boom) || strings.Join(ran, " ") != "serve boot" || !stopped {
		t.Errorf("err %v, ran %v, server stopped %v", err, ran, stopped)
	}
}

// The inventory step alone: a node that is not running keeps the endpoint
// the last inventory had, a node this run created loses its old host key
// pin, and a boot failure is reported once the inventory is written.
func TestInventoryStep(t *testing.T) {
	dir := t.TempDir()
	l, err := lab.Load(lab.Options{Source: config.Source{Dir: dir}, Secrets: lab.SecretsRead})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(l.State.Path, 0o755); err != nil {
		t.Fatal(err)
	}
	prev, err := inventory.FromPlan(l.Plan, map[string]inventory.Endpoint{
		"core-01": {Host: "127.0.0.1", Port: 2201, User: "core"},
		"core-02": {Host: "127.0.0.1", Port: 2202, User: "core"},
		"core-03": {Host: "127.0.0.1", Port: 2203, User: "core"},
	})
	if err != nil {
		t.Fatal(err)
	}
	invPath := l.State.Join(labstate.InventoryFile)
	if err := inventory.Write(invPath, prev); err != nil {
		t.Fatal(err)
	}
	khPath := l.State.Join(labstate.KnownHostsFile)
	pins := "[127.0.0.1]:2221 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOld\n[127.0.0.1]:2202 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKept\n"
	if err := os.WriteFile(khPath, []byte(pins), 0o600); err != nil {
		t.Fatal(err)
	}
	// Only core-01 runs, on a new port: it was created again by this run.
	fake := &exec.Fake{Handler: func(c exec.Cmd) (string, error) {
		return `1700000000,core-01,ssh-config,Host core-01\n  HostName 127.0.0.1\n  User core\n  Port 2221\n  IdentityFile /k\n` + "\n", nil
	}}
	bootErr := errors.New("core-02: boot timed out")
	stopped := false
	s := &State{Lab: l, Env: Env{ErrOut: &bytes.Buffer{}},
		driver: vagrant.New(fake, l.State.Path, "virtualbox", nil), fresh: map[string]bool{"core-01": true},
		bootErr: bootErr, stopServing: func() { stopped = true }}
	err = Inventory(context.Background(), s)
	if !errors.Is(err, bootErr) || !strings.Contains(err.Error(), "the nodes that came up are kept") {
		t.Errorf("want the boot failure reported, got %v", err)
	}
	if !stopped {
		t.Error("the first-boot server is still serving")
	}
	inv, err := inventory.Load(invPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]int{}
	for _, n := range inv.Nodes {
		ports[n.Name] = n.SSH.Port
	}
	if ports["core-01"] != 2221 || ports["core-02"] != 2202 || ports["core-03"] != 2203 {
		t.Errorf("ports %v: core-01 new, the others kept", ports)
	}
	kh, _ := os.ReadFile(khPath)
	if strings.Contains(string(kh), ":2221") || !strings.Contains(string(kh), ":2202") {
		t.Errorf("known_hosts after: %q (core-01's old pin dropped, core-02's kept)", kh)
	}
}
